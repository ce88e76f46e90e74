/**
 * The openWakeWord models end to end, single thread: the native Engine (FP32 and INT8) against ONNX Runtime
 * (FP32) in the same process, on the same inputs (real audio from test/fixtures/speech, recorded as it flows
 * through an ORT-driven WakeWordPipeline, so every model sees the inputs it sees in use).
 *
 * 1. Per model and batch (melspectrogram [b, 1760 samples], embedding_model [b, 76, 32, 1], and the heads
 *    hey_jarvis / alexa / hey_mycroft [1, 16, 96] and timer [1, 34, 96]; batch 16 only for the two models
 *    with a symbolic batch dim, the heads' input shape is fixed at batch 1):
 *      "<model>,batch=B,<fp32|int8>,inferSync node-call": our engine.inferSync vs ORT `await session.run`
 *      "<model>,batch=B,<fp32|int8>,infer node-call":     our `await engine.infer` (worker thread) vs the same
 *      "<model>,batch=B,<fp32|int8>,inferSync kernel":    our engine.inferSync call time (the whole Node call,
 *                                                          nothing subtracted) vs the sum of ORT's profiled
 *                                                          kernel times per run
 *    Latencies are p50 per call (p99 in *_p99_us); speedup = ORT / ours (> 1: ours faster).
 * 2. "pipeline,<variant> per-chunk": WakeWordPipeline.push per 80 ms chunk (melspectrogram + embedding +
 *    hey_jarvis, alexa, hey_mycroft) cycling over all speech fixtures: ours FP32, ours INT8 (embedding and
 *    heads INT8, melspectrogram FP32), each through Engine.infer (the Engine as the ModelRunner) and through
 *    an inferSync adapter, vs ORT FP32 through an adapter that wraps `session.run`.
 * 3. "embedding_model,batch=B,<prec> memory": Engine.stats() arenaBytes vs intermediateBytes (the sum of all
 *    intermediate tensor sizes, i.e. no reuse); speedup = intermediate / arena.
 *
 * Correctness guard before timing each case: FP32 max |ours - ORT| <= 1e-4 * max |ORT| (max over all guard
 * outputs) on the timed input and on up to 32 recorded inputs of that model (for a sigmoid head that the
 * fixtures never trigger, plus 5 windows scoring 0.01..0.99, see activeRangeWindows); INT8 cosine(ours, ORT)
 * >= 0.99 over the outputs of those inputs (one cosine over their concatenation, since a head's output is a
 * single score). A failing
 * precision is not timed (reported on stderr and as a "... guard-failed" line); the others still run.
 *   npx tsx bench/models.bench.ts [--json] [--seconds S]
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Engine } from '../lib/engine';
import type { Tensor } from '../lib/tensor';
import { chunkSamples, readWav16, WakeWordPipeline, type ModelRunner, type WakeWordModels } from '../lib/wakeword/pipeline';
import { createProfiledSession, interleave, kernelTimes, ortSessionOptions, ortTag, parseArgs, progress, Reporter, rng, root, type Side } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fetchModels } = require('../scripts/fetch-models.js') as { fetchModels(): Record<string, string> };

const BENCH = 'models_vs_ort';
const FP32_TOLERANCE = 1e-4; // relative to max |ORT output|
const INT8_MIN_COSINE = 0.99;
const FP16_MIN_COSINE = 0.9999; // FP16 weights (rel. rounding 2^-11 per weight), FP32 math
type BenchPrecision = 'float32' | 'int8' | 'fp16';
const tagOf = (precision: BenchPrecision) => (precision === 'float32' ? 'fp32' : precision);
const GUARD_INPUTS = 32;
const BATCH = 16;

interface ModelSpec {
  name: string;
  file: string;
  /** Batch sizes to time (16 only where the batch dim is symbolic). */
  batches: number[];
  /** Frames of a head's input (heads only). */
  headFrames?: number;
}

const MODELS: ModelSpec[] = [
  { name: 'melspectrogram', file: 'melspectrogram.onnx', batches: [1, BATCH] },
  { name: 'embedding_model', file: 'embedding_model.onnx', batches: [1, BATCH] },
  { name: 'hey_jarvis', file: 'hey_jarvis_v0.1.onnx', batches: [1], headFrames: 16 },
  { name: 'alexa', file: 'alexa_v0.1.onnx', batches: [1], headFrames: 16 },
  { name: 'hey_mycroft', file: 'hey_mycroft_v0.1.onnx', batches: [1], headFrames: 16 },
  { name: 'timer', file: 'timer_v0.1.onnx', batches: [1], headFrames: 34 },
];
const PIPELINE_HEADS = ['hey_jarvis', 'alexa', 'hey_mycroft'];

// ---------------------------------------------------------------------------------------------- ORT adapter

/** ONNX Runtime as a ModelRunner (what a user of the pipeline on ORT would write). */
class OrtRunner implements ModelRunner {
  readonly inputs: { name: string }[];
  readonly outputs: { name: string }[];
  constructor(readonly session: ort.InferenceSession) {
    this.inputs = session.inputNames.map((name) => ({ name }));
    this.outputs = session.outputNames.map((name) => ({ name }));
  }
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', t.data as Float32Array, t.dims as number[]);
    const out = await this.session.run(f);
    const r: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(out)) r[k] = { type: 'float32', data: t.data as Float32Array, dims: t.dims as number[] };
    return r;
  }
}

/** Records every feed a runner gets (copies), to reuse real inputs for the per-model cases. */
class RecordingRunner implements ModelRunner {
  readonly recorded: { data: Float32Array; dims: number[] }[] = [];
  readonly lastOutputs: Float32Array[] = [];
  constructor(readonly inner: OrtRunner) {}
  get inputs() {
    return this.inner.inputs;
  }
  get outputs() {
    return this.inner.outputs;
  }
  async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const t = feeds[this.inputs[0].name];
    this.recorded.push({ data: (t.data as Float32Array).slice(), dims: [...t.dims] });
    const out = await this.inner.infer(feeds);
    this.lastOutputs.push((out[this.outputs[0].name].data as Float32Array).slice());
    return out;
  }
}

/** The native Engine through inferSync, wrapped as a ModelRunner (no worker-thread hop). */
function syncRunner(engine: Engine): ModelRunner {
  return { inputs: engine.inputs, outputs: engine.outputs, infer: async (feeds) => engine.inferSync(feeds) };
}

// ---------------------------------------------------------------------------------------------- checks

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`output lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 && nb === 0 ? 1 : d / Math.sqrt(na * nb);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface GuardResult {
  ok: boolean;
  detail: string;
  /** FP32: max abs diff / max |ORT| on the timed input and over the guard set; INT8: cosines. */
  timedMetric: number;
  setMetric: number;
}

function guard(precision: BenchPrecision, timed: [Float32Array, Float32Array], set: [Float32Array, Float32Array]): GuardResult {
  const [oursT, ortT] = timed;
  const [oursS, ortS] = set;
  if (precision === 'float32') {
    // The scale is max |ORT output| over everything the guard ran (timed input and guard set).
    const scale = Math.max(maxAbs(ortT), maxAbs(ortS), 1e-30);
    const relT = maxAbsDiff(oursT, ortT) / scale;
    const relS = maxAbsDiff(oursS, ortS) / scale;
    const ok = relT <= FP32_TOLERANCE && relS <= FP32_TOLERANCE;
    return { ok, timedMetric: relT, setMetric: relS, detail: `max|diff|/max|ORT| timed ${relT.toExponential(2)}, set ${relS.toExponential(2)} (limit ${FP32_TOLERANCE}, max|ORT| ${scale.toPrecision(3)})` };
  }
  const cT = cosine(oursT, ortT);
  const cS = cosine(oursS, ortS);
  const limit = precision === 'fp16' ? FP16_MIN_COSINE : INT8_MIN_COSINE;
  // A single-score output has a cosine of +-1 on its own; the set cosine is the one that means something.
  const ok = cS >= limit && (oursT.length === 1 || cT >= limit);
  return { ok, timedMetric: cT, setMetric: cS, detail: `cosine timed ${cT.toFixed(5)}, set ${cS.toFixed(5)} (limit ${limit})` };
}

/**
 * Windows that put a single-score (sigmoid) head in its active range, for heads the fixtures never trigger
 * (hey_mycroft: every fixture window scores < 1.2e-7, logits -16..-23, where ORT's Sigmoid returns 0 or a
 * coarse value while the exact value is 1e-11..1e-7, so a guard on those alone compares ORT's tail
 * approximation, not the model). Each is base + t (far - base), t found by bisection on ORT's score, where
 * far is a deterministic random window that the head scores high.
 */
async function activeRangeWindows(session: ort.InferenceSession, base: Float32Array, dims: number[]): Promise<Float32Array[]> {
  const score = async (x: Float32Array) => ((await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, dims) }))[session.outputNames[0]].data as Float32Array)[0];
  const random = rng(0x3a11);
  let far: Float32Array | undefined;
  for (let attempt = 1; attempt <= 8 && !far; attempt++) {
    const x = new Float32Array(base.length);
    for (let i = 0; i < x.length; i++) x[i] = (random() - 0.5) * attempt;
    for (const sign of [1, -1]) {
      const y = x.map((v) => sign * v);
      if ((await score(y)) > 0.999) {
        far = y;
        break;
      }
    }
  }
  if (!far) return [];
  const out: Float32Array[] = [];
  for (const target of [0.01, 0.1, 0.5, 0.9, 0.99]) {
    let lo = 0;
    let hi = 1;
    let x = base;
    for (let i = 0; i < 40; i++) {
      const t = (lo + hi) / 2;
      x = base.map((v, j) => v + t * (far![j] - v));
      if ((await score(x)) < target) lo = t;
      else hi = t;
    }
    out.push(x);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- data

interface Recorded {
  /** Per model name: the inputs it got in the ORT pipeline over all fixtures, in order. */
  inputs: Map<string, Float32Array[]>;
  /** Per head: ORT's first output value for each recorded input (to pick the timed input). */
  scores: Map<string, number[]>;
  /** All fixtures' 80 ms chunks, back to back. */
  chunks: Float32Array[];
}

async function recordInputs(paths: Record<string, string>): Promise<Recorded> {
  const fixtures = path.join(root, 'test', 'fixtures', 'speech');
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.wav')).sort();
  const make = async (file: string) => new RecordingRunner(new OrtRunner(await ort.InferenceSession.create(paths[file], ortSessionOptions())));
  const mel = await make('melspectrogram.onnx');
  const emb = await make('embedding_model.onnx');
  const heads: Record<string, RecordingRunner> = {};
  for (const m of MODELS.filter((s) => s.headFrames)) heads[m.name] = await make(m.file);
  const chunks: Float32Array[] = [];
  for (const file of files) {
    const { samples, sampleRate } = readWav16(fs.readFileSync(path.join(fixtures, file)));
    if (sampleRate !== 16000) throw new Error(`${file}: ${sampleRate} Hz, the pipeline needs 16000`);
    const headFrames = Object.fromEntries(MODELS.filter((s) => s.headFrames).map((s) => [s.name, s.headFrames!]));
    // A fresh pipeline per clip, as processClip would be used.
    await new WakeWordPipeline({ melspectrogram: mel, embedding: emb, heads }, headFrames).processClip(samples);
    for (let s = 0; s + chunkSamples <= samples.length; s += chunkSamples) chunks.push(Float32Array.from(samples.subarray(s, s + chunkSamples)));
  }
  const inputs = new Map<string, Float32Array[]>([
    ['melspectrogram', mel.recorded.map((r) => r.data)],
    ['embedding_model', emb.recorded.map((r) => r.data)],
  ]);
  const scores = new Map<string, number[]>();
  for (const [name, r] of Object.entries(heads)) {
    inputs.set(name, r.recorded.map((x) => x.data));
    scores.set(name, r.lastOutputs.map((o) => maxAbs(o.length === 1 ? o : o.subarray(1)))); // timer: skip class 0 ("none")
  }
  for (const r of [mel, emb, ...Object.values(heads)]) await r.inner.session.release();
  return { inputs, scores, chunks };
}

/** `count` items spread evenly over `list` (all of it when shorter). */
function spread<T>(list: T[], count: number): T[] {
  if (list.length <= count) return list.slice();
  return Array.from({ length: count }, (_, i) => list[Math.floor((i * list.length) / count)]);
}

// ---------------------------------------------------------------------------------------------- per model

interface Ours {
  precision: BenchPrecision;
  engine: Engine;
}

async function benchModel(
  spec: ModelSpec,
  modelPath: string,
  recorded: Recorded,
  report: Reporter,
  seconds: number,
): Promise<void> {
  const bytes = fs.readFileSync(modelPath);
  const all = recorded.inputs.get(spec.name) ?? [];
  if (all.length < BATCH) throw new Error(`${spec.name}: only ${all.length} recorded inputs`);
  // Timed input at batch 1: for a head the window where it scores highest (so the 1e-4 tolerance is not
  // relative to a score of ~0), else the middle of the recording (speech, not the initial window).
  let timedIndex = Math.floor(all.length / 2);
  const scores = recorded.scores.get(spec.name);
  if (scores) timedIndex = scores.indexOf(Math.max(...scores));
  const guardSet = spread(all, GUARD_INPUTS);

  const engines: Ours[] = [];
  for (const precision of ['float32', 'int8', 'fp16'] as const) engines.push({ precision, engine: await Engine.load(bytes, { precision, threads: 1 }) });
  const session = await ort.InferenceSession.create(bytes, ortSessionOptions());
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const ourIn = engines[0].engine.inputs[0].name;
  const ourOut = engines[0].engine.outputs[0].name;
  if (ourIn !== inName || ourOut !== outName) throw new Error(`${spec.name}: input/output names differ: ours ${ourIn}/${ourOut}, ORT ${inName}/${outName}`);
  const rowDims = spec.headFrames ? [spec.headFrames, 96] : spec.name === 'melspectrogram' ? [all[0].length] : [76, 32, 1];
  const outputLength = ((await session.run({ [inName]: new ort.Tensor('float32', all[timedIndex], [1, ...rowDims]) }))[outName].data as Float32Array).length;
  if (scores && outputLength === 1 && Math.max(...scores) < 0.5) {
    const extra = await activeRangeWindows(session, all[timedIndex], [1, ...rowDims]);
    guardSet.push(...extra);
    progress(
      `${spec.name}: the fixtures never trigger it (max ORT score ${Math.max(...scores).toExponential(2)}): ` +
        `guard set extended by ${extra.length} windows scoring 0.01..0.99 under ORT`,
    );
  }

  for (const batch of spec.batches) {
    const label = `${spec.name},batch=${batch}`;
    const rows = batch === 1 ? [all[timedIndex]] : spread(all.slice(Math.floor(all.length / 4)), batch);
    const data = concat(rows);
    const dims = [batch, ...rowDims];
    const ourFeeds: Record<string, Tensor> = { [inName]: { type: 'float32', data, dims } };
    const ortFeeds = { [inName]: new ort.Tensor('float32', data, dims) };

    // Correctness guard: the timed input, and the guard set run one by one at batch 1.
    const ortTimed = (await session.run(ortFeeds))[outName].data as Float32Array;
    const ortSet: Float32Array[] = [];
    for (const x of guardSet) ortSet.push(((await session.run({ [inName]: new ort.Tensor('float32', x, [1, ...rowDims]) }))[outName].data as Float32Array).slice());
    const ortSetAll = concat(ortSet);
    const passed: Ours[] = [];
    const guards = new Map<string, GuardResult>();
    for (const o of engines) {
      const oursTimed = o.engine.inferSync(ourFeeds)[ourOut].data as Float32Array;
      const oursAsync = (await o.engine.infer(ourFeeds))[ourOut].data as Float32Array;
      if (maxAbsDiff(oursTimed, oursAsync) !== 0) throw new Error(`${label}: infer and inferSync outputs differ (${o.precision})`);
      const oursSet = concat(guardSet.map((x) => (o.engine.inferSync({ [inName]: { type: 'float32', data: x, dims: [1, ...rowDims] } })[ourOut].data as Float32Array).slice()));
      const g = guard(o.precision, [oursTimed, ortTimed], [oursSet, ortSetAll]);
      progress(`${label} ${o.precision} guard ${g.ok ? 'passed' : 'FAILED'}: ${g.detail}`);
      guards.set(o.precision, g);
      if (!g.ok) {
        report.add({
          bench: BENCH,
          case: `${label},${tagOf(o.precision)} guard-failed`,
          ours: g.setMetric,
          baseline: o.precision === 'float32' ? `max|ours-ORT|/max|ORT| limit` : 'cosine vs ORT FP32 limit',
          baseline_value: o.precision === 'float32' ? FP32_TOLERANCE : o.precision === 'fp16' ? FP16_MIN_COSINE : INT8_MIN_COSINE,
          unit: o.precision === 'float32' ? 'rel-err' : 'cosine',
          speedup: 0,
          guard: g.detail,
        });
      }
      if (g.ok) passed.push(o);
      else progress(`${label} ${o.precision}: case ABORTED (guard failed), not timed`);
    }
    if (passed.length === 0) continue;

    const profiled = await createProfiledSession(bytes);
    await profiled.session.run(ortFeeds); // same feed, counted as a skipped warm-up run below
    const sides: Side[] = [];
    for (const o of passed) {
      sides.push({ name: `${o.precision}-sync`, sync: () => void o.engine.inferSync(ourFeeds) });
      sides.push({ name: `${o.precision}-async`, async: () => o.engine.infer(ourFeeds) });
    }
    sides.push({ name: 'ort', async: () => session.run(ortFeeds) });
    sides.push({ name: 'ort-profiled', async: () => profiled.session.run(ortFeeds), weight: 0.5, maxCalls: 2000 });
    const results = await interleave(sides, seconds);
    const ortRun = results.find((r) => r.name === 'ort')!;
    const ortProf = results.find((r) => r.name === 'ort-profiled')!;
    const kt = kernelTimes(profiled.finish(), ortProf.warmupCalls + 1);
    await profiled.session.release();

    const summary: string[] = [];
    for (const o of passed) {
      const prec = tagOf(o.precision);
      for (const api of ['inferSync', 'infer'] as const) {
        const r = results.find((x) => x.name === `${o.precision}-${api === 'inferSync' ? 'sync' : 'async'}`)!;
        report.add({
          bench: BENCH,
          case: `${label},${prec},${api} node-call`,
          ours: r.stats.median,
          baseline: `${ortTag} FP32 await session.run`,
          baseline_value: ortRun.stats.median,
          unit: 'us',
          speedup: ortRun.stats.median / r.stats.median,
          ratio_ours_over_ort: r.stats.median / ortRun.stats.median,
          ours_p99_us: r.stats.p99,
          baseline_p99_us: ortRun.stats.p99,
          ratio_p99_ours_over_ort: r.stats.p99 / ortRun.stats.p99,
          ours_calls: r.stats.n,
          baseline_calls: ortRun.stats.n,
          guard: guards.get(o.precision)!.detail,
        });
        summary.push(`${prec} ${api} ${r.stats.median.toFixed(1)}/${r.stats.p99.toFixed(1)}`);
      }
      const sync = results.find((x) => x.name === `${o.precision}-sync`)!;
      report.add({
        bench: BENCH,
        case: `${label},${prec},inferSync kernel`,
        ours: sync.stats.median,
        baseline: `${ortTag} FP32 profiled kernels (sum per run); ours: whole inferSync call, nothing subtracted`,
        baseline_value: kt.stats.median,
        unit: 'us',
        speedup: kt.stats.median / sync.stats.median,
        ratio_ours_over_ort: sync.stats.median / kt.stats.median,
        baseline_p99_us: kt.stats.p99,
        baseline_mean_us: kt.stats.mean,
        baseline_runs: kt.stats.n,
        ort_nodes: kt.nodes.length,
      });
    }
    progress(
      `${label}: p50/p99 us ${summary.join(', ')}; ORT run ${ortRun.stats.median.toFixed(1)}/${ortRun.stats.p99.toFixed(1)}, ` +
        `ORT kernels ${kt.stats.median} (${kt.nodes.length} nodes)`,
    );
  }
  for (const o of engines) o.engine.dispose();
  await session.release();
}

// ---------------------------------------------------------------------------------------------- memory

/** Model size in memory per precision: the weights the prepared kernels hold (Engine.stats().weightBytes). */
async function benchWeights(paths: Record<string, string>, report: Reporter): Promise<void> {
  for (const spec of MODELS) {
    const bytes: Record<string, number> = {};
    for (const precision of ['float32', 'int8', 'fp16'] as const) {
      const engine = await Engine.load(paths[spec.file], { precision, threads: 1 });
      if (engine.stats().native!.plans.length === 0) {
        // Symbolic dims: batch 1, and melspectrogram's sample axis 1760 (80 ms + context, as the pipeline feeds).
        const input = engine.inputs[0];
        const dims = input.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 1760));
        engine.inferSync({ [input.name]: { type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims } });
      }
      bytes[precision] = engine.stats().weightBytes;
      engine.dispose();
    }
    for (const precision of ['float32', 'int8', 'fp16'] as const) {
      report.add({
        bench: BENCH,
        case: `${spec.name},${tagOf(precision)} weights`,
        ours: bytes[precision] / 1024,
        baseline: 'FP32 weight bytes (Engine.stats().weightBytes)',
        baseline_value: bytes.float32 / 1024,
        unit: 'KiB',
        speedup: bytes.float32 / bytes[precision],
      });
    }
    progress(`${spec.name} weights: FP32 ${bytes.float32} B, INT8 ${bytes.int8} B, FP16 ${bytes.fp16} B`);
  }
}

async function benchMemory(modelPath: string, recorded: Recorded, report: Reporter): Promise<void> {
  const all = recorded.inputs.get('embedding_model')!;
  for (const precision of ['float32', 'int8'] as const) {
    for (const batch of [1, BATCH]) {
      // A fresh engine with one plan: stats().native.plans[0] is the plan for this batch.
      const engine = await Engine.load(modelPath, { precision, threads: 1 });
      engine.inferSync({ input_1: { type: 'float32', data: concat(spread(all, batch)), dims: [batch, 76, 32, 1] } });
      const plan = engine.stats().native!.plans[0];
      engine.dispose();
      const saved = 1 - plan.arenaBytes / plan.intermediateBytes;
      const prec = precision === 'float32' ? 'fp32' : 'int8';
      report.add({
        bench: BENCH,
        case: `embedding_model,batch=${batch},${prec} memory`,
        ours: plan.arenaBytes / 1024,
        baseline: 'sum of all intermediate tensor sizes (intermediateBytes, no reuse)',
        baseline_value: plan.intermediateBytes / 1024,
        unit: 'KiB',
        speedup: plan.intermediateBytes / plan.arenaBytes,
        saved_fraction: saved,
        steps: plan.steps,
        shapes: plan.shapes,
      });
      progress(
        `embedding_model batch=${batch} ${precision}: arena ${plan.arenaBytes} B vs intermediates ${plan.intermediateBytes} B: ` +
          `${(saved * 100).toFixed(1)} % saved (${plan.steps} steps)`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------- pipeline

async function benchPipeline(paths: Record<string, string>, recorded: Recorded, report: Reporter, seconds: number): Promise<void> {
  const file = (name: string) => paths[MODELS.find((m) => m.name === name)!.file];
  const loadOurs = async (precision: 'float32' | 'int8') => ({
    melspectrogram: await Engine.load(file('melspectrogram'), { threads: 1, precision: 'float32' }),
    embedding: await Engine.load(file('embedding_model'), { threads: 1, precision }),
    heads: Object.fromEntries(await Promise.all(PIPELINE_HEADS.map(async (h) => [h, await Engine.load(file(h), { threads: 1, precision })] as const))),
  });
  const fp32 = await loadOurs('float32');
  const int8 = await loadOurs('int8');
  const ortModels: WakeWordModels = {
    melspectrogram: new OrtRunner(await ort.InferenceSession.create(file('melspectrogram'), ortSessionOptions())),
    embedding: new OrtRunner(await ort.InferenceSession.create(file('embedding_model'), ortSessionOptions())),
    heads: Object.fromEntries(
      await Promise.all(PIPELINE_HEADS.map(async (h) => [h, new OrtRunner(await ort.InferenceSession.create(file(h), ortSessionOptions()))] as const)),
    ),
  };
  const asSync = (m: typeof fp32): WakeWordModels => ({
    melspectrogram: syncRunner(m.melspectrogram),
    embedding: syncRunner(m.embedding),
    heads: Object.fromEntries(Object.entries(m.heads).map(([k, e]) => [k, syncRunner(e)])),
  });
  const variants: { name: string; label: string; precision: 'float32' | 'int8'; models: WakeWordModels }[] = [
    { name: 'fp32,infer', label: 'ours FP32 (Engine.infer)', precision: 'float32', models: fp32 },
    { name: 'fp32,inferSync', label: 'ours FP32 (inferSync adapter)', precision: 'float32', models: asSync(fp32) },
    { name: 'int8,infer', label: 'ours INT8 emb+heads, FP32 mel (Engine.infer)', precision: 'int8', models: int8 },
    { name: 'int8,inferSync', label: 'ours INT8 emb+heads, FP32 mel (inferSync adapter)', precision: 'int8', models: asSync(int8) },
  ];

  // Guard: every fixture chunk by chunk; embeddings (FP32: max abs diff vs 1e-4 * max |ORT| over the clip;
  // INT8: cosine per chunk >= 0.99) and head scores (reported).
  const fixtures = path.join(root, 'test', 'fixtures', 'speech');
  const files = fs.readdirSync(fixtures).filter((f) => f.endsWith('.wav')).sort();
  const clips = files.map((f) => readWav16(fs.readFileSync(path.join(fixtures, f))).samples);
  const ortClips = [];
  for (const samples of clips) ortClips.push(await new WakeWordPipeline(ortModels).processClip(samples));
  const passed: typeof variants = [];
  for (const v of variants) {
    let worstRel = 0;
    let minCos = 1;
    let worstScore = 0;
    for (let c = 0; c < clips.length; c++) {
      const ours = await new WakeWordPipeline(v.models).processClip(clips[c]);
      const ref = ortClips[c];
      const oursEmb = concat(ours.chunks.map((x) => x.embedding!));
      const refEmb = concat(ref.chunks.map((x) => x.embedding!));
      worstRel = Math.max(worstRel, maxAbsDiff(oursEmb, refEmb) / maxAbs(refEmb));
      ours.chunks.forEach((x, i) => (minCos = Math.min(minCos, cosine(x.embedding!, ref.chunks[i].embedding!))));
      for (const h of PIPELINE_HEADS) worstScore = Math.max(worstScore, Math.abs(ours.maxScores[h] - ref.maxScores[h]));
    }
    const ok = v.precision === 'float32' ? worstRel <= FP32_TOLERANCE : minCos >= INT8_MIN_COSINE;
    progress(
      `pipeline ${v.name} guard ${ok ? 'passed' : 'FAILED'} over ${files.length} fixtures: embeddings max|diff|/max|ORT| ${worstRel.toExponential(2)}, ` +
        `min per-chunk cosine ${minCos.toFixed(5)}, max |max-score diff| ${worstScore.toExponential(2)}`,
    );
    if (ok) passed.push(v);
    else progress(`pipeline ${v.name}: ABORTED (guard failed), not timed`);
  }

  // Timing: each side streams all fixtures' chunks back to back (cycling), one push per call; each side's
  // pipeline first runs 34 chunks so every timed push runs mel + embedding + all three heads.
  const sides: Side[] = [];
  const timed = [...passed.map((v) => ({ name: v.name, models: v.models })), { name: 'ort', models: ortModels }];
  for (const t of timed) {
    const pipeline = new WakeWordPipeline(t.models);
    let cursor = 0;
    const next = () => recorded.chunks[cursor++ % recorded.chunks.length];
    for (let i = 0; i < 34; i++) await pipeline.push(next());
    sides.push({
      name: t.name,
      async: async () => {
        const r = await pipeline.push(next());
        if (Object.keys(r.scores).length !== PIPELINE_HEADS.length) throw new Error(`pipeline ${t.name}: a push ran ${Object.keys(r.scores).length} heads`);
      },
      weight: 2,
    });
  }
  progress(`pipeline: timing ${sides.map((s) => s.name).join(', ')} over ${recorded.chunks.length} chunks of ${files.length} fixtures`);
  const results = await interleave(sides, seconds);
  const ortRes = results.find((r) => r.name === 'ort')!;
  for (const v of passed) {
    const r = results.find((x) => x.name === v.name)!;
    report.add({
      bench: BENCH,
      case: `pipeline,${v.name} per-chunk`,
      ours: r.stats.median,
      baseline: `${ortTag} FP32 pipeline (session.run adapter)`,
      baseline_value: ortRes.stats.median,
      unit: 'us',
      speedup: ortRes.stats.median / r.stats.median,
      ratio_ours_over_ort: r.stats.median / ortRes.stats.median,
      ours_p99_us: r.stats.p99,
      baseline_p99_us: ortRes.stats.p99,
      ratio_p99_ours_over_ort: r.stats.p99 / ortRes.stats.p99,
      ours_calls: r.stats.n,
      baseline_calls: ortRes.stats.n,
      ours_is: v.label,
    });
    progress(
      `pipeline ${v.name}: ${r.stats.median.toFixed(1)} / ${r.stats.p99.toFixed(1)} us (p50/p99) per chunk vs ORT ` +
        `${ortRes.stats.median.toFixed(1)} / ${ortRes.stats.p99.toFixed(1)}: ours/ORT ${(r.stats.median / ortRes.stats.median).toFixed(3)}`,
    );
  }
  for (const m of [fp32, int8]) for (const e of [m.melspectrogram, m.embedding, ...Object.values(m.heads)]) e.dispose();
  for (const r of [ortModels.melspectrogram, ortModels.embedding, ...Object.values(ortModels.heads)]) await (r as OrtRunner).session.release();
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const t0 = Date.now();
  const paths = fetchModels();
  progress('recording real inputs: ORT pipeline over test/fixtures/speech/*.wav');
  const recorded = await recordInputs(paths);
  progress(`recorded ${[...recorded.inputs].map(([k, v]) => `${k} ${v.length}`).join(', ')}; ${recorded.chunks.length} chunks`);
  progress('heads have a fixed batch-1 input ([1,16,96]; timer [1,34,96]): batch 16 is timed for melspectrogram and embedding_model only');

  for (const spec of MODELS) await benchModel(spec, paths[spec.file], recorded, report, args.seconds);
  await benchMemory(paths['embedding_model.onnx'], recorded, report);
  await benchWeights(paths, report);
  await benchPipeline(paths, recorded, report, args.seconds);
  progress(`models bench took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  report.finish();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
