#!/usr/bin/env node
// npm run bench [-- --json] [-- --only gemm|layernorm|models|...|zoo|quantizer|calibration-methods|sweep|grpc-load] [-- --seconds S] [-- --no-build]
// npm run bench:report = node scripts/bench.js --report [-- --from-results] (bench/report/index.ts: REPORT.md + charts)
//
// Builds what is stale (cmake-js build, incremental), runs the C++ microbenchmarks (build/cpp/bench_*,
// single thread) and the Node benchmarks against ONNX Runtime (bench/*.bench.ts through tsx, single thread),
// prints tables (or, with --json, the JSON lines only) and writes every JSON line to
// bench/results/latest.jsonl (bench/results/latest-<only>.jsonl with --only, so a partial run does not
// replace the full report). Progress goes to stderr.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const argv = process.argv.slice(2);

// The report runs the suites below one by one (this script with --only) and renders bench/results/REPORT.md.
if (argv.includes('--report')) {
  const tsxCli = require.resolve('tsx/cli', { paths: [root] });
  const r = spawnSync(process.execPath, [tsxCli, path.join(root, 'bench', 'report', 'index.ts'), ...argv.filter((a) => a !== '--report')], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const json = argv.includes('--json');
const noBuild = argv.includes('--no-build');
const valueOf = (flag) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
const only = valueOf('--only');
const seconds = valueOf('--seconds') ?? '0.5';

const SUITES = {
  gemm: { cpp: ['bench_gemm_s8'], node: ['bench/gemm.bench.ts'] },
  layernorm: { cpp: ['bench_layernorm_gelu'], node: ['bench/layernorm-gelu.bench.ts'] },
  // The openWakeWord models end to end (Engine FP32/INT8 vs ORT FP32, the wake-word pipeline, arena memory).
  // ... and the embedding model over spans of 16 windows (the voice features' path) against window by window.
  models: { cpp: [], node: ['bench/models.bench.ts', 'bench/embedding-span.bench.ts'] },
  // What async calls pay for owning their memory (input copies, output delivery).
  'async-copy': { cpp: [], node: ['bench/async-copy.bench.ts'] },
  // BatchScheduler: overhead per request, throughput and latency batched vs unbatched (wake-word head, zoo BERT).
  scheduler: { cpp: [], node: ['bench/scheduler.bench.ts'] },
  // Hot-swap memory and pause, event-loop delay: the Engine as a service, next to onnxruntime-node's own.
  service: { cpp: [], node: ['bench/service.bench.ts'] },
  // Every ../shared/zoo model on the default backend against ONNX Runtime on the same file.
  zoo: { cpp: [], node: ['bench/zoo.bench.ts'] },
  // quantizeModel vs ONNX Runtime's quantize_static (a Python venv made by scripts/python-venv.js): time, peak RSS, agreement.
  quantizer: { cpp: [], node: ['bench/quantizer.bench.ts'] },
  // The calibration methods on the wake-word scores of held-out speech (INT8 embedding + heads vs FP32), ours vs ORT's quantizer, same method.
  'calibration-methods': { cpp: [], node: ['bench/calibration-methods.bench.ts'] },
  // Latency vs batch size and vs concurrent clients (BatchScheduler), native vs the onnxruntime backend: the report's charts.
  sweep: { cpp: [], node: ['bench/report/sweep.bench.ts'] },
  // The gRPC service on loopback: concurrent InferStream streams and Infer callers, every request counted (--duration S, default 20).
  'grpc-load': { cpp: [], node: ['bench/grpc-load.bench.ts'] },
};
if (only !== undefined && !(only in SUITES)) {
  console.error(`--only must be one of ${Object.keys(SUITES).join(', ')}, got ${only}`);
  process.exit(2);
}
if (!(Number(seconds) > 0)) {
  console.error(`--seconds must be a positive number, got ${seconds}`);
  process.exit(2);
}

const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const bin = (pkg, file) => require.resolve(`${pkg}/${file}`, { paths: [root] });
const started = Date.now();

// ------------------------------------------------------------------------------------------------ build

if (!noBuild) {
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? 2));
  log(`building (incremental): cmake-js build --CDNAPI_VERSION=8 --parallel ${jobs}`);
  const r = spawnSync(process.execPath, [bin('cmake-js', 'bin/cmake-js'), 'build', '--CDNAPI_VERSION=8', '--parallel', jobs], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-40).join('\n'));
    log(`build failed (exit ${r.status}); benchmarks not run. Use --no-build to measure the existing build.`);
    process.exit(r.status || 1);
  }
}

// ------------------------------------------------------------------------------------------------ run

const results = [];
const cppDir = path.join(root, 'build', 'cpp');
const cppResultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-bench-'));
process.on('exit', () => fs.rmSync(cppResultsDir, { recursive: true, force: true }));
const suites = only ? [only] : Object.keys(SUITES);

function collect(text, source) {
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const object = JSON.parse(t);
      results.push(object);
      if (json) process.stdout.write(`${JSON.stringify(object)}\n`);
    } catch {
      log(`${source}: ignoring a line that is not JSON: ${t.slice(0, 80)}`);
    }
  }
}

let failed = false;
function run(title, command, args, env) {
  log(`${title}: ${[path.relative(root, command) || command, ...args].join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error || r.status !== 0) {
    log(`${title} failed (${r.error ? r.error.message : `exit ${r.status}`})`);
    failed = true;
  }
  log(`${title} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r.stdout ?? '';
}

// C++ microbenchmarks first; their JSON lines are handed to the Node benches (our kernel-level times).
for (const suite of suites) {
  for (const name of SUITES[suite].cpp) {
    const exe = path.join(cppDir, name);
    if (!fs.existsSync(exe)) {
      log(`${path.relative(root, exe)} not built; the Node bench falls back to our Node call time`);
      continue;
    }
    const out = run(name, exe, ['--json']);
    fs.writeFileSync(path.join(cppResultsDir, `${name}.jsonl`), out);
    collect(out, name);
  }
}
// Any other C++ microbenchmark (full runs only).
if (!only && fs.existsSync(cppDir)) {
  const known = new Set(Object.values(SUITES).flatMap((s) => s.cpp));
  for (const name of fs.readdirSync(cppDir).sort()) {
    const exe = path.join(cppDir, name);
    if (!name.startsWith('bench_') || known.has(name) || !fs.statSync(exe).isFile()) continue;
    collect(run(name, exe, ['--json']), name);
  }
}

const tsx = require.resolve('tsx/cli', { paths: [root] });
for (const suite of suites) {
  for (const file of SUITES[suite].node) {
    // --duration S (the gRPC load's length) passes through to the benches that take it.
    const extra = valueOf('--duration') !== undefined ? ['--duration', valueOf('--duration')] : [];
    const out = run(file, process.execPath, [tsx, file, '--json', '--seconds', seconds, ...extra], { EDGEINFER_CPP_RESULTS_DIR: cppResultsDir });
    collect(out, file);
  }
}
// ------------------------------------------------------------------------------------------------ report

const resultsDir = path.join(root, 'bench', 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const target = path.join(resultsDir, only ? `latest-${only}.jsonl` : 'latest.jsonl');
const tmp = `${target}.tmp`;
fs.writeFileSync(tmp, results.map((r) => JSON.stringify(r)).join('\n') + (results.length ? '\n' : ''));
fs.renameSync(tmp, target);

function fmt(x) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return String(x ?? '');
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : x.toFixed(3);
}

function table(title, rows) {
  const header = ['case', 'ours', 'baseline', 'unit', 'speedup', 'baseline is'];
  const cells = rows.map((r) => [
    String(r.case),
    fmt(r.ours),
    fmt(r.baseline_value),
    String(r.unit ?? ''),
    `${fmt(r.speedup)}x`,
    String(r.baseline ?? ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i >= 1 && i <= 4 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

if (!json) {
  // One table per bench and comparison kind (the word after the case's last space: node-call, kernel, ...).
  const groups = new Map();
  for (const r of results) {
    const c = String(r.case ?? '');
    const kind = c.includes(' ') ? c.slice(c.lastIndexOf(' ') + 1) : '';
    const key = kind ? `${r.bench}: ${kind}` : String(r.bench);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const [key, rows] of groups) table(key, rows);
  console.log(`\nspeedup > 1 means ours is better. ${results.length} results written to ${path.relative(root, target)}`);
}
log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s${failed ? ' (with failures)' : ''}`);
process.exit(failed ? 1 : 0);
