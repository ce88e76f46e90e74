#!/usr/bin/env node
// The `edgeinfer` command: the compiled CLI (dist/, what the package ships), or in a source checkout the
// TypeScript through tsx (a dev dependency).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
let cli;
if (fs.existsSync(compiled)) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'lib', 'cli', 'main.ts'));
}
cli.main().then((code) => {
  process.exitCode = code;
});
