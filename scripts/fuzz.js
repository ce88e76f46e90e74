#!/usr/bin/env node
// npm run fuzz — the libFuzzer harnesses of cpp/fuzz/ (one per core entry point that takes caller data),
// built with clang++ -fsanitize=fuzzer,address,undefined in build-fuzz/ and run for a fixed time each over a
// COPY of the committed seed corpus (cpp/fuzz/corpus/<harness>/ is never modified). Prints one line per
// harness (executions, coverage, corpus, crashes) and exits non-zero if any harness found a crash, a sanitizer
// report, a timeout or an out-of-memory. Crashing inputs are saved to build-fuzz/crashes/<harness>/; rerun
// one with `build-fuzz/<harness> build-fuzz/crashes/<harness>/<file>`.
// Options:
//   --seconds N      time per harness (default 60)
//   --only a,b       run only these harnesses (fuzz_plan, fuzz_packed_weights, fuzz_tensor_desc)
//   --parallel N     harnesses run at once (default: the CPU count, at most the number of harnesses)
//   --jobs N         build jobs (default 2)
//   --make-corpus    rewrite cpp/fuzz/corpus/ from cpp/fuzz/make_corpus.cc and exit
// Without clang++ it says why and exits 0, except in CI (CI=true), where it fails.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-fuzz');
const corpusRoot = path.join(root, 'cpp', 'fuzz', 'corpus');
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const seconds = Number(arg('--seconds', '60'));
const jobs = arg('--jobs', '2');
if (!(Number.isInteger(seconds) && seconds > 0)) {
  console.error('--seconds must be a positive integer');
  process.exit(2);
}

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

function run(title, command, args, options = {}) {
  console.log(`\n== ${title}: ${[command, ...args].join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error || result.status !== 0) {
    console.error(`${title} failed (${result.error ? result.error.message : `exit ${result.status}`})`);
    process.exit(1);
  }
  console.log(`   ${title}: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// libFuzzer ships with clang (clang_rt.fuzzer, Debian: libclang-rt-<version>-dev or part of clang itself).
const cxx = [process.env.CXX, 'clang++-14', 'clang++'].find((c) => c && /clang/.test(c) && have(c));
if (!cxx) {
  const why = 'fuzz skipped: clang++ not found (apt-get install clang libclang-rt-14-dev)';
  if (process.env.CI) {
    console.error(`${why}; CI must run the fuzzers`);
    process.exit(1);
  }
  console.log(why);
  process.exit(0);
}

const harnesses = fs.readdirSync(path.join(root, 'cpp', 'fuzz'))
  .filter((f) => /^fuzz_.*\.cc$/.test(f)).map((f) => f.replace(/\.cc$/, '')).sort();
const only = arg('--only', undefined);
const selected = only ? only.split(',') : harnesses;
for (const name of selected) {
  if (!harnesses.includes(name)) {
    console.error(`unknown harness ${name} (have: ${harnesses.join(', ')})`);
    process.exit(2);
  }
}

const started = Date.now();
run(`configure build-fuzz (${cxx}, libFuzzer + ASan + UBSan)`, 'cmake', ['-S', 'cpp', '-B', buildDir,
  `-DCMAKE_CXX_COMPILER=${cxx}`, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DEDGEINFER_BUILD_TESTS=OFF',
  '-DEDGEINFER_BUILD_BENCH=OFF', '-DEDGEINFER_BUILD_FUZZERS=ON', '-DEDGEINFER_SANITIZE=address,undefined']);
const targets = process.argv.includes('--make-corpus') ? ['make_fuzz_corpus'] : selected;
run('build the fuzz harnesses', 'cmake', ['--build', buildDir, '--parallel', jobs, '--target', ...targets]);
const buildSeconds = (Date.now() - started) / 1000;

const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:allocator_may_return_null=0',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
delete env.EDGEINFER_ISA;

if (process.argv.includes('--make-corpus')) {
  for (const name of harnesses) fs.rmSync(path.join(corpusRoot, name), { recursive: true, force: true });
  run('write the seed corpus', path.join(buildDir, 'make_fuzz_corpus'), [corpusRoot], { env });
  process.exit(0);
}

// One harness: a fresh copy of its seeds, libFuzzer for `seconds`, the log in build-fuzz/logs/.
function fuzzOne(name) {
  const work = path.join(buildDir, 'corpus', name);
  const crashes = path.join(buildDir, 'crashes', name);
  const logs = path.join(buildDir, 'logs');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(crashes, { recursive: true });
  fs.mkdirSync(logs, { recursive: true });
  const seeds = path.join(corpusRoot, name);
  if (fs.existsSync(seeds)) fs.cpSync(seeds, work, { recursive: true });
  const before = new Set(fs.readdirSync(crashes));
  const args = [`-max_total_time=${seconds}`, '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1',
    `-artifact_prefix=${crashes}${path.sep}`, work];
  const logFile = path.join(logs, `${name}.log`);
  return new Promise((resolve) => {
    const out = fs.openSync(logFile, 'w');
    const child = spawn(path.join(buildDir, name), args, { cwd: root, env, stdio: ['ignore', out, out] });
    child.on('error', (error) => {
      fs.closeSync(out);
      resolve({ name, status: -1, error: error.message, logFile, newCrashes: [] });
    });
    child.on('exit', (status, signal) => {
      fs.closeSync(out);
      const newCrashes = fs.readdirSync(crashes).filter((f) => !before.has(f));
      resolve({ name, status, signal, logFile, newCrashes });
    });
  });
}

function summarize(result) {
  const log = fs.readFileSync(result.logFile, 'utf8');
  const stat = (key) => (log.match(new RegExp(`stat::${key}:\\s+(\\d+)`)) || [])[1];
  const lines = log.split('\n').filter((l) => /^#\d+\s/.test(l) && /cov: /.test(l));
  const last = lines[lines.length - 1] || '';
  const field = (key) => (last.match(new RegExp(`${key}: (\\d+)`)) || [])[1] ?? '?';
  const execs = stat('number_of_executed_units') ?? (last.match(/^#(\d+)/) || [])[1] ?? '?';
  const rate = execs !== '?' ? ` (${Math.round(Number(execs) / seconds)}/s)` : '';
  const crashed = result.status !== 0 || result.newCrashes.length > 0;
  console.log(`${result.name}: ${execs} execs in ${seconds} s${rate}, cov ${field('cov')}, ft ${field('ft')}, ` +
    `corpus ${field('corp').replace(/\/.*/, '')}, crashes ${result.newCrashes.length}` +
    `${crashed ? ` — FAILED (exit ${result.status}${result.signal ? `, ${result.signal}` : ''})` : ''}`);
  if (crashed) {
    const tail = log.split('\n').slice(-60).join('\n');
    console.log(`--- last lines of ${path.relative(root, result.logFile)} ---\n${tail}`);
    for (const f of result.newCrashes) console.log(`   crashing input: ${path.relative(root, path.join(buildDir, 'crashes', result.name, f))}`);
  }
  return !crashed;
}

async function main() {
  const parallel = Math.max(1, Math.min(Number(arg('--parallel', String(os.availableParallelism?.() ?? 2))), selected.length));
  console.log(`\n== fuzz ${selected.join(', ')}: ${seconds} s each, ${parallel} at a time (logs in build-fuzz/logs/)`);
  const fuzzStarted = Date.now();
  const queue = [...selected];
  const results = [];
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (queue.length > 0) results.push(await fuzzOne(queue.shift()));
  }));
  console.log('');
  let ok = true;
  for (const name of selected) ok = summarize(results.find((r) => r.name === name)) && ok;
  const total = (Date.now() - started) / 1000;
  console.log(`\nfuzz: build ${buildSeconds.toFixed(1)} s, fuzzing ${((Date.now() - fuzzStarted) / 1000).toFixed(1)} s, total ${total.toFixed(1)} s`);
  if (!ok) {
    console.error('fuzz: a harness crashed (inputs in build-fuzz/crashes/)');
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
