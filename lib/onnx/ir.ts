/**
 * The in-memory model edgeinfer works on: a plain, mutable mirror of ONNX's ModelProto that the reader
 * fills, the passes rewrite, the lowering turns into a native plan and the writer turns back into bytes.
 */

export type DataType =
  | 'float32'
  | 'float16'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool'
  | 'string';

/** ONNX TensorProto.DataType codes, shared with the native plan (edgeinfer::DType). */
export const onnxDataTypeCodes: Record<DataType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A constant tensor. int64/uint64 use BigInt arrays, bool uses Uint8Array (0/1), float16 uses Uint16Array
 * (raw bits). `data.length` equals the product of `dims` (1 for a scalar, dims = []).
 */
export interface TensorData {
  dtype: DataType;
  dims: number[];
  data: TensorArray;
  /** For string tensors only. */
  strings?: string[];
  /**
   * Where the reader found the bytes when the file kept them outside the model (data_location EXTERNAL):
   * the resolved absolute path, byte offset and length. `data` holds them all the same. `mapped`: `data` is a
   * view on a read-only memory map of the file (large tensors, see reader.ts), which must not be written.
   * Informational: the writer always writes data inline.
   */
  external?: { path: string; offset: number; length: number; mapped: boolean };
}

/** A dimension: a number, or a symbol such as "batch" for a size known only at run time. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype?: DataType;
  /** undefined: rank unknown. */
  shape?: Dim[];
}

export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: TensorData }
  | { type: 'graph'; value: Graph }
  | { type: 'graphs'; value: Graph[] }
  | { type: 'tensors'; value: TensorData[] };

export interface Node {
  /** Unique within the graph (the reader names unnamed nodes "<opType>_<index>"). */
  name: string;
  opType: string;
  /** '' for the default ONNX domain. */
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

export interface Graph {
  name: string;
  /** In topological order once validated. */
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, TensorData>;
  /** Everything known about intermediate values (from the file's value_info and shape inference). */
  valueInfo: Map<string, ValueInfo>;
}

export interface Model {
  irVersion: number;
  /** domain ('' for ai.onnx) -> opset version. */
  opsets: Map<string, number>;
  producerName: string;
  producerVersion: string;
  graph: Graph;
  metadata: Record<string, string>;
}
