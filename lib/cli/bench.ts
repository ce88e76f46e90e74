/**
 * `edgeinfer bench <model> [name=]file...`: our Engine against onnxruntime-node on the same file and feeds, in
 * the same process, interleaved (blocks of calls alternate so a noisy neighbour hits both sides alike), single
 * thread by default; medians, p99 and the ratio, as a table or one JSON line per side. Without
 * onnxruntime-node installed, ours alone. Feeds from files as `run` reads them, or generated (symbolic dims 1,
 * floats in [-1, 1), integers 0).
 */
import type { Command } from 'commander';

import { Engine, type EngineOptions } from '../engine';
import { EdgeInferError } from '../errors';
import { allocateTensorData, type Tensor, type TensorInfo } from '../tensor';
import { readFeeds } from './feeds';
import { readModelFile } from './info';
import { table } from './output';

interface BenchCliOptions {
  backend: string;
  precision: string;
  threads: string;
  seconds: string;
  json?: boolean;
}

interface Side {
  name: string;
  call: () => Promise<unknown>;
  us: number[];
}

function generatedFeeds(inputs: readonly TensorInfo[]): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const input of inputs) {
    const dims = input.dims.map((d) => (typeof d === 'number' ? d : 1));
    const data = allocateTensorData(input.type, dims.reduce((a, b) => a * b, 1));
    if (data instanceof Float32Array || data instanceof Float64Array) for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) % 1;
    feeds[input.name] = { type: input.type, dims, data };
  }
  return feeds;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Alternating blocks of ~50 ms per side until each side has had `seconds` (after a warm-up of 3 calls). */
async function interleave(sides: Side[], seconds: number): Promise<void> {
  for (const side of sides) for (let i = 0; i < 3; i++) await side.call();
  const spent = sides.map(() => 0);
  while (spent.some((s) => s < seconds * 1e6)) {
    for (const [i, side] of sides.entries()) {
      const blockEnd = spent[i] + 50e3;
      while (spent[i] < blockEnd) {
        const start = process.hrtime.bigint();
        await side.call();
        const us = Number(process.hrtime.bigint() - start) / 1e3;
        side.us.push(us);
        spent[i] += us;
      }
    }
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('our engine vs onnxruntime-node on a model, same run, interleaved: medians, p99, ratio')
    .argument('<model>', 'ONNX model file')
    .argument('[inputs...]', 'name=file (.npy, .json, .wav); default: generated inputs (symbolic dims 1)')
    .option('--backend <backend>', 'our side: auto, native or onnxruntime', 'native')
    .option('--precision <precision>', 'our side: float32, int8 or fp16', 'float32')
    .option('--threads <n>', 'intra-op threads on both sides', '1')
    .option('--seconds <s>', 'measured time per side', '2')
    .option('--json', 'one JSON line per comparison: { bench, case, ours, baseline, baseline_value, unit, speedup }')
    .action(async (file: string, inputArgs: string[], options: BenchCliOptions) => {
      const threads = Number(options.threads);
      const seconds = Number(options.seconds);
      if (!Number.isInteger(threads) || threads < 1) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `--threads must be a positive integer, got '${options.threads}'`);
      if (!(seconds > 0 && seconds <= 600)) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `--seconds must be in (0, 600], got '${options.seconds}'`);
      const bytes = readModelFile(file);
      const engine = await Engine.load(bytes, { backend: options.backend as EngineOptions['backend'], precision: options.precision as EngineOptions['precision'], threads });
      let ortSession: { run(feeds: unknown): Promise<unknown>; release(): Promise<void> } | undefined;
      let ortVersion: string | undefined;
      try {
        const info = engine.info();
        const feeds = inputArgs.length > 0 ? readFeeds(inputArgs, info.inputs) : generatedFeeds(info.inputs);
        const sides: Side[] = [{ name: `edgeinfer ${info.backend} ${options.precision}`, call: () => engine.infer(feeds), us: [] }];
        let ort: typeof import('onnxruntime-node') | undefined;
        try {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
        } catch {
          ort = undefined; // optional peer dependency: ours alone
        }
        if (ort) {
          const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
          ortSession = session;
          const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort!.Tensor(t.type as 'float32', t.data as Float32Array, t.dims)]));
          sides.push({ name: `onnxruntime-node ${ortVersion}`, call: () => session.run(ortFeeds), us: [] });
        }
        await interleave(sides, seconds);
        const rows = sides.map((side) => {
          const sorted = [...side.us].sort((a, b) => a - b);
          return { side: side.name, calls: sorted.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
        });
        const [ours, theirs] = rows;
        if (options.json) {
          process.stdout.write(`${JSON.stringify({
            bench: 'cli', case: `${file},${info.backend},${options.precision},threads ${threads}`, ours: ours.median,
            baseline: theirs ? `ort-${ortVersion}` : null, baseline_value: theirs?.median ?? null, unit: 'us',
            speedup: theirs ? theirs.median / ours.median : null, ours_p99: ours.p99, baseline_p99: theirs?.p99 ?? null,
          })}\n`);
          return;
        }
        process.stdout.write([
          table(['', 'calls', 'median us', 'p99 us'], rows.map((r) => [r.side, r.calls, Number(r.median.toFixed(1)), Number(r.p99.toFixed(1))])),
          theirs ? `speedup (ORT median / ours): ${(theirs.median / ours.median).toFixed(2)}x` : 'onnxruntime-node is not installed: ours alone',
        ].join('\n') + '\n');
      } finally {
        engine.dispose();
        await ortSession?.release();
      }
    });
}
