#!/usr/bin/env node
// The `edgeinfer` command: the compiled CLI (dist/, what the package ships), or in a source checkout the
// TypeScript through tsx (a dev dependency), also when dist/ is older than an edited lib/ file: a stale
// dist/ would otherwise run the old code without a word.
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'cli', 'main.js');
const source = path.join(root, 'lib', 'cli', 'main.ts');

function newestSourceMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

function tsxAvailable() {
  try {
    require.resolve('tsx/cjs', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

function useSources() {
  if (!fs.existsSync(source) || !tsxAvailable()) return false; // the installed package: dist/ only
  if (!fs.existsSync(compiled)) return true;
  if (newestSourceMtime(path.join(root, 'lib')) <= fs.statSync(compiled).mtimeMs) return false;
  process.stderr.write('edgeinfer: lib/ is newer than dist/ (npm run build:ts); running the TypeScript sources\n');
  return true;
}

let cli;
if (useSources()) {
  require('tsx/cjs');
  cli = require(source);
} else {
  cli = require(compiled);
}
cli.main().then((code) => {
  process.exitCode = code;
});
