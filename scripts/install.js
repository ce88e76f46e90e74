#!/usr/bin/env node
// npm "install" hook: use a matching prebuild (or an existing local build) when one loads; otherwise build
// from source with cmake-js and say so. node-gyp-build's own fallback runs node-gyp, which has no
// binding.gyp to work with here.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

function loadsAlready() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (process.env.EDGEINFER_BUILD_FROM_SOURCE !== '1' && loadsAlready()) process.exit(0);

console.log(`edgeinfer: no prebuilt binary for ${process.platform}-${process.arch} (napi 8) loads here; building from source with cmake-js`);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--CDNAPI_VERSION=8', '--target', 'edgeinfer_addon'], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error('edgeinfer: building from source failed; a C++20 compiler (g++ >= 10 or clang >= 12) and cmake >= 3.18 are needed');
  process.exit(result.status ?? 1);
}
