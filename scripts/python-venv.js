#!/usr/bin/env node
// node scripts/python-venv.js [dir]
//
// The Python environment of bench/quantizer.bench.ts (the baseline, ONNX Runtime's quantize_static): a venv
// with onnxruntime, onnx and numpy, made if missing. Default folder: $EDGEINFER_QUANT_VENV, else
// .cache/venv-quant. Packages come from the local sources pip's own configuration names (`pip config list`:
// find-links folders and file:// indexes) when there are any, so no unreachable index is retried; otherwise
// from pip's configured index as usual. These flags are the benchmark's business only: the package's own
// install steps never use them. Python: $EDGEINFER_PYTHON, else python3. onnxruntime version:
// $EDGEINFER_ORT_PY_VERSION, else 1.30.0 (the version the results in bench/RESULTS.md name).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const defaultDir = () => process.env.EDGEINFER_QUANT_VENV || path.join(root, '.cache', 'venv-quant');
const packages = () => [`onnxruntime==${process.env.EDGEINFER_ORT_PY_VERSION || '1.30.0'}`, 'onnx', 'numpy'];
const CHECK = 'import numpy, onnx, onnxruntime, onnxruntime.quantization; print(onnxruntime.__version__)';

function sh(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

/** The venv's python when it imports what the bench needs (its onnxruntime version), else null. */
function check(python) {
  if (!fs.existsSync(python)) return null;
  const r = sh(python, ['-c', CHECK]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** pip flags for the local sources in pip's configuration: --find-links folders and file:// indexes. */
function localSourceFlags(python) {
  const r = sh(python, ['-m', 'pip', 'config', 'list']);
  if (r.status !== 0) return [];
  const findLinks = new Set();
  const indexes = new Set();
  for (const line of r.stdout.split('\n')) {
    const m = /^[^=]*\.(find-links|index-url|extra-index-url)='(.*)'$/.exec(line.trim());
    if (!m) continue;
    for (const value of m[2].split(/\s+/).filter(Boolean)) {
      if (m[1] === 'find-links') findLinks.add(value);
      else if (value.startsWith('file:')) indexes.add(value);
    }
  }
  const flags = [...findLinks].flatMap((f) => ['--find-links', f]);
  const [first, ...rest] = [...indexes];
  if (first === undefined) return flags.length > 0 ? ['--no-index', ...flags] : [];
  // A file:// index replaces the default (remote) one; no remote index is asked.
  return [...flags, '--index-url', first, ...rest.flatMap((i) => ['--extra-index-url', i])];
}

/**
 * Makes the venv if it is missing or incomplete and returns its python. Throws an Error saying what failed
 * and how to make the venv by hand.
 */
function ensureVenv(dir = defaultDir(), log = (m) => process.stderr.write(`[python-venv] ${m}\n`)) {
  const python = path.join(dir, 'bin', 'python');
  const version = check(python);
  if (version) return { python, version };
  const base = process.env.EDGEINFER_PYTHON || 'python3';
  const hint = `make it with \`node scripts/python-venv.js ${dir}\` (needs ${base} with venv and pip, and onnxruntime, onnx, numpy on pip's index or local mirror), or point EDGEINFER_QUANT_VENV at a venv that has them`;
  if (!fs.existsSync(python)) {
    log(`creating ${dir} with ${base}`);
    const r = sh(base, ['-m', 'venv', dir]);
    if (r.status !== 0) throw new Error(`cannot create the Python venv ${dir}: ${(r.error?.message ?? r.stderr).trim()}; ${hint}`);
  }
  const flags = localSourceFlags(python);
  log(`pip install ${[...flags, ...packages()].join(' ')}`);
  const r = sh(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...flags, ...packages()], { stdio: ['ignore', 'inherit', 'inherit'] });
  const installed = r.status === 0 ? check(python) : null;
  if (!installed) throw new Error(`pip could not install ${packages().join(', ')} into ${dir}; ${hint}`);
  return { python, version: installed };
}

module.exports = { ensureVenv, defaultDir, localSourceFlags };

if (require.main === module) {
  try {
    const { python, version } = ensureVenv(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
    console.log(`${python} (onnxruntime ${version})`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
