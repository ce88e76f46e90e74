/**
 * openWakeWord's embedding model over a span of consecutive windows in one run.
 *
 * The streaming pipeline embeds a window of 76 mel frames every 8 frames, so consecutive windows share 68 of
 * their 76 frames. The model is convolutional along time with no time padding (its convolutions pad the 32 mel
 * bins only) and three 2x max pools in time, a total time stride of 8: run over 76 + 8 (K - 1) frames, its k-th
 * output along time is exactly the embedding of the window starting at frame 8 k. One run over the span does the
 * work of K windows with ~8x fewer multiply-adds for large K. Used where every embedding of a clip is known in
 * advance (making training features); the live pipeline embeds one window per chunk as it arrives.
 *
 * The rewrite changes only the two Reshapes at the ends: the input reshape [-1, 1, 76, 32] becomes
 * [1, 1, 76 + 8 (K - 1), 32], and the output reshape [-1, 1, 1, 96] of the final [N, 96, 1, 1] becomes a Transpose
 * of [1, 96, K, 1] to [1, K, 1, 96] (K embeddings, contiguous). A model without that shape is refused, and the
 * caller checks the span against the plain model on real frames before trusting it (spanEmbeddingMismatch).
 */
import fs from 'node:fs';

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import type { Model, Node, TensorData } from '../onnx/ir';
import { readModel } from '../onnx/reader';
import { writeModel } from '../onnx/writer';

export const embeddingWindowFrames = 76;
export const embeddingHopFrames = 8;
export const embeddingMelBins = 32;
export const embeddingValues = 96;

/** Mel frames a span of `windows` consecutive embedding windows covers. */
export function spanFrames(windows: number): number {
  return embeddingWindowFrames + embeddingHopFrames * (windows - 1);
}

function int64Values(tensor: TensorData | undefined): number[] | undefined {
  if (tensor === undefined || tensor.dtype !== 'int64') return undefined;
  return Array.from(tensor.data as BigInt64Array, Number);
}

function unsupported(reason: string): EdgeInferError {
  return new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `span embedding: not openWakeWord's embedding model layout (${reason})`, { argument: 'model', reason });
}

/**
 * Rewrites, in place, openWakeWord's embedding model (input [N, 76, 32, 1], first node Reshape to [-1, 1, 76, 32],
 * last node Reshape to [-1, 1, 1, 96]) to embed `windows` consecutive windows: input [1, spanFrames(windows), 32, 1],
 * output [1, windows, 1, 96].
 */
export function toSpanEmbeddingModel(model: Model, windows: number): Model {
  if (!Number.isInteger(windows) || windows < 1 || windows > 4096) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `windows must be an integer in [1, 4096], got ${String(windows)}`, { argument: 'windows' });
  }
  const graph = model.graph;
  if (graph.inputs.length !== 1 || graph.outputs.length !== 1 || graph.nodes.length < 3) throw unsupported('one input, one output expected');
  const first = graph.nodes[0];
  const last = graph.nodes[graph.nodes.length - 1];
  const input = graph.inputs[0];
  const output = graph.outputs[0];
  const inShape = int64Values(graph.initializers.get(first.inputs[1]));
  const outShape = int64Values(graph.initializers.get(last.inputs[1]));
  const same = (a: number[] | undefined, b: number[]) => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
  if (first.opType !== 'Reshape' || first.inputs[0] !== input.name || !same(inShape, [-1, 1, embeddingWindowFrames, embeddingMelBins])) throw unsupported('input Reshape');
  if (last.opType !== 'Reshape' || last.outputs[0] !== output.name || !same(outShape, [-1, 1, 1, embeddingValues])) throw unsupported('output Reshape');
  if (graph.nodes.some((n, i) => i > 0 && n.inputs.includes(input.name))) throw unsupported('input read twice');

  const frames = spanFrames(windows);
  const replaced = [first.inputs[1], last.inputs[1]];
  const spanShape: TensorData = { dtype: 'int64', dims: [4], data: BigInt64Array.from([1n, 1n, BigInt(frames), BigInt(embeddingMelBins)]) };
  const spanShapeName = `${first.inputs[1]}__span`;
  graph.initializers.set(spanShapeName, spanShape);
  first.inputs = [first.inputs[0], spanShapeName];
  const transpose: Node = { name: `${last.name}__span`, opType: 'Transpose', domain: '', inputs: [last.inputs[0]], outputs: [output.name], attributes: { perm: { type: 'ints', value: [0, 2, 3, 1] } } };
  graph.nodes[graph.nodes.length - 1] = transpose;
  for (const name of replaced) if (!graph.nodes.some((n) => n.inputs.includes(name))) graph.initializers.delete(name);
  input.shape = [1, frames, embeddingMelBins, 1];
  output.shape = [1, windows, 1, embeddingValues];
  graph.valueInfo.clear(); // the file's intermediate shapes were for one window: shape inference redoes them
  return model;
}

/** A span embedding Engine and the number of windows it embeds per run. */
export interface EmbeddingSpan {
  engine: Engine;
  windows: number;
}

/** Deterministic mel-like frames (values around the pipeline's x / 10 + 2 range) for the load-time check. */
function probeFrames(frames: number): Float32Array {
  const out = new Float32Array(frames * embeddingMelBins);
  let state = 0x2545f491;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = 1 + Math.sin(i * 0.37) + (state / 2 ** 32) * 0.8;
  }
  return out;
}

/**
 * Largest difference between the span Engine's embeddings and the plain Engine's, window by window, on probe
 * frames, relative to the largest embedding value: 0 when the kernels sum in the same order (as on x64).
 */
export async function spanEmbeddingMismatch(span: EmbeddingSpan, plain: Engine): Promise<number> {
  const frames = probeFrames(spanFrames(span.windows));
  const spanOut = (await span.engine.infer({ [span.engine.inputs[0].name]: { type: 'float32', data: frames, dims: [1, spanFrames(span.windows), embeddingMelBins, 1] } }))[span.engine.outputs[0].name].data as Float32Array;
  let diff = 0;
  let scale = 0;
  for (let k = 0; k < span.windows; k++) {
    const window = frames.subarray(k * embeddingHopFrames * embeddingMelBins, (k * embeddingHopFrames + embeddingWindowFrames) * embeddingMelBins);
    const one = (await plain.infer({ [plain.inputs[0].name]: { type: 'float32', data: window, dims: [1, embeddingWindowFrames, embeddingMelBins, 1] } }))[plain.outputs[0].name].data as Float32Array;
    for (let i = 0; i < embeddingValues; i++) {
      diff = Math.max(diff, Math.abs(one[i] - spanOut[k * embeddingValues + i]));
      scale = Math.max(scale, Math.abs(one[i]));
    }
  }
  return diff / Math.max(scale, 1e-30);
}

/**
 * Loads the span form of the embedding model at `file` beside its plain Engine `plain` and checks the two agree
 * (relative difference <= `tolerance`, default 1e-5). Undefined when the model is not openWakeWord's layout or
 * the check fails: the caller then embeds window by window, as before.
 */
export async function loadEmbeddingSpan(file: string, plain: Engine, options: { windows?: number; threads?: number; tolerance?: number } = {}): Promise<EmbeddingSpan | undefined> {
  const windows = options.windows ?? 16;
  let model: Model;
  try {
    model = toSpanEmbeddingModel(readModel(new Uint8Array(fs.readFileSync(file))), windows);
  } catch (error) {
    // Another layout: no span form. A bad `windows` (argument 'windows') is the caller's error and is thrown.
    if (error instanceof EdgeInferError && error.detail?.argument === 'model') return undefined;
    throw error;
  }
  const engine = await Engine.load(writeModel(model), { backend: 'native', threads: options.threads ?? 1 });
  const span = { engine, windows };
  try {
    if ((await spanEmbeddingMismatch(span, plain)) <= (options.tolerance ?? 1e-5)) return span;
  } catch (error) {
    await engine.dispose();
    throw error;
  }
  await engine.dispose();
  return undefined;
}
