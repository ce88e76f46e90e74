/**
 * Finding the Python that runs the distillation factory, and saying clearly what is missing when there is
 * none. Order: `options.python`; the venv in $EDGEINFER_DISTILL_VENV (default .cache/venv-distill under the
 * working directory) when it exists; $EDGEINFER_PYTHON; python3. In a source checkout the checkout's
 * distill/ folder goes first on PYTHONPATH, so its edgeinfer_distill is what runs even when the venv's
 * install of it is older.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError } from '../errors';

/** The modules the factory imports (edgeinfer_distill is the local package distill/). */
export const FACTORY_MODULES = ['torch', 'transformers', 'onnx', 'numpy', 'edgeinfer_distill'] as const;

const SETUP = 'run `node scripts/distill-venv.js` in an edgeinfer checkout (it makes .cache/venv-distill with torch, transformers, onnx, numpy, pytest and the local package distill/), or install them into your Python (`pip install torch transformers onnx numpy` and `pip install -e <edgeinfer>/distill`) and point EDGEINFER_PYTHON (or EDGEINFER_DISTILL_VENV, a venv folder) at it';

export interface PythonOptions {
  /** The python executable; overrides the environment variables. */
  python?: string;
  /** A venv folder; default $EDGEINFER_DISTILL_VENV, else .cache/venv-distill. */
  venv?: string;
}

export interface PythonEnvironment {
  python: string;
  /** Where the choice came from (option, venv, EDGEINFER_PYTHON, default). */
  source: string;
  version: string;
  /** Module -> version ('?' when it has none). */
  modules: Record<string, string>;
  /** CUDA GPUs PyTorch sees (0: none); null when the probe could not tell. */
  cudaDevices: number | null;
  /** The environment to spawn the factory with (PYTHONPATH with a source checkout's distill/). */
  env: NodeJS.ProcessEnv;
}

/** distill/ of a source checkout above this file, when there is one. */
export function localFactoryDir(): string | undefined {
  for (let dir = __dirname, up = 0; up < 4; dir = path.dirname(dir), up++) {
    const candidate = path.join(dir, 'distill');
    if (fs.existsSync(path.join(candidate, 'pyproject.toml')) && fs.existsSync(path.join(candidate, 'edgeinfer_distill'))) return candidate;
  }
  return undefined;
}

/** The python to use and why (no process is started). */
export function choosePython(options: PythonOptions = {}): { python: string; source: string } {
  if (options.python) return { python: options.python, source: 'the python option' };
  const venv = options.venv ?? process.env.EDGEINFER_DISTILL_VENV ?? path.join(process.cwd(), '.cache', 'venv-distill');
  const venvPython = path.join(venv, 'bin', 'python');
  if (fs.existsSync(venvPython)) return { python: venvPython, source: `the venv ${venv}` };
  if (process.env.EDGEINFER_PYTHON) return { python: process.env.EDGEINFER_PYTHON, source: 'EDGEINFER_PYTHON' };
  return { python: 'python3', source: `the default (no venv at ${venv}, EDGEINFER_PYTHON unset)` };
}

export function factoryEnv(): NodeJS.ProcessEnv {
  const local = localFactoryDir();
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
  if (local) env.PYTHONPATH = [local, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  return env;
}

const PROBE = [
  'import importlib, json, sys',
  'found = {}',
  `for name in ${JSON.stringify(FACTORY_MODULES)}:`,
  '    try:',
  '        found[name] = str(getattr(importlib.import_module(name), "__version__", "?"))',
  '    except Exception as error:',
  '        found[name] = None',
  'cuda = None',
  'if found.get("torch"):',
  '    import torch',
  '    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0',
  'print(json.dumps({"version": sys.version.split()[0], "modules": found, "cuda": cuda}))',
].join('\n');

/**
 * Checks that the chosen python runs and imports what the factory needs. Throws EDGEINFER_BACKEND_UNAVAILABLE
 * naming the python, what is missing and how to install it.
 */
export async function checkPython(options: PythonOptions = {}, required: readonly string[] = FACTORY_MODULES): Promise<PythonEnvironment> {
  const { python, source } = choosePython(options);
  const env = factoryEnv();
  const result = await new Promise<{ error?: { code?: string | number | null; message: string }; stdout: string; stderr: string }>((resolve) => {
    execFile(python, ['-c', PROBE], { env, timeout: 120_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => resolve({ error: error ?? undefined, stdout, stderr }));
  });
  if (result.error && (result.error.code === 'ENOENT' || result.error.code === 'EACCES')) {
    throw new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `Python is needed to distill and '${python}' (from ${source}) could not be started (${result.error.code}); ${SETUP}`, { python, missing: ['python'] });
  }
  let parsed: { version?: unknown; modules?: Record<string, string | null>; cuda?: unknown } | undefined;
  try {
    parsed = JSON.parse(result.stdout.trim().split('\n').pop() ?? '');
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed.version !== 'string' || typeof parsed.modules !== 'object' || parsed.modules === null) {
    const why = (result.stderr || result.error?.message || 'no output').trim().split('\n').slice(-3).join(' | ');
    throw new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `'${python}' (from ${source}) does not run as Python 3 (${why}); ${SETUP}`, { python, missing: ['python'] });
  }
  const [major, minor] = parsed.version.split('.').map(Number);
  if (major !== 3 || minor < 10) {
    throw new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `'${python}' (from ${source}) is Python ${parsed.version}; the factory needs Python >= 3.10; ${SETUP}`, { python, version: parsed.version, missing: ['python>=3.10'] });
  }
  const missing = required.filter((m) => !parsed!.modules![m]);
  if (missing.length > 0) {
    throw new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `'${python}' (Python ${parsed.version}, from ${source}) cannot import ${missing.join(', ')}, which the distillation factory needs; ${SETUP}`, { python, missing });
  }
  const modules = Object.fromEntries(Object.entries(parsed.modules).filter(([, v]) => v !== null)) as Record<string, string>;
  const cudaDevices = Number.isInteger(parsed.cuda) && (parsed.cuda as number) >= 0 ? (parsed.cuda as number) : null;
  return { python, source, version: parsed.version, modules, cudaDevices, env };
}
