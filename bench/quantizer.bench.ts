/**
 * Our quantizer (quantizeModel) against ONNX Runtime's (Python quantize_static, bench/ort_quantize.py) on the
 * same FP32 model, the same calibration feeds (saved once as .npy files, read back one sample at a time by
 * both sides) and the same method (minmax, entropy, percentile; each side's default options), issue 11 item 6:
 *   - time: wall time of calibration + quantization + writing the QDQ file (ours: quantizeModel with
 *     validateOn: [], so no validation run is timed), measured inside each side's own process (ours also
 *     reports its calibration part, ours_calibration_s);
 *   - peak RSS: the peak resident set of that process (Python, resp. a fresh Node child), VmHWM from
 *     /proc/self/status (ru_maxrss / process.resourceUsage().maxRSS would carry the spawning process's peak
 *     across fork + exec on Linux), so both include their runtime (Python + numpy + onnxruntime; Node + tsx +
 *     the addon); the peak before the quantizer ran is in the JSON lines (rss_before_mib,
 *     baseline_rss_before_mib);
 *   - each side runs --repeats times (default 5, alternating): medians of time and peak RSS;
 *   - agreement with FP32 on held-out inputs: both quantized files and the FP32 one run in onnxruntime-node
 *     (the same runtime for both): mean cosine of the first output vs FP32's, and top-1 agreement for the
 *     classifiers;
 *   - streaming: our peak RSS calibrating the embedding model on 100 vs 1000 windows (acceptance: within
 *     1.2x), next to ORT's on the same windows.
 * Both sides quantize the same op types (ours: Conv, ConvTranspose, MatMul, Gemm; ORT's op_types_to_quantize
 * set to these), QDQ, per-channel int8 weights, uint8 asymmetric activations, and use their default threads
 * (all cores) for the calibration runs. Models and data (counts chosen so the whole run takes ~10 min on 2
 * cores):
 *   embedding  openWakeWord embedding_model.onnx; calibration: every window of the speech fixtures (hop 8,
 *              145), held out: the windows between them (offset 4, 141); streaming: 100 / 1000 windows
 *   bert       tfm_bert_small_cls (sequence 16): zooFeeds seeds 1..64, held out 65..320
 *   cnn        cnn_resnet18 (224x224): seeds 1..64, held out 65..128
 *   kws        kws_dscnn: seeds 1..256, held out 257..512
 * The zoo models carry seeded random weights and take random feeds (test/helpers/zoo.ts). Note on 'entropy':
 * ORT's defaults (num_bins = num_quantized_bins = 128) leave its KL search a single candidate, the whole
 * histogram range (calibrate.py, get_entropy_threshold), so ORT's Entropy thresholds are min-max's; ours is
 * TensorRT's search (2048 bins, 128 levels), which clips.
 *   npx tsx bench/quantizer.bench.ts [--json] [--models embedding,bert,cnn,kws] [--methods minmax,entropy,percentile]
 *                                    [--repeats N] [--no-streaming] [--ort-entropy-bins 2048]
 * --ort-entropy-bins N gives ORT's entropy calibrator N histogram bins and 128 quantized bins: TensorRT's search,
 * the method ours implements (quantize_static cannot pass them; bench/ort_quantize.py does).
 * (--seconds, which scripts/bench.js passes, is accepted and not used: every quantizer run is timed whole.)
 * Python: a venv with onnxruntime, onnx and numpy ($EDGEINFER_QUANT_VENV, default .cache/venv-quant), made
 * by scripts/python-venv.js from pip's configured sources when missing.
 * Child mode (internal): --child '<job json>' runs our quantizeModel once and prints one JSON line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { Tensor as OrtTensor } from 'onnxruntime-node';

import type { Tensor } from '../lib';
import { readFeedFolder, writeFeedFolder } from './npy-feeds';

// Only type imports above and the .npy reader (node:fs alone): the child process that measures our peak RSS
// loads nothing but the library and it. The
// parent's modules (onnxruntime-node with its native runtime, the harness, the test helpers) load in main().
/* eslint-disable @typescript-eslint/no-require-imports */
let ort: typeof import('onnxruntime-node');
let h: typeof import('./harness');
let ortQuantize: typeof import('./ort-quantize');
let helpers: typeof import('../test/helpers/calibration-data') & typeof import('../test/helpers/repo') & typeof import('../test/helpers/zoo');
function loadParentModules(): void {
  ort = require('onnxruntime-node');
  h = require('./harness');
  ortQuantize = require('./ort-quantize');
  helpers = { ...require('../test/helpers/calibration-data'), ...require('../test/helpers/repo'), ...require('../test/helpers/zoo') };
}
/* eslint-enable @typescript-eslint/no-require-imports */
const root = path.join(__dirname, '..');

type Method = 'minmax' | 'entropy' | 'percentile';
type Feeds = Record<string, Tensor>;
const METHODS: Method[] = ['minmax', 'entropy', 'percentile'];
/** What ours quantizes by default; ORT is told the same (its default would also quantize Add, Mul, Concat, ...). */
const OP_TYPES = ['Conv', 'ConvTranspose', 'MatMul', 'Gemm'];
const MiB = 1024; // VmHWM is in KiB

/** This process's peak resident set in KiB: VmHWM (this process's own), or maxRSS where there is no /proc. */
function peakRssKiB(): number {
  try {
    const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
    if (line !== undefined) return Number(line.split(/\s+/)[1]);
  } catch {
    /* no /proc */
  }
  return process.resourceUsage().maxRSS;
}

// ---------------------------------------------------------------------------------------------- the two sides

interface Job {
  model: string;
  out: string;
  method: Method;
  calib: string;
}

/** One quantizer run's measures, from its own process. */
interface RunResult {
  seconds: number;
  peakMiB: number;
  beforeMiB: number;
  bytes: number;
  /** Ours only: the calibration part of `seconds` (quantizeModel's report). */
  calibrationSeconds?: number;
}

/** Child mode: our quantizeModel on a feed folder, in a fresh Node process (so its peak RSS is this job's alone). */
async function child(job: Job): Promise<void> {
  const { quantizeModel } = await import('../lib');
  const before = peakRssKiB();
  const started = performance.now();
  const { bytes, report } = await quantizeModel(job.model, job.out, { data: readFeedFolder(job.calib), method: job.method, activationType: 'uint8', perChannel: true, validateOn: [] });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ seconds, peak_rss_kib: peakRssKiB(), rss_before_kib: before, bytes: bytes.length, calibration_seconds: report.calibration.milliseconds / 1000 })}\n`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Medians over repeated runs (the written file is the same each time). */
function medianRun(runs: RunResult[]): RunResult {
  const of = (key: 'seconds' | 'peakMiB' | 'beforeMiB') => median(runs.map((r) => r[key]));
  const calibration = runs.every((r) => r.calibrationSeconds !== undefined) ? median(runs.map((r) => r.calibrationSeconds!)) : undefined;
  return { seconds: of('seconds'), peakMiB: of('peakMiB'), beforeMiB: of('beforeMiB'), bytes: runs[runs.length - 1].bytes, calibrationSeconds: calibration };
}

/** Both sides `repeats` times, alternating (ORT first, then ours), so drift on the machine hits both alike. */
function runBoth(python: string, job: (side: 'ours' | 'ort') => Job, repeats: number): { ours: RunResult; theirs: RunResult } {
  const ours: RunResult[] = [];
  const theirs: RunResult[] = [];
  for (let i = 0; i < repeats; i++) {
    theirs.push(runOrt(python, job('ort')));
    ours.push(runOurs(job('ours')));
  }
  return { ours: medianRun(ours), theirs: medianRun(theirs) };
}

function toRun(o: Record<string, number | string>): RunResult {
  return { seconds: Number(o.seconds), peakMiB: Number(o.peak_rss_kib) / MiB, beforeMiB: Number(o.rss_before_kib) / MiB, bytes: Number(o.bytes), calibrationSeconds: o.calibration_seconds === undefined ? undefined : Number(o.calibration_seconds) };
}

const tsxCli = require.resolve('tsx/cli', { paths: [root] });

function runOurs(job: Job): RunResult {
  return toRun(h.runJson(`ours (${path.basename(job.model)}, ${job.method})`, process.execPath, [tsxCli, __filename, '--child', JSON.stringify(job)]));
}

let ortPyVersion = '';
/** --ort-entropy-bins: ORT's entropy with TensorRT's histogram (0: ORT's defaults). */
let ortEntropyBins = 0;
function runOrt(python: string, job: Job): RunResult {
  const o = ortQuantize.runOrtQuantize(python, { ...job, opTypes: OP_TYPES, entropyBins: job.method === 'entropy' ? ortEntropyBins : 0 });
  ortPyVersion = String(o.ort);
  return toRun(o);
}

// ---------------------------------------------------------------------------------------------- agreement

function toOrt(feeds: Feeds): Record<string, OrtTensor> {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)]));
}

/** The first output of `model` for every held-out feed, in onnxruntime-node. */
async function outputsOf(model: string, heldOut: Feeds[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model, h.ortSessionOptions({ intraOpNumThreads: os.availableParallelism() }));
  try {
    const out: Float32Array[] = [];
    for (const feeds of heldOut) out.push((await session.run(toOrt(feeds)))[session.outputNames[0]].data as Float32Array);
    return out;
  } finally {
    await session.release();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}

const argmax = (a: Float32Array) => a.reduce((best, x, i) => (x > a[best] ? i : best), 0);

interface Agreement {
  cosine: number;
  minCosine: number;
  /** Share of held-out inputs whose top-1 class equals FP32's (batch 1 logits). */
  top1: number;
}

function agreement(reference: Float32Array[], quantized: Float32Array[]): Agreement {
  const cos = reference.map((r, i) => cosine(r, quantized[i]));
  const top1 = reference.filter((r, i) => argmax(r) === argmax(quantized[i])).length / reference.length;
  return { cosine: cos.reduce((s, c) => s + c, 0) / cos.length, minCosine: Math.min(...cos), top1 };
}

// ---------------------------------------------------------------------------------------------- cases

interface Case {
  name: string;
  model: string;
  classifier: boolean;
  calibration: () => Promise<Feeds[]>;
  heldOut: () => Promise<Feeds[]>;
}

async function collect(source: AsyncIterable<Feeds>): Promise<Feeds[]> {
  const out: Feeds[] = [];
  for await (const feeds of source) out.push(feeds);
  return out;
}

function zooCase(name: string, zooName: string, calibration: number, heldOut: number): Case {
  const model = helpers.zooModels().find((m) => m.name === zooName);
  if (model === undefined) throw new Error(`${zooName} is not in ../shared/zoo/manifest.json`);
  const seeds = (from: number, count: number) => Array.from({ length: count }, (_, i) => helpers.zooFeeds(model, from + i));
  return {
    name,
    model: helpers.zooModelPath(zooName),
    classifier: true,
    calibration: async () => seeds(1, calibration),
    heldOut: async () => seeds(calibration + 1, heldOut),
  };
}

function cases(): Case[] {
  if (!helpers.zooAvailable) throw new Error('../shared/zoo not found (EDGEINFER_ZOO names another folder)');
  return [
    {
      name: 'embedding',
      model: helpers.fetchModels()['embedding_model.onnx'],
      classifier: false,
      calibration: () => collect(helpers.embeddingWindows()),
      heldOut: () => collect(helpers.embeddingWindows({ offset: 4 })),
    },
    zooCase('bert', 'tfm_bert_small_cls', 64, 256),
    zooCase('cnn', 'cnn_resnet18', 64, 64),
    zooCase('kws', 'kws_dscnn', 256, 256),
  ];
}

// ---------------------------------------------------------------------------------------------- main

function listArg(flag: string, all: string[]): string[] {
  const i = process.argv.indexOf(flag);
  if (i < 0) return all;
  const list = (process.argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = list.filter((x) => !all.includes(x));
  if (list.length === 0 || unknown.length > 0) throw new Error(`${flag} takes a comma-separated subset of ${all.join(',')}, got '${process.argv[i + 1] ?? ''}'`);
  return list;
}

async function main(): Promise<void> {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) return child(JSON.parse(process.argv[childAt + 1]) as Job);

  loadParentModules();
  const args = h.parseArgs();
  const report = new h.Reporter(args);
  const all = cases();
  const only = listArg('--models', all.map((c) => c.name));
  const methods = listArg('--methods', METHODS) as Method[];
  const repeats = process.argv.includes('--repeats') ? Number(process.argv[process.argv.indexOf('--repeats') + 1]) : 5;
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`--repeats must be a positive integer, got ${process.argv[process.argv.indexOf('--repeats') + 1]}`);
  const binsAt = process.argv.indexOf('--ort-entropy-bins');
  ortEntropyBins = binsAt >= 0 ? Number(process.argv[binsAt + 1]) : 0;
  if (!(Number.isInteger(ortEntropyBins) && (ortEntropyBins === 0 || ortEntropyBins >= 256))) throw new Error(`--ort-entropy-bins must be an integer >= 256, got ${process.argv[binsAt + 1]}`);
  const py = ortQuantize.quantizePython();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-quantizer-bench-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  const baseline = (method?: Method) => `ort-${ortPyVersion.split('.').slice(0, 2).join('.')} quantize_static${method === 'entropy' && ortEntropyBins ? ` (entropy: ${ortEntropyBins} bins, 128 quantized)` : ''}`;
  /** Rows of the side-by-side table printed at the end (without --json). */
  const rows: string[][] = [];

  for (const c of all.filter((x) => only.includes(x.name))) {
    h.progress(`${c.name}: ${path.basename(c.model)}`);
    const calibration = await c.calibration();
    const heldOut = await c.heldOut();
    const calib = writeFeedFolder(path.join(work, `${c.name}-calib`), calibration);
    const reference = await outputsOf(c.model, heldOut);
    h.progress(`${c.name}: ${calibration.length} calibration samples, ${heldOut.length} held out`);
    for (const method of methods) {
      const job = (side: string): Job => ({ model: c.model, out: path.join(work, `${c.name}-${method}-${side}.onnx`), method, calib });
      const { ours, theirs } = runBoth(py, job, repeats);
      const ourAgreement = agreement(reference, await outputsOf(job('ours').out, heldOut));
      const theirAgreement = agreement(reference, await outputsOf(job('ort').out, heldOut));
      h.progress(`${c.name} ${method}: ours ${ours.seconds.toFixed(2)} s / ORT ${theirs.seconds.toFixed(2)} s, cosine ${ourAgreement.cosine.toFixed(5)} / ${theirAgreement.cosine.toFixed(5)}`);
      const common = { bench: 'quantizer', baseline: baseline(method), samples: calibration.length, held_out: heldOut.length, runs: repeats };
      report.add({ ...common, case: `${c.name},${method},time`, ours: ours.seconds, baseline_value: theirs.seconds, unit: 's', speedup: theirs.seconds / ours.seconds, ours_calibration_s: ours.calibrationSeconds });
      report.add({
        ...common,
        case: `${c.name},${method},peak-rss`,
        ours: ours.peakMiB,
        baseline_value: theirs.peakMiB,
        unit: 'MiB',
        speedup: theirs.peakMiB / ours.peakMiB,
        rss_before_mib: ours.beforeMiB,
        baseline_rss_before_mib: theirs.beforeMiB,
      });
      report.add({
        ...common,
        case: `${c.name},${method},cosine`,
        ours: ourAgreement.cosine,
        baseline_value: theirAgreement.cosine,
        unit: 'cos',
        speedup: (1 - theirAgreement.cosine) / (1 - ourAgreement.cosine),
        min: ourAgreement.minCosine,
        baseline_min: theirAgreement.minCosine,
        bytes: ours.bytes,
        baseline_bytes: theirs.bytes,
      });
      if (c.classifier) report.add({ ...common, case: `${c.name},${method},top1`, ours: ourAgreement.top1 * 100, baseline_value: theirAgreement.top1 * 100, unit: '%', speedup: ourAgreement.top1 / theirAgreement.top1 });
      rows.push([
        c.name,
        method,
        `${h.fmt(ours.seconds)} / ${h.fmt(theirs.seconds)}`,
        `${ours.peakMiB.toFixed(0)} (+${(ours.peakMiB - ours.beforeMiB).toFixed(0)}) / ${theirs.peakMiB.toFixed(0)} (+${(theirs.peakMiB - theirs.beforeMiB).toFixed(0)})`,
        `${(1 - ourAgreement.cosine).toExponential(1)} / ${(1 - theirAgreement.cosine).toExponential(1)}`,
        c.classifier ? `${(ourAgreement.top1 * 100).toFixed(1)} / ${(theirAgreement.top1 * 100).toFixed(1)}` : '-',
        `${(ours.bytes / 1e6).toFixed(2)} / ${(theirs.bytes / 1e6).toFixed(2)}`,
      ]);
      for (const side of ['ours', 'ort']) fs.rmSync(job(side).out, { force: true });
    }
    fs.rmSync(calib, { recursive: true, force: true });
  }

  // Streaming: peak RSS for 100 vs 1000 embedding windows (entropy: a histogram method), ours and ORT's.
  if (!process.argv.includes('--no-streaming')) {
    const model = helpers.fetchModels()['embedding_model.onnx'];
    const method: Method = 'entropy';
    const measured: Record<number, { ours: RunResult; theirs: RunResult }> = {};
    for (const count of [100, 1000]) {
      const calib = writeFeedFolder(path.join(work, `stream-${count}`), await collect(helpers.embeddingWindows({ count })));
      const job = (side: string): Job => ({ model, out: path.join(work, `stream-${count}-${side}.onnx`), method, calib });
      measured[count] = runBoth(py, job, repeats);
      h.progress(`streaming ${count} windows: ours ${measured[count].ours.peakMiB.toFixed(0)} MiB in ${measured[count].ours.seconds.toFixed(1)} s, ORT ${measured[count].theirs.peakMiB.toFixed(0)} MiB in ${measured[count].theirs.seconds.toFixed(1)} s`);
      fs.rmSync(calib, { recursive: true, force: true });
    }
    const ratio = (side: 'ours' | 'theirs') => measured[1000][side].peakMiB / measured[100][side].peakMiB;
    const common = { bench: 'quantizer', baseline: baseline('entropy'), runs: repeats };
    report.add({
      ...common,
      case: `embedding,${method},rss-1000/100`,
      ours: ratio('ours'),
      baseline_value: ratio('theirs'),
      unit: 'x',
      speedup: ratio('theirs') / ratio('ours'),
      ours_100_mib: measured[100].ours.peakMiB,
      ours_1000_mib: measured[1000].ours.peakMiB,
      baseline_100_mib: measured[100].theirs.peakMiB,
      baseline_1000_mib: measured[1000].theirs.peakMiB,
    });
    const t = (side: 'ours' | 'theirs') => measured[1000][side].seconds;
    report.add({ ...common, case: `embedding,${method},time-1000`, ours: t('ours'), baseline_value: t('theirs'), unit: 's', speedup: t('theirs') / t('ours') });
  }

  // The side-by-side table: on stdout before the harness table, or on stderr with --json (stdout is JSON lines).
  if (rows.length > 0) {
    const header = ['model', 'method', 'time s', 'peak RSS MiB (+ over start)', '1 - cosine vs FP32', 'top-1 = FP32 %', 'size MB'];
    const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
    const text = [`ours / ${baseline('entropy')}, side by side (medians of ${repeats} runs; agreement on held-out inputs in onnxruntime-node)`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
    (args.json ? process.stderr : process.stdout).write(`\n${text.join('\n')}\n\n`);
  }
  report.finish();
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
