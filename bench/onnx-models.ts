/**
 * Tiny ONNX models built in memory (onnx-proto) for the ONNX Runtime baselines of the benchmarks:
 *   - MatMulInteger: uint8 A [M, K] (M dynamic) x constant int8 B [K, N], constant zero points -> int32 [M, N]
 *   - LayerNormalization (last axis, gamma/beta initializers) -> Gelu (approximate 'none'), opset 20.
 */
import { onnx } from 'onnx-proto';

const { DataType } = onnx.TensorProto;
type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(name: string, dataType: number, dims: number[], data: Uint8Array | Int8Array | Float32Array): onnx.ITensorProto {
  return { name, dataType, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function model(graph: onnx.IGraphProto, opset: number): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 9,
    producerName: 'edgeinfer-bench',
    opsetImport: [{ domain: '', version: opset }],
    graph,
  }).finish();
}

export interface MatMulIntegerModelOptions {
  k: number;
  n: number;
  /** int8 weights, row-major [K, N] (ONNX MatMul B layout). */
  weights: Int8Array;
  /** Zero point of A (constant uint8 initializer). */
  aZeroPoint: number;
  /** Fixed M, or omitted for a dynamic first dimension. */
  m?: number;
}

/** Inputs: "A" uint8 [M, K]. Output: "Y" int32 [M, N]. Node name "matmul_integer". */
export function matMulIntegerModel(o: MatMulIntegerModelOptions): Uint8Array {
  if (o.weights.length !== o.k * o.n) throw new Error(`weights has ${o.weights.length} values, expected ${o.k * o.n}`);
  const m: Dim = o.m ?? 'M';
  return model(
    {
      name: 'matmul_integer_u8s8',
      node: [{ name: 'matmul_integer', opType: 'MatMulInteger', input: ['A', 'B', 'a_zero_point', 'b_zero_point'], output: ['Y'] }],
      initializer: [
        tensor('B', DataType.INT8, [o.k, o.n], o.weights),
        tensor('a_zero_point', DataType.UINT8, [], Uint8Array.of(o.aZeroPoint)),
        tensor('b_zero_point', DataType.INT8, [], Int8Array.of(0)),
      ],
      input: [valueInfo('A', DataType.UINT8, [m, o.k])],
      output: [valueInfo('Y', DataType.INT32, [m, o.n])],
    },
    13,
  );
}

export interface LayerNormGeluModelOptions {
  width: number;
  gamma: Float32Array;
  beta: Float32Array;
  epsilon: number;
  /** Fixed row count, or omitted for a dynamic first dimension. */
  rows?: number;
}

/** Inputs: "X" float [rows, width]. Output: "Y" float [rows, width]. Nodes "layer_norm" then "gelu". */
export function layerNormGeluModel(o: LayerNormGeluModelOptions): Uint8Array {
  const rows: Dim = o.rows ?? 'rows';
  return model(
    {
      name: 'layernorm_gelu',
      node: [
        {
          name: 'layer_norm',
          opType: 'LayerNormalization',
          input: ['X', 'gamma', 'beta'],
          output: ['H'],
          attribute: [
            { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 },
            { name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: o.epsilon },
          ],
        },
        {
          name: 'gelu',
          opType: 'Gelu',
          input: ['H'],
          output: ['Y'],
          attribute: [{ name: 'approximate', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode('none') }],
        },
      ],
      initializer: [tensor('gamma', DataType.FLOAT, [o.width], o.gamma), tensor('beta', DataType.FLOAT, [o.width], o.beta)],
      input: [valueInfo('X', DataType.FLOAT, [rows, o.width])],
      output: [valueInfo('Y', DataType.FLOAT, [rows, o.width])],
    },
    20,
  );
}
