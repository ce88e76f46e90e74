#!/usr/bin/env node
// npm run test:sanitizers — the C++ tests (cpp/tests, ctest) built with AddressSanitizer + UndefinedBehavior-
// Sanitizer in build-asan/ (RelWithDebInfo, no benchmarks; the addon build in build/ is not touched), run
// once with the kernel table's own choice and once per forced lower ISA level (EDGEINFER_ISA=ref, and avx2
// on an x86-64 CPU above it), so the paths the table picks are sanitized too. Any ASan or UBSan report
// aborts the test, which fails the step. Options:
//   --jobs N       build jobs (default 2)
//   --cxx PATH     compiler (default: CXX or the system c++; clang++ works as well)
//   --isa a,b      the forced levels to run after the default one (default: ref[,avx2])
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const buildDir = path.join(root, 'build-asan');
const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const jobs = arg('--jobs', '2');
const cxx = arg('--cxx', process.env.CXX);
// float-cast-overflow is part of clang's "undefined" group but not of gcc's: name it so both check it.
const sanitizers = 'address,undefined,float-cast-overflow';

function run(title, command, args, options = {}) {
  console.log(`\n== ${title}: ${[command, ...args].join(' ')}`);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    console.error(`${title} could not start: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`${title} failed (exit ${result.status}${result.signal ? `, ${result.signal}` : ''})`);
    process.exit(result.status || 1);
  }
  console.log(`   ${title}: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// Forced levels: ref everywhere; on x86-64 also avx2 when the CPU has more than avx2 (otherwise the default
// run already is the avx2 path). arm64: neon when the CPU has dotprod.
function defaultIsas() {
  const isas = ['ref'];
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return isas;
  }
  if (process.arch === 'x64' && /\bavx2\b/.test(cpuinfo) && /\b(avx512f|avx_vnni)\b/.test(cpuinfo)) isas.push('avx2');
  if (process.arch === 'arm64' && /\basimddp\b/.test(cpuinfo)) isas.push('neon');
  return isas;
}
const isas = (arg('--isa', undefined) ?? defaultIsas().join(',')).split(',').filter(Boolean);

const started = Date.now();
const configure = ['-S', 'cpp', '-B', buildDir, '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DEDGEINFER_BUILD_TESTS=ON',
  '-DEDGEINFER_BUILD_BENCH=OFF', '-DEDGEINFER_BUILD_FUZZERS=OFF', `-DEDGEINFER_SANITIZE=${sanitizers}`];
if (cxx) configure.push(`-DCMAKE_CXX_COMPILER=${cxx}`);
run('configure build-asan (ASan + UBSan)', 'cmake', configure);
run('build the C++ tests with sanitizers', 'cmake', ['--build', buildDir, '--parallel', jobs]);

const env = {
  ...process.env,
  // abort_on_error: a report kills the test (ctest sees the failure); leaks are errors too.
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};
delete env.EDGEINFER_ISA;
const ctest = ['--test-dir', buildDir, '--output-on-failure', '--no-tests=error', '--timeout', '600'];
run('ctest under ASan + UBSan (the table\'s choice)', 'ctest', ctest, { env });
for (const isa of isas) {
  run(`ctest under ASan + UBSan (EDGEINFER_ISA=${isa})`, 'ctest', ctest, { env: { ...env, EDGEINFER_ISA: isa } });
}
console.log(`\nsanitizers: all C++ tests clean (${isas.length + 1} runs) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
