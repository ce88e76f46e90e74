/**
 * Runs one Python module of the factory as a child process and turns its stdout into protocol events
 * (protocol.ts). stderr is the factory's log: forwarded line by line, kept in a file when asked and its tail
 * quoted in errors. An AbortSignal ends the child's whole process group (torchrun's workers included):
 * SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

import { EdgeInferError } from '../errors';
import { LineSplitter, parseEventLine, type DoneEvent, type FactoryEvent } from './protocol';
import type { PythonEnvironment } from './python';

export interface FactoryRunOptions {
  python: Pick<PythonEnvironment, 'python' | 'env'>;
  cwd?: string;
  onEvent?: (event: FactoryEvent) => void;
  onMalformed?: (line: string, reason: string) => void;
  /** One stderr line. */
  onLog?: (line: string) => void;
  /** Append stderr here. */
  logFile?: string;
  signal?: AbortSignal;
  /** Grace between SIGTERM and SIGKILL on abort. Default 3000 ms. */
  killGraceMs?: number;
}

export interface FactoryRunResult {
  events: FactoryEvent[];
  done: DoneEvent | undefined;
  malformed: { line: string; reason: string }[];
  exitCode: number | null;
  seconds: number;
}

const TAIL = 4000;

/** `python -m <module> ...args`; resolves when it exits 0 with a done event (or `requireDone` false). */
export function runFactory(module: string, args: readonly string[], options: FactoryRunOptions & { requireDone?: boolean }): Promise<FactoryRunResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new EdgeInferError('EDGEINFER_ABORTED', `aborted before ${module} started`));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(options.python.python, ['-m', module, ...args], {
      cwd: options.cwd,
      env: options.python.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so an abort ends its children too
    });
    const events: FactoryEvent[] = [];
    const malformed: { line: string; reason: string }[] = [];
    let done: DoneEvent | undefined;
    let failure: string | undefined;
    let stderrTail = '';
    let aborted = false;
    let spawnError: Error | undefined;
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const out = new LineSplitter();
    const err = new LineSplitter();

    const handleLine = (line: string) => {
      const parsed = parseEventLine(line);
      if (!parsed.ok) {
        malformed.push({ line: parsed.line, reason: parsed.reason });
        options.onMalformed?.(parsed.line, parsed.reason);
        return;
      }
      const event = parsed.event;
      events.push(event);
      if (event.event === 'done') done = event as DoneEvent;
      if (event.event === 'error') failure ??= String(event.message);
      try {
        options.onEvent?.(event);
      } catch (error) {
        // A listener's bug must not leave the child running unobserved.
        failure ??= `a progress listener threw: ${(error as Error).message}`;
        kill();
      }
    };
    const handleLog = (line: string) => {
      stderrTail = (stderrTail + line + '\n').slice(-TAIL);
      options.onLog?.(line);
    };
    child.stdout.on('data', (d: Buffer) => out.push(d).forEach(handleLine));
    child.stderr.on('data', (d: Buffer) => {
      log?.write(d);
      err.push(d).forEach(handleLog);
    });

    let killTimer: NodeJS.Timeout | undefined;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    };
    function kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), options.killGraceMs ?? 3000);
      killTimer.unref();
    }
    const onAbort = () => {
      aborted = true;
      kill();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const onParentExit = () => signalGroup('SIGKILL');
    process.once('exit', onParentExit);

    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      process.removeListener('exit', onParentExit);
      out.end().forEach(handleLine);
      err.end().forEach(handleLog);
      log?.end();
      const seconds = (performance.now() - started) / 1000;
      const tail = stderrTail.trim() ? `\n--- last lines of its log (stderr) ---\n${stderrTail.trim().split('\n').slice(-15).join('\n')}` : '';
      const detail = { module, exitCode: code, signal: sig, stderrTail };
      if (spawnError) {
        reject(new EdgeInferError('EDGEINFER_BACKEND_UNAVAILABLE', `cannot start ${options.python.python} -m ${module}: ${spawnError.message}`, detail));
      } else if (aborted) {
        reject(new EdgeInferError('EDGEINFER_ABORTED', `${module} was aborted (its process group was sent SIGTERM)`, detail));
      } else if (failure !== undefined) {
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `the distillation factory (${module}) failed: ${failure}${tail}`, { ...detail, message: failure }));
      } else if (code !== 0) {
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `${module} exited with ${code === null ? `signal ${sig}` : `code ${code}`}${tail}`, detail));
      } else if (options.requireDone !== false && done === undefined) {
        reject(new EdgeInferError('EDGEINFER_INTERNAL', `${module} exited without a "done" event (${events.length} events, ${malformed.length} malformed lines)${tail}`, detail));
      } else {
        resolve({ events, done, malformed, exitCode: code, seconds });
      }
    });
  });
}
