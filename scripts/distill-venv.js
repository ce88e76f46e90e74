#!/usr/bin/env node
// node scripts/distill-venv.js [dir] [--check]
//
// The Python environment of the distillation factory (distill/, driven by lib/distill and `edgeinfer distill`):
// a venv with torch, transformers, onnx, numpy, pytest and the local package ./distill (editable, so the
// checkout's sources are what runs), made or completed when something is missing. Default folder:
// $EDGEINFER_DISTILL_VENV, else .cache/venv-distill. Python: $EDGEINFER_PYTHON, else python3. Versions:
// $EDGEINFER_TORCH_VERSION (default 2.13.0+cpu), $EDGEINFER_TRANSFORMERS_VERSION (default 5.17.0).
// Packages come from the local sources pip's own configuration names (`pip config list`: find-links folders and
// file:// indexes) when there are any, so no unreachable index is retried (the same rule as
// scripts/python-venv.js); otherwise from pip's configured index as usual. These flags are this script's
// business only: the package's own install steps never use them.
//   --check   only report what the venv has (exit 1 when something is missing); install nothing.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// pip flags for the local sources in pip's configuration (find-links folders, file:// indexes): one rule for both venvs.
const { localSourceFlags } = require('./python-venv.js');

const root = path.join(__dirname, '..');
const localPackage = path.join(root, 'distill');
const defaultDir = () => process.env.EDGEINFER_DISTILL_VENV || path.join(root, '.cache', 'venv-distill');
const requirements = () => [
  `torch==${process.env.EDGEINFER_TORCH_VERSION || '2.13.0+cpu'}`,
  `transformers==${process.env.EDGEINFER_TRANSFORMERS_VERSION || '5.17.0'}`,
  'onnx',
  'numpy',
  'pytest',
];
// The modules distill() needs, in the order they are reported; edgeinfer_distill is the local package.
const MODULES = ['torch', 'transformers', 'onnx', 'numpy', 'pytest', 'edgeinfer_distill'];
const PROBE = [
  'import importlib, json',
  'found = {}',
  `for name in ${JSON.stringify(MODULES)}:`,
  '    try:',
  '        found[name] = getattr(importlib.import_module(name), "__version__", "?")',
  '    except Exception as error:',
  '        found[name] = None',
  'print(json.dumps(found))',
].join('\n');

function sh(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

/** { module: version or null } as the python imports them, or null when it does not run. */
function probe(python) {
  if (!fs.existsSync(python)) return null;
  const r = sh(python, ['-c', PROBE]);
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return null;
  }
}

const missingOf = (found) => MODULES.filter((m) => !found || found[m] === null || found[m] === undefined);

/**
 * Makes the venv if it is missing or incomplete and returns its python and module versions. Throws an Error
 * saying what failed and how to make the venv by hand.
 */
function ensureDistillVenv(dir = defaultDir(), log = (m) => process.stderr.write(`[distill-venv] ${m}\n`)) {
  const python = path.join(dir, 'bin', 'python');
  const before = probe(python);
  const hasLocal = fs.existsSync(path.join(localPackage, 'pyproject.toml'));
  const wanted = hasLocal ? MODULES : MODULES.filter((m) => m !== 'edgeinfer_distill');
  if (before && wanted.every((m) => before[m])) return { python, modules: before };
  const base = process.env.EDGEINFER_PYTHON || 'python3';
  const hint = `make it with \`node scripts/distill-venv.js ${dir}\` (needs ${base} >= 3.10 with venv and pip, and ${requirements().join(', ')} on pip's index or local mirror), or point EDGEINFER_DISTILL_VENV at a venv that has them and \`pip install -e distill\``;
  if (!fs.existsSync(python)) {
    log(`creating ${dir} with ${base}`);
    const r = sh(base, ['-m', 'venv', dir]);
    if (r.status !== 0) throw new Error(`cannot create the Python venv ${dir}: ${(r.error?.message ?? r.stderr).trim()}; ${hint}`);
  }
  const flags = localSourceFlags(python);
  const pip = (args) => {
    log(`pip install ${args.join(' ')}`);
    return sh(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...args], { stdio: ['ignore', 'inherit', 'inherit'] }).status === 0;
  };
  if (!before || missingOf(before).some((m) => m !== 'edgeinfer_distill')) {
    if (!pip([...flags, ...requirements()])) throw new Error(`pip could not install ${requirements().join(', ')} into ${dir}; ${hint}`);
  }
  // [test]: pytest and onnxruntime (the factory checks its QDQ exports against onnxruntime; npm test runs pytest).
  if (hasLocal && !pip([...flags, '-e', `${localPackage}[test]`])) throw new Error(`pip could not install the local package ${localPackage} into ${dir}; ${hint}`);
  if (!hasLocal) log(`${localPackage} does not exist (yet): the dependencies are installed, edgeinfer_distill is not`);
  const after = probe(python);
  const missing = missingOf(after).filter((m) => wanted.includes(m));
  if (missing.length > 0) throw new Error(`after installing, ${python} still cannot import ${missing.join(', ')}; ${hint}`);
  return { python, modules: after };
}

module.exports = { ensureDistillVenv, defaultDir, localSourceFlags, probe, MODULES, requirements };

if (require.main === module) {
  const args = process.argv.slice(2);
  const checkOnly = args.includes('--check');
  const positional = args.filter((a) => !a.startsWith('--'));
  const dir = positional[0] ? path.resolve(positional[0]) : defaultDir();
  try {
    if (checkOnly) {
      const python = path.join(dir, 'bin', 'python');
      const found = probe(python);
      const missing = missingOf(found);
      console.log(`${python}: ${found ? MODULES.map((m) => `${m} ${found[m] ?? 'MISSING'}`).join(', ') : 'no venv there'}`);
      process.exit(missing.length > 0 ? 1 : 0);
    }
    const { python, modules } = ensureDistillVenv(dir);
    console.log(`${python} (${MODULES.map((m) => `${m} ${modules[m] ?? 'missing'}`).join(', ')})`);
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
