/**
 * `edgeinfer run <model> [name=]file...`: one inference on inputs read from .npy / .json / .wav files, then
 * `--repeat` timed runs; prints each output (dims and leading values, or a .npy with --save) and the latency.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import { Engine, type EngineOptions } from '../engine';
import { EdgeInferError } from '../errors';
import { writeNpy } from '../io/npy';
import type { Tensor } from '../tensor';
import { readFeeds } from './feeds';
import { readModelFile } from './info';
import { table } from './output';

interface RunCliOptions {
  backend: string;
  threads?: string;
  repeat: string;
  save?: string;
  json?: boolean;
}

function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${flag} must be a non-negative integer, got '${value}'`);
  return n;
}

function leading(tensor: Tensor, count = 6): string {
  const values = Array.from((tensor.data as ArrayLike<number | bigint | boolean>) as ArrayLike<unknown>).slice(0, count);
  const text = values.map((v) => (typeof v === 'number' ? Number(v.toPrecision(5)) : String(v))).join(', ');
  const total = tensor.dims.reduce((a, b) => a * b, 1);
  return `[${text}${total > count ? ', …' : ''}]`;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a model on inputs from .npy / .json / .wav files; print outputs and latency')
    .argument('<model>', 'ONNX model file')
    .argument('[inputs...]', 'name=file (.npy, .json, .wav); a bare file for a one-input model')
    .option('--backend <backend>', 'auto, native or onnxruntime', 'auto')
    .option('--threads <n>', 'intra-op threads (default: physical cores)')
    .option('--repeat <n>', 'timed runs after the first', '10')
    .option('--save <dir>', 'write each output to <dir>/<name>.npy')
    .option('--json', 'print one JSON object')
    .action(async (file: string, inputArgs: string[], options: RunCliOptions) => {
      if (!['auto', 'native', 'onnxruntime'].includes(options.backend)) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `--backend must be auto, native or onnxruntime, got '${options.backend}'`);
      const repeat = positiveInteger(options.repeat, '--repeat', 10);
      const threads = options.threads === undefined ? undefined : positiveInteger(options.threads, '--threads', 1);
      const engine = await Engine.load(readModelFile(file), { backend: options.backend as EngineOptions['backend'], ...(threads ? { threads } : {}) });
      try {
        const info = engine.info();
        const feeds = readFeeds(inputArgs, info.inputs);
        const outputs = await engine.infer(feeds);
        const times: number[] = [];
        for (let i = 0; i < repeat; i++) {
          const start = process.hrtime.bigint();
          await engine.infer(feeds);
          times.push(Number(process.hrtime.bigint() - start) / 1e3);
        }
        times.sort((a, b) => a - b);
        const at = (q: number) => (times.length === 0 ? NaN : times[Math.min(times.length - 1, Math.floor(q * times.length))]);
        const latency = { runs: times.length, p50Microseconds: at(0.5), p99Microseconds: at(0.99) };
        if (options.save) {
          fs.mkdirSync(options.save, { recursive: true });
          for (const [name, tensor] of Object.entries(outputs)) fs.writeFileSync(path.join(options.save, `${name.replace(/[^\w.-]/g, '_')}.npy`), writeNpy(tensor));
        }
        if (options.json) {
          const out = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, { type: t.type, dims: t.dims, data: Array.from(t.data as ArrayLike<number>, (v) => (typeof v === 'bigint' ? Number(v) : v)) }]));
          process.stdout.write(`${JSON.stringify({ backend: info.backend, backendReason: info.backendReason, outputs: out, latency })}\n`);
          return;
        }
        process.stdout.write([
          `${file} on ${info.backend} (${info.backendReason})`,
          table(['output', 'type', 'dims', 'values'], Object.entries(outputs).map(([name, t]) => [name, t.type, `[${t.dims.join(', ')}]`, leading(t)])),
          times.length > 0 ? `latency over ${times.length} runs: p50 ${latency.p50Microseconds.toFixed(1)} us, p99 ${latency.p99Microseconds.toFixed(1)} us` : '',
        ].filter(Boolean).join('\n') + '\n');
      } finally {
        engine.dispose();
      }
    });
}
