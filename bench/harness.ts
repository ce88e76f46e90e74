/**
 * Shared pieces of the Node benchmarks: interleaved timing, statistics, single-thread ORT sessions with and
 * without the profiler, profile parsing, the C++ microbenchmark results, and output (JSON lines / tables).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

import type { Tensor } from '../lib';

export const root = path.join(__dirname, '..');

// ---------------------------------------------------------------------------------------------- arguments

export interface BenchArgs {
  json: boolean;
  /** Seconds of measured calls per side and case (each side of the interleave gets this much). */
  seconds: number;
}

export function parseArgs(argv = process.argv.slice(2)): BenchArgs {
  const json = argv.includes('--json');
  const i = argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(argv[i + 1]) : Number(process.env.EDGEINFER_BENCH_SECONDS ?? 0.4);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${argv[i + 1]}`);
  return { json, seconds };
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------- statistics

export interface Stats {
  n: number;
  median: number;
  p99: number;
  mean: number;
  min: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean, min: sorted[0] ?? NaN };
}

// ---------------------------------------------------------------------------------------------- timing

export interface Side {
  name: string;
  /** Synchronous sides are called without await, so no promise machinery is timed. */
  sync?: () => void;
  async?: () => Promise<unknown>;
  /** Share of the per-side time budget (default 1). */
  weight?: number;
  /** Upper bound of measured calls (e.g. to keep an ORT profile small). */
  maxCalls?: number;
}

export interface SideResult {
  name: string;
  /** Per-call times in microseconds. */
  us: number[];
  warmupCalls: number;
  stats: Stats;
}

const now = process.hrtime.bigint;
const BLOCK_SECONDS = 0.02;
const MIN_CALLS = 15;

async function timedCall(side: Side): Promise<number> {
  if (side.sync) {
    const t0 = now();
    side.sync();
    return Number(now() - t0) / 1e3;
  }
  const t0 = now();
  await side.async!();
  return Number(now() - t0) / 1e3;
}

/**
 * Measures every side per call with hrtime, in alternating blocks of ~20 ms (A-block, B-block, C-block,
 * A-block, ...) so that drift from other processes on the machine hits all sides alike. Each side first
 * warms up (>= 3 calls and >= 50 ms), then runs until it has spent `seconds * weight` in measured calls
 * (and at least MIN_CALLS calls, at most maxCalls).
 */
export async function interleave(sides: Side[], seconds: number): Promise<SideResult[]> {
  const state = sides.map((side) => ({ side, us: [] as number[], spent: 0, warmupCalls: 0, perCall: 0, budget: seconds * (side.weight ?? 1) }));
  for (const s of state) {
    const t0 = now();
    let last = 0;
    while (s.warmupCalls < 3 || Number(now() - t0) < 50e6) {
      last = await timedCall(s.side);
      s.warmupCalls++;
    }
    s.perCall = Math.max(last, 0.05);
  }
  const done = (s: (typeof state)[number]) =>
    (s.spent >= s.budget * 1e6 && s.us.length >= MIN_CALLS) || (s.side.maxCalls !== undefined && s.us.length >= s.side.maxCalls);
  while (!state.every(done)) {
    for (const s of state) {
      if (done(s)) continue;
      let block = Math.max(1, Math.round((BLOCK_SECONDS * 1e6) / s.perCall));
      if (s.side.maxCalls !== undefined) block = Math.min(block, s.side.maxCalls - s.us.length);
      for (let i = 0; i < block; i++) {
        const us = await timedCall(s.side);
        s.us.push(us);
        s.spent += us;
      }
      s.perCall = Math.max(s.spent / s.us.length, 0.05);
    }
  }
  return state.map((s) => ({ name: s.side.name, us: s.us, warmupCalls: s.warmupCalls, stats: stats(s.us) }));
}

// ---------------------------------------------------------------------------------------------- ONNX Runtime

export type Infer = (feeds: Record<string, Tensor>) => Promise<unknown>;

/** `clients` closed loops for `seconds`: each sends a request, awaits it, sends the next. */
export async function closedLoop(infer: Infer, feeds: Record<string, Tensor>[], clients: number, seconds: number): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let sent = 0;
  const client = async (id: number) => {
    while (performance.now() < end) {
      const start = performance.now();
      await infer(feeds[(id + sent++) % feeds.length]);
      latencies.push((performance.now() - start) * 1000);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, id) => client(id)));
  return { rate: latencies.length / ((performance.now() - started) / 1000), latencies };
}

export const ortVersion: string = require('onnxruntime-node/package.json').version;
export const ortTag = `ort-${ortVersion.split('.').slice(0, 2).join('.')}`;

export function ortSessionOptions(extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...extra,
  };
}

export interface ProfiledSession {
  session: ort.InferenceSession;
  /** Ends profiling, reads the trace and deletes it. */
  finish(): ProfileEvent[];
}

export interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string; [key: string]: unknown };
}

// Profile folders still on disk when the process exits (a failed case) are removed then.
const profileDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of profileDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export async function createProfiledSession(model: Uint8Array): Promise<ProfiledSession> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-ort-profile-'));
  profileDirs.add(dir);
  const session = await ort.InferenceSession.create(
    model,
    ortSessionOptions({ enableProfiling: true, profileFilePrefix: path.join(dir, 'ort') }),
  );
  return {
    session,
    finish() {
      session.endProfiling();
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
      if (files.length !== 1) throw new Error(`expected one ORT profile in ${dir}, found ${files.length}`);
      const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8')) as ProfileEvent[];
      fs.rmSync(dir, { recursive: true, force: true });
      profileDirs.delete(dir);
      return events;
    },
  };
}

export interface KernelTimes {
  /** Nodes ORT actually ran, in order, as "name(op_name)". */
  nodes: string[];
  /** Per run: the sum of the kernel times of all nodes (µs, ORT's integer-µs resolution). */
  perRunUs: number[];
  stats: Stats;
}

/**
 * The "<node>_kernel_time" events of a profile, minus the first `skipRuns` runs (warm-up), summed per run.
 * Each run emits one such event per node, so the k-th occurrence of every node belongs to run k.
 */
export function kernelTimes(events: ProfileEvent[], skipRuns: number): KernelTimes {
  const kernel = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts);
  const perNode = new Map<string, ProfileEvent[]>();
  for (const e of kernel) {
    const list = perNode.get(e.name) ?? [];
    list.push(e);
    perNode.set(e.name, list);
  }
  const nodes = [...perNode.keys()].map((name) => `${name.replace(/_kernel_time$/, '')}(${perNode.get(name)![0].args?.op_name ?? '?'})`);
  if (perNode.size === 0) throw new Error('the ORT profile holds no "<node>_kernel_time" events');
  const runs = Math.min(...[...perNode.values()].map((l) => l.length));
  if (runs <= skipRuns) throw new Error(`the ORT profile holds ${runs} runs, fewer than the ${skipRuns} warm-up runs to skip`);
  const perRunUs: number[] = [];
  for (let r = skipRuns; r < runs; r++) {
    let sum = 0;
    for (const list of perNode.values()) sum += list[r].dur;
    perRunUs.push(sum);
  }
  return { nodes, perRunUs, stats: stats(perRunUs) };
}

// ---------------------------------------------------------------------------------------------- C++ microbenchmarks

export interface CppLine {
  bench?: string;
  case?: string;
  variant?: string;
  ours?: number;
  unit?: string;
  [key: string]: unknown;
}

/**
 * JSON lines of a C++ microbenchmark (build/cpp/<name>): read from $EDGEINFER_CPP_RESULTS_DIR/<name>.jsonl
 * when the driver already ran it, else run the binary now. Null when the binary does not exist.
 */
export function cppResults(name: string, args: string[] = []): { lines: CppLine[]; source: string } | null {
  const dir = process.env.EDGEINFER_CPP_RESULTS_DIR;
  const cached = dir ? path.join(dir, `${name}.jsonl`) : undefined;
  let text: string;
  let source: string;
  if (cached && fs.existsSync(cached)) {
    text = fs.readFileSync(cached, 'utf8');
    source = cached;
  } else {
    const binDir = process.env.EDGEINFER_CPP_BENCH_DIR ?? path.join(root, 'build', 'cpp');
    const bin = path.join(binDir, name);
    if (!fs.existsSync(bin)) return null;
    progress(`running ${bin} --json ${args.join(' ')}`);
    const r = spawnSync(bin, ['--json', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) {
      progress(`${name} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return null;
    }
    text = r.stdout;
    source = bin;
  }
  const lines: CppLine[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(t) as CppLine);
    } catch {
      /* not a JSON line */
    }
  }
  return { lines, source };
}

/** "m=16,k=1024,n=1024,isa=avx512vnni" -> {m: "16", k: "1024", n: "1024", isa: "avx512vnni"} */
export function caseFields(c: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (c ?? '').split(/[ ,;]+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** Runs a child process that prints one JSON line last; a failure is an Error with the end of its output. */
export function runJson(title: string, command: string, args: string[]): Record<string, number | string> {
  const r = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.error || r.status !== 0 || !last.startsWith('{')) {
    const why = r.error ? r.error.message : `exit ${r.status}`;
    throw new Error(`${title} failed (${why}):\n${`${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n')}`);
  }
  return JSON.parse(last) as Record<string, number | string>;
}

// ---------------------------------------------------------------------------------------------- output

export interface ResultLine {
  bench: string;
  case: string;
  ours: number;
  baseline: string;
  baseline_value: number;
  unit: string;
  speedup: number;
  [key: string]: unknown;
}

const round = (x: number, digits = 4) => (Number.isFinite(x) ? Number(x.toPrecision(digits + 2)) : x);

export class Reporter {
  private readonly lines: ResultLine[] = [];
  constructor(private readonly args: BenchArgs) {}

  add(line: ResultLine): void {
    const clean: ResultLine = { ...line };
    for (const [k, v] of Object.entries(clean)) if (typeof v === 'number') (clean as Record<string, unknown>)[k] = round(v);
    this.lines.push(clean);
    if (this.args.json) process.stdout.write(`${JSON.stringify(clean)}\n`);
  }

  /** Without --json: one table at the end. */
  finish(): void {
    if (this.args.json) return;
    const rows = this.lines.map((l) => [l.bench, l.case, fmt(l.ours), fmt(l.baseline_value), l.unit, `${fmt(l.speedup)}x`, l.baseline]);
    printTable(['bench', 'case', 'ours', 'baseline', 'unit', 'speedup', 'baseline is'], rows);
  }
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : x.toFixed(3);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------- data

/** Deterministic xorshift32 PRNG so every run benchmarks the same data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
