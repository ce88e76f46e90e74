/**
 * A classifier over [1, F, 96] embeddings as the wake-word pipeline's command model (lib/wakeword/command-stage.ts
 * contract, openWakeWord's multi-class convention): class probabilities (a Softmax at the end, added when the
 * model ends in logits), index 0 "no command", and the output named after the other classes as JSON
 * ({"1": "lights_on", ...}), which is how CommandStage learns the intents without being told.
 */
import { EdgeInferError } from '../errors';
import { readModel } from '../onnx/reader';
import { writeModel } from '../onnx/writer';

/** The output name CommandStage parses: {"1": labels[1], ...}; index 0 (none) left out. */
export function commandOutputName(labels: readonly string[]): string {
  if (labels[0] !== 'none') throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `labels[0] must be 'none', got ${JSON.stringify(labels[0])}`);
  return JSON.stringify(Object.fromEntries(labels.slice(1).map((label, i) => [String(i + 1), label])));
}

/** Rewrites a command classifier (ONNX bytes) to the command-stage contract; returns the new bytes. */
export function toCommandStageModel(bytes: Uint8Array, labels: readonly string[]): Uint8Array {
  const model = readModel(bytes);
  const graph = model.graph;
  const inputs = graph.inputs.filter((i) => !graph.initializers.has(i.name));
  if (inputs.length !== 1) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `a command model has one input ([1, frames, 96] embeddings); this one has ${inputs.length}`);
  const dims = inputs[0].shape ?? [];
  if (dims.length !== 3 || dims[2] !== 96 || typeof dims[1] !== 'number') {
    throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `a command model's input is [1, frames, 96] with a fixed frames; got [${dims.join(', ')}]`);
  }
  const output = graph.outputs[0];
  const classes = output.shape?.at(-1);
  if (typeof classes === 'number' && classes !== labels.length) {
    throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `the model scores ${classes} classes, the labels name ${labels.length}`);
  }
  const name = commandOutputName(labels);
  const producer = graph.nodes.find((n) => n.outputs.includes(output.name));
  if (producer === undefined) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `no node produces the output '${output.name}'`);
  if (producer.opType === 'Softmax') {
    for (const node of graph.nodes) {
      node.outputs = node.outputs.map((o) => (o === output.name ? name : o));
      node.inputs = node.inputs.map((i) => (i === output.name ? name : i));
    }
    const info = graph.valueInfo.get(output.name);
    if (info) {
      graph.valueInfo.delete(output.name);
      graph.valueInfo.set(name, { ...info, name });
    }
  } else {
    graph.nodes.push({ name: 'command_probabilities', opType: 'Softmax', domain: '', inputs: [output.name], outputs: [name], attributes: { axis: { type: 'int', value: -1 } } });
  }
  graph.outputs[0] = { ...output, name };
  model.metadata = { ...model.metadata, 'edgeinfer.labels': JSON.stringify(labels), 'edgeinfer.contract': 'command-stage: [1, frames, 96] embeddings -> class probabilities, index 0 none' };
  return writeModel(model);
}
