/**
 * openWakeWord's embedding model over a span of consecutive windows (lib/wakeword/embedding-span.ts), as the
 * distillation factory's voice features use it: 16 windows of 76 mel frames, hop 8, single thread. Cases, in
 * µs per 16 windows, all sides interleaved in one run:
 *   "embedding 16 windows span-vs-windows":     our span call vs our plain model window by window.
 *   "embedding 16 windows span-vs-ORT-windows": our span call vs ONNX Runtime's plain model window by window.
 *   "embedding 16 windows span-vs-ORT-span":    our span call vs ONNX Runtime on the same span file.
 * First checks that every side gives the same 16 embeddings (ours bit for bit; ORT within 1e-4 x max |e|).
 *   npx tsx bench/embedding-span.bench.ts [--json] [--seconds S]
 */
import fs from 'node:fs';

import * as ort from 'onnxruntime-node';
import { Engine } from '../lib';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { embeddingHopFrames as HOP, embeddingMelBins as BINS, embeddingValues, embeddingWindowFrames as WINDOW, spanFrames, toSpanEmbeddingModel } from '../lib/wakeword/embedding-span';
import { interleave, ortSessionOptions, ortTag, parseArgs, progress, Reporter, rng } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fetchModels } = require('../scripts/fetch-models.js') as { fetchModels(): Record<string, string> };

const WINDOWS = 16;

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const file = fetchModels()['embedding_model.onnx'];
  const spanBytes = writeModel(toSpanEmbeddingModel(readModel(new Uint8Array(fs.readFileSync(file))), WINDOWS));
  const random = rng(0x5fa11);
  // Mel frames in the pipeline's range (mel / 10 + 2): the work does not depend on the values.
  const frames = Float32Array.from({ length: spanFrames(WINDOWS) * BINS }, () => 1 + 2 * random());
  const windows = Array.from({ length: WINDOWS }, (_, k) => frames.slice(k * HOP * BINS, (k * HOP + WINDOW) * BINS));

  const plain = await Engine.load(file, { backend: 'native', threads: 1 });
  const span = await Engine.load(spanBytes, { backend: 'native', threads: 1 });
  const ortPlain = await ort.InferenceSession.create(file, ortSessionOptions());
  const ortSpan = await ort.InferenceSession.create(spanBytes, ortSessionOptions());
  const plainIn = plain.inputs[0].name;
  const spanIn = span.inputs[0].name;
  const spanDims = [1, spanFrames(WINDOWS), BINS, 1];

  const ours = async () => (await span.infer({ [spanIn]: { type: 'float32', data: frames, dims: spanDims } }))[span.outputs[0].name].data as Float32Array;
  const oursWindows = async () => {
    const out: Float32Array[] = [];
    for (const w of windows) out.push((await plain.infer({ [plainIn]: { type: 'float32', data: w, dims: [1, WINDOW, BINS, 1] } }))[plain.outputs[0].name].data as Float32Array);
    return out;
  };
  const ortWindows = async () => {
    const out: Float32Array[] = [];
    for (const w of windows) out.push((await ortPlain.run({ [ortPlain.inputNames[0]]: new ort.Tensor('float32', w, [1, WINDOW, BINS, 1]) }))[ortPlain.outputNames[0]].data as Float32Array);
    return out;
  };
  const ortSpanRun = async () => (await ortSpan.run({ [ortSpan.inputNames[0]]: new ort.Tensor('float32', frames, spanDims) }))[ortSpan.outputNames[0]].data as Float32Array;

  // Correctness guard: the same 16 embeddings from every side.
  const reference = await oursWindows();
  const scale = Math.max(...reference.flatMap((e) => [...e].map(Math.abs)));
  const check = (name: string, got: Float32Array, tolerance: number) => {
    reference.forEach((e, k) =>
      e.forEach((v, i) => {
        const d = Math.abs(v - got[k * embeddingValues + i]);
        if (d > tolerance * scale) throw new Error(`${name}: window ${k}[${i}] differs by ${d} (max |e| ${scale})`);
      }),
    );
  };
  check('span (ours)', await ours(), 0);
  check('ORT windows', Float32Array.from((await ortWindows()).flatMap((e) => [...e])), 1e-4);
  check('ORT span', await ortSpanRun(), 1e-4);
  progress(`embedding span: ${WINDOWS} windows agree (ours bit for bit, ORT within 1e-4)`);

  const [s, w, ow, os] = await interleave(
    [
      { name: 'span', async: ours },
      { name: 'windows', async: oursWindows },
      { name: 'ort-windows', async: ortWindows },
      { name: 'ort-span', async: ortSpanRun },
    ],
    args.seconds,
  );
  const label = `embedding ${WINDOWS} windows`;
  const line = (versus: string, baseline: string, other: typeof s) =>
    report.add({ bench: 'embedding-span', case: `${label} ${versus}`, ours: s.stats.median, baseline, baseline_value: other.stats.median, unit: 'us', speedup: other.stats.median / s.stats.median });
  line('span-vs-windows', 'edgeinfer native, window by window', w);
  line('span-vs-ORT-windows', `${ortTag}, window by window`, ow);
  line('span-vs-ORT-span', `${ortTag}, the same span file`, os);
  report.finish();
  await Promise.all([plain.dispose(), span.dispose(), ortPlain.release(), ortSpan.release()]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
