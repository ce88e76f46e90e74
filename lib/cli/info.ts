/** `edgeinfer info <model>`: inputs, outputs, op histogram, size, quantization, and the backend 'auto' picks. */
import fs from 'node:fs';

import type { Command } from 'commander';

import { Engine } from '../engine';
import { EdgeInferError } from '../errors';
import { readModel } from '../onnx/reader';
import { summarizeModel } from './model-summary';
import { formatBytes, table } from './output';

export function readModelFile(file: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (error) {
    throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { file });
  }
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('inputs, outputs, op histogram, size, quantization and the backend that would run a model')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print one JSON object')
    .option('--no-load', 'do not load the model to report the backend')
    .action(async (file: string, options: { json?: boolean; load: boolean }) => {
      const bytes = readModelFile(file);
      const summary = summarizeModel(file, bytes, readModel(bytes));
      let backend: { backend: string; reason: string } | undefined;
      if (options.load) {
        const engine = await Engine.load(bytes, { threads: 1 });
        const info = engine.info();
        backend = { backend: info.backend, reason: info.backendReason };
        engine.dispose();
      }
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, backend })}\n`);
        return;
      }
      const dims = (d: (number | string)[]) => `[${d.join(', ')}]`;
      const w = summary.weights;
      const lines = [
        `${summary.file}: ${formatBytes(summary.bytes)}, sha256 ${summary.sha256.slice(0, 16)}…, ${summary.nodes} nodes`,
        `producer ${summary.producer || '?'}, IR ${summary.irVersion}, opsets ${Object.entries(summary.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}`,
        '',
        table(['', 'name', 'type', 'dims'], [
          ...summary.inputs.map((i) => ['input', i.name, i.type, dims(i.dims)]),
          ...summary.outputs.map((o) => ['output', o.name, o.type, dims(o.dims)]),
        ]),
        '',
        `ops: ${Object.entries(summary.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`,
        `weights: float32 ${formatBytes(w.float32Bytes)}, float16 ${formatBytes(w.float16Bytes)}, int8 ${formatBytes(w.int8Bytes)}, other ${formatBytes(w.otherBytes)}`,
        `quantization: ${summary.quantization.formats.join(', ')}${summary.quantization.formats.includes('QDQ') ? ` (${summary.quantization.quantizeLinear} QuantizeLinear, ${summary.quantization.dequantizeLinear} DequantizeLinear)` : ''}`,
      ];
      if (backend) lines.push(`backend (auto): ${backend.backend}: ${backend.reason}`);
      if (Object.keys(summary.metadata).length > 0) lines.push(`metadata: ${JSON.stringify(summary.metadata)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
