/**
 * How to start a child Node process from a test, the same way this process runs: through tsx when the
 * specs run as TypeScript, plain when they were compiled to JS (the arm64 run), and behind the emulator
 * named by EDGEINFER_NODE_LAUNCHER (e.g. "qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu") because an
 * emulated process cannot exec a foreign binary by itself without binfmt_misc.
 */
import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'node:child_process';

const runningTypeScript = __filename.endsWith('.ts');

/**
 * The specs run under an emulator (the arm64 run under qemu-user: EDGEINFER_NODE_LAUNCHER names it): 10-30x
 * slower, and RSS is the emulator's. Specs whose subject does not depend on the ISA scale down their loops there
 * (their full size runs on x64).
 */
export const emulated = (process.env.EDGEINFER_NODE_LAUNCHER ?? '').trim() !== '';

/** Node flags that make a child able to require the lib/ sources this process uses. */
export function childNodeFlags(): string[] {
  return runningTypeScript ? ['--require', require.resolve('tsx/cjs')] : [];
}

/** A line for worker_threads `eval` sources that does what childNodeFlags() does for processes. */
export function workerPrelude(): string {
  return runningTypeScript ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
}

export function spawnNode(args: string[], options: Partial<SpawnSyncOptionsWithStringEncoding> = {}): SpawnSyncReturns<string> {
  const launcher = (process.env.EDGEINFER_NODE_LAUNCHER ?? '').split(' ').filter(Boolean);
  const [command, ...prefix] = launcher.length > 0 ? [...launcher, process.execPath] : [process.execPath];
  const spawnOnce = () => spawnSync(command, [...prefix, ...childNodeFlags(), ...args], { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  let result = spawnOnce();
  // Under qemu-user a forked child can deadlock before it execs; scripts/qemu-fork-watchdog.js (started by
  // test:arm64) kills it, and it is started again: killed without a byte of output, it never ran.
  for (let retry = 0; retry < 2 && emulated && stuckBeforeExec(result); retry++) {
    console.error(`      (spawnNode: the emulator's fork deadlocked before exec; starting the child again)`);
    result = spawnOnce();
  }
  return result;
}

function stuckBeforeExec(result: SpawnSyncReturns<string>): boolean {
  return result.signal === 'SIGKILL' && result.error === undefined && (result.stdout ?? '') === '' && (result.stderr ?? '') === '';
}
