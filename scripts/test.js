#!/usr/bin/env node
// npm test: build what is stale (addon + C++ tests via cmake-js, incremental), type-check, run the C++ tests
// (ctest), then the mocha specs. `--only cpp|js` runs one half.
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

run('build (addon + C++ tests)', process.execPath, [bin('cmake-js', 'bin/cmake-js'), 'build', '--CDNAPI_VERSION=8', '--parallel', jobs]);
if (only !== 'cpp') run('type-check', process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
if (only !== 'js') run('C++ tests', 'ctest', ['--test-dir', 'build', '--output-on-failure', '--no-tests=error']);
if (only !== 'cpp') run('mocha specs', process.execPath, [bin('mocha', 'bin/mocha.js')]);
