#!/usr/bin/env node
// prebuildify calls node-gyp; this stands in for it and builds the addon with cmake-js instead.
// prebuildify runs it as `<shim> rebuild --target=… --devdir=… --arch=<arch> --release` in its --cwd (a
// staging folder) and takes the result from <cwd>/build/Release, so the source tree's build/ is never
// overwritten by a foreign architecture.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const option = (name) => args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
const arch = option('arch') ?? process.arch;

const cmakeArgs = ['rebuild', '-d', root, '-O', path.join(process.cwd(), 'build'), '--arch', arch, '--CDNAPI_VERSION=8',
  '--target', 'edgeinfer_addon', args.includes('--debug') ? '--debug' : '--config', ...(args.includes('--debug') ? [] : ['Release'])];
if (arch !== process.arch) {
  if (arch !== 'arm64') {
    console.error(`prebuild-shim: cross-building for ${arch} is not set up (only arm64 from ${process.arch})`);
    process.exit(1);
  }
  cmakeArgs.push(`--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`);
}
const result = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js', { paths: [root] }), ...cmakeArgs], { stdio: 'inherit' });
process.exit(result.status ?? 1);
