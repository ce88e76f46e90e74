#!/usr/bin/env node
// npm run prebuilds: stripped N-API binaries for linux-x64 and linux-arm64 in prebuilds/, made by prebuildify
// (through scripts/prebuild-shim.js, which builds with cmake-js), then a report of the glibc and libstdc++
// symbol versions each one needs. `--arch x64|arm64` builds one.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const only = process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : undefined;
const arches = only ? [only] : ['x64', 'arm64'];

function requiredVersions(file, prefix) {
  const dump = spawnSync('objdump', ['-T', file], { encoding: 'utf8' });
  const versions = new Set((dump.stdout.match(new RegExp(`${prefix}_[0-9.]+`, 'g')) ?? []));
  const sorted = [...versions].sort((a, b) => {
    const pa = a.split('_')[1].split('.').map(Number);
    const pb = b.split('_')[1].split('.').map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  });
  return sorted.at(-1) ?? 'none';
}

for (const arch of arches) {
  const staging = path.join(root, '.cache', `prebuild-${arch}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const args = [require.resolve('prebuildify/bin.js', { paths: [root] }), '--napi', '--strip', '--name', 'edgeinfer', '--arch', arch,
    '--cwd', staging, '--out', root, '--node-gyp', path.join(__dirname, 'prebuild-shim.js')];
  if (arch === 'arm64' && process.arch !== 'arm64') args.push('--strip-bin', 'aarch64-linux-gnu-strip');
  console.log(`\n== prebuild linux-${arch}`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`prebuild for linux-${arch} failed`);
    process.exit(1);
  }
  const folder = path.join(root, 'prebuilds', `linux-${arch}`);
  for (const file of fs.readdirSync(folder).filter((name) => name.endsWith('.node'))) {
    const full = path.join(folder, file);
    const dump = spawnSync('objdump', ['-p', full], { encoding: 'utf8' }).stdout;
    const needed = [...dump.matchAll(/NEEDED\s+(\S+)/g)].map((match) => match[1]);
    console.log(`   ${path.relative(root, full)}: ${(fs.statSync(full).size / 1024).toFixed(0)} KiB, needs ${requiredVersions(full, 'GLIBC')}` +
      `, ${requiredVersions(full, 'GLIBCXX')}, links ${needed.join(' ')}`);
  }
}
