#!/usr/bin/env node
// npm test: build what is stale (addon + C++ tests via cmake-js, incremental), type-check, run the C++ tests
// (ctest), the mocha specs, then the distillation factory's pytest suite (distill/tests) in its venv
// (scripts/distill-venv.js; without one, skipped with the reason printed). `--only cpp|js|py` runs one part.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

function run(title, command, args, options = {}) {
  console.log(`\n== ${title}: ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    console.error(`${title} could not start: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`${title} failed (exit ${result.status})`);
    process.exit(result.status || 1);
  }
}

const bin = (pkg, file) => require.resolve(`${pkg}/${file}`, { paths: [root] });
const jobs = String(Math.max(1, require('node:os').availableParallelism?.() ?? 2));

if (only === 'py') {
  pytest();
  process.exit(0);
}

run('build (addon + C++ tests)', process.execPath, [bin('cmake-js', 'bin/cmake-js'), 'build', '--CDNAPI_VERSION=8', '--parallel', jobs]);
if (only !== 'cpp') run('type-check', process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
if (only !== 'js') run('C++ tests', 'ctest', ['--test-dir', 'build', '--output-on-failure', '--no-tests=error']);
if (only !== 'cpp') run('mocha specs', process.execPath, [bin('mocha', 'bin/mocha.js')]);
if (only === undefined) pytest();

/** The Python factory's tests, in the venv distill() uses ($EDGEINFER_DISTILL_VENV, else .cache/venv-distill). */
function pytest() {
  const { defaultDir } = require('./distill-venv.js');
  const python = path.join(defaultDir(), 'bin', 'python');
  const probe = spawnSync(python, ['-c', 'import torch, pytest, onnxruntime, edgeinfer_distill'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`\n== pytest (distill/tests): skipped, ${python} cannot import torch / pytest / onnxruntime / edgeinfer_distill (make it with \`node scripts/distill-venv.js\`)`);
    return;
  }
  run('pytest (distill/tests)', python, ['-m', 'pytest', '-q', 'tests'], { cwd: path.join(root, 'distill') });
}
