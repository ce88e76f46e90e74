/**
 * The machine a report describes: CPU model, cores, memory, the ISA our dispatch chose and its kernels, Node,
 * ONNX Runtime and edgeinfer versions. Recorded by a report run (bench/results/latest-machine.json) so that
 * re-rendering elsewhere with --from-results still names the machine that measured.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Machine {
  recorded: string;
  cpu: string;
  arch: string;
  logicalCores: number;
  memoryGiB: number;
  os: string;
  isa: string;
  cpuFeatures: string[];
  kernels: Record<string, string>;
  node: string;
  onnxruntime: string | null;
  edgeinfer: string;
  commit: string | null;
}

export const MACHINE_FILE = 'latest-machine.json';

function cpuModel(): string {
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const m = /^(model name|Hardware|CPU part)\s*:\s*(.+)$/m.exec(info);
    if (m) return m[2].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function describeMachine(root: string): Machine {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { simdInfo } = require('../../lib') as typeof import('../../lib');
  const simd = simdInfo();
  let onnxruntime: string | null = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    onnxruntime = (require(require.resolve('onnxruntime-node/package.json', { paths: [root] })) as { version: string }).version;
  } catch {
    onnxruntime = null;
  }
  const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
  const commit = git.status === 0 ? `${git.stdout.trim()}${dirty.stdout.trim() ? ' (with local changes)' : ''}` : null;
  return {
    recorded: new Date().toISOString(),
    cpu: cpuModel(),
    arch: process.arch,
    logicalCores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    isa: simd.isa,
    cpuFeatures: simd.features,
    kernels: Object.fromEntries(Object.entries(simd.kernels).map(([op, k]) => [op, k.kernel])),
    node: process.version,
    onnxruntime,
    edgeinfer: (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version,
    commit,
  };
}

export function readMachine(dir: string): Machine | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MACHINE_FILE), 'utf8')) as Machine;
  } catch {
    return null;
  }
}
