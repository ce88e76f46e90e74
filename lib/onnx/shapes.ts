/**
 * Shape and type inference over a Model, with symbolic dims: a symbol such as "N" (batch) stays a string,
 * products become expressions ("N*76"), and what cannot be expressed becomes a fresh symbol
 * ("<node>:<output>:<axis>"). With concrete input shapes every value becomes concrete. Results go into
 * graph.valueInfo (every node output, subgraphs included) and graph.outputs; mismatches throw
 * EdgeInferError('EDGEINFER_SHAPE_MISMATCH') naming node, op and shapes. Each op's rule comes from its declaration in
 * the op registry (lib/onnx/ops), most of them written in lib/onnx/shape-ops-*.ts.
 */
import { EdgeInferError } from '../errors';
import { Dim, Graph, Model, Node, TensorData, ValueInfo } from './ir';
import { formatShape } from './dims';
import { OpContext, ShapeRule, TypeShape } from './shape-context';
import { allOps, findOp } from './ops';
import { isFloatType, toNumbers } from './tensor';

/** Ops with a shape rule, as checkSupported keys ("OpType" for the ONNX domain, "edgeinfer:OpType"). */
export const knownShapeOps: ReadonlySet<string> = new Set(allOps().map((op) => (op.domain === '' ? op.op : `${op.domain}:${op.op}`)));

function ruleFor(node: Node, opset: number): ShapeRule | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx' && node.domain !== 'edgeinfer') return undefined;
  return findOp(node, opset)?.shape;
}

/** Largest (rank <= 1) tensor whose element values are tracked for shape computations. */
const maxTrackedValues = 64;

/** What is known in one graph scope; lookups fall through to the enclosing scope. */
class Scope {
  readonly types = new Map<string, TypeShape>();
  readonly constants = new Map<string, TensorData>();
  readonly values = new Map<string, Dim[]>();
  constructor(readonly parent?: Scope) {}
  type(name: string): TypeShape | undefined {
    return this.types.get(name) ?? this.parent?.type(name);
  }
  constant(name: string): TensorData | undefined {
    return this.constants.get(name) ?? this.parent?.constant(name);
  }
  value(name: string): Dim[] | undefined {
    return this.values.get(name) ?? this.parent?.value(name);
  }
  addConstant(name: string, tensor: TensorData): void {
    this.constants.set(name, tensor);
    this.types.set(name, { dtype: tensor.dtype, shape: [...tensor.dims] });
    // Float values too: exported shape arithmetic often goes through float (int(h / patch) as Cast(Div(Cast)))
    if (tensor.dtype !== 'string' && tensor.dims.length <= 1 && tensor.data.length <= maxTrackedValues) this.values.set(name, toNumbers(tensor));
  }
}

export interface InferOptions {
  /** Symbol values to substitute everywhere (e.g. { N: 1 }); also derived from inputShapes. */
  symbols?: Record<string, number>;
}

/**
 * Infers the type and shape of every value. `inputShapes` (by graph input name) replaces the declared
 * input shapes (rank and concrete dims must agree with the declaration; symbols get bound) and is written
 * into graph.inputs.
 */
export function inferShapes(model: Model, inputShapes: Record<string, number[]> = {}, options: InferOptions = {}): void {
  const graph = model.graph;
  const symbols = new Map<string, number>(Object.entries(options.symbols ?? {}));
  for (const [name, shape] of Object.entries(inputShapes)) {
    const input = graph.inputs.find((i) => i.name === name);
    if (input === undefined) {
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `inputShapes names '${name}', which is not a graph input`, { argument: 'inputShapes', input: name });
    }
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `inputShapes['${name}'] must be an array of non-negative integers`, { argument: 'inputShapes', input: name });
    }
    const declared = input.shape;
    if (declared !== undefined) {
      const bad = declared.length !== shape.length || declared.some((d, a) => (typeof d === 'number' ? d !== shape[a] : symbols.has(d) && symbols.get(d) !== shape[a]));
      if (bad) {
        throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `input '${name}' is declared ${formatShape(declared)}, got ${formatShape(shape)}`, {
          input: name,
          expected: declared,
          got: shape,
        });
      }
      declared.forEach((d, a) => typeof d === 'string' && symbols.set(d, shape[a]));
    }
  }
  const substitute = (shape: Dim[] | undefined): Dim[] | undefined => shape?.map((d) => (typeof d === 'string' && symbols.has(d) ? symbols.get(d)! : d));
  for (const input of graph.inputs) {
    if (inputShapes[input.name]) input.shape = [...inputShapes[input.name]];
    else input.shape = substitute(input.shape);
  }
  const opset = model.opsets.get('') ?? 1;
  inferGraph(graph, new Scope(), opset, substitute);
}

function inferGraph(graph: Graph, scope: Scope, opset: number, substitute: (s: Dim[] | undefined) => Dim[] | undefined): TypeShape[] {
  for (const input of graph.inputs) scope.types.set(input.name, { dtype: input.dtype, shape: input.shape ? [...input.shape] : undefined });
  for (const [name, tensor] of graph.initializers) scope.addConstant(name, tensor);
  const declared = new Map<string, ValueInfo>(graph.valueInfo);
  for (const output of graph.outputs) declared.set(output.name, output);

  for (const node of graph.nodes) {
    const rule = ruleFor(node, opset);
    let result: { outputs: TypeShape[]; values?: (Dim[] | undefined)[] };
    if (rule === undefined) {
      result = { outputs: node.outputs.map(() => ({})) };
    } else {
      try {
        result = rule(makeContext(node, scope, opset, substitute));
      } catch (error) {
        if (error instanceof EdgeInferError) throw error;
        throw new EdgeInferError('EDGEINFER_INTERNAL', `shape inference failed at node '${node.name}' (${node.opType}): ${(error as Error).message}`, {
          node: node.name,
          op: node.opType,
        });
      }
    }
    if (node.opType === 'Constant' && node.domain === '' && node.attributes.value?.type === 'tensor') scope.addConstant(node.outputs[0], node.attributes.value.value);
    node.outputs.forEach((name, i) => {
      if (name === '') return;
      const inferred = result.outputs[i] ?? {};
      const fallback = declared.get(name);
      const type: TypeShape = {
        dtype: inferred.dtype ?? fallback?.dtype,
        shape: inferred.shape ?? substitute(fallback?.shape),
      };
      const fallbackShape = substitute(fallback?.shape);
      if (inferred.shape && fallbackShape && graph.outputs.some((o) => o.name === name)) checkDeclared(node, name, inferred.shape, fallbackShape);
      if (!scope.constants.has(name)) scope.types.set(name, type);
      const value = result.values?.[i];
      if (value !== undefined && value.length <= maxTrackedValues && !scope.values.has(name)) scope.values.set(name, value);
      graph.valueInfo.set(name, { name, ...(type.dtype ? { dtype: type.dtype } : {}), ...(type.shape ? { shape: type.shape } : {}) });
    });
  }
  return graph.outputs.map((output) => {
    const type = scope.type(output.name) ?? {};
    if (type.dtype) output.dtype = type.dtype;
    if (type.shape) output.shape = [...type.shape];
    return { dtype: output.dtype, shape: output.shape };
  });
}

function checkDeclared(node: Node, name: string, inferred: Dim[], declared: Dim[]): void {
  const bad = inferred.length !== declared.length || inferred.some((d, a) => typeof d === 'number' && typeof declared[a] === 'number' && d !== declared[a]);
  if (bad) {
    throw new EdgeInferError(
      'EDGEINFER_SHAPE_MISMATCH',
      `node '${node.name}' (${node.opType}): graph output '${name}' is declared ${formatShape(declared)} but computes ${formatShape(inferred)}`,
      { node: node.name, op: node.opType, value: name, expected: declared, got: inferred },
    );
  }
}

function makeContext(node: Node, scope: Scope, opset: number, substitute: (s: Dim[] | undefined) => Dim[] | undefined): OpContext {
  const name = (i: number) => node.inputs[i] ?? '';
  return {
    node,
    opset,
    input: (i) => (name(i) === '' ? {} : (scope.type(name(i)) ?? {})),
    has: (i) => name(i) !== '',
    tensor: (i) => (name(i) === '' ? undefined : scope.constant(name(i))),
    value: (i) => (name(i) === '' ? undefined : scope.value(name(i))),
    fresh: (output, axis) => `${node.name}:${output}:${axis}`,
    subgraph: (graph) => inferGraph(graph, new Scope(scope), opset, substitute),
  };
}
