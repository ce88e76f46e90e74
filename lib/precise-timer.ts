/**
 * Timeouts with microsecond resolution for short delays. Node's timers count whole milliseconds (a 0.5 ms
 * setTimeout fires after 1 ms or more), which doubled a BatchScheduler queue delay of 500 µs. Delays under
 * `preciseBelowMs` go to one native timer per thread (its own waiting thread, see binding/precise_timer.cc),
 * which serves every pending deadline here in order; longer ones use setTimeout, whose millisecond is then
 * a small share of the wait. Callbacks run on the event loop either way, and a pending timeout keeps the
 * process alive as a setTimeout does (a cancelled one until its deadline passes: at most preciseBelowMs).
 */
import { native, type NativePreciseTimer } from './native';

/** Delays from this length on use setTimeout. */
export const preciseBelowMs = 10;

interface Pending {
  at: number;
  fire: () => void;
  /** Set by its cancel function: a timeout cancelled by an earlier callback of the same wake-up does not run. */
  cancelled: boolean;
}

const pending = new Set<Pending>();
let timer: NativePreciseTimer | undefined;
/** The deadline the native timer is armed for (Infinity: idle). */
let armedAt = Infinity;

/** Runs `fire` once after `delayMs` (fractions count); returns the function that cancels it. */
export function setPreciseTimeout(fire: () => void, delayMs: number): () => void {
  const delay = Math.max(0, delayMs);
  if (!(delay < preciseBelowMs)) {
    const handle = setTimeout(fire, delay);
    return () => clearTimeout(handle);
  }
  const entry: Pending = { at: performance.now() + delay, fire, cancelled: false };
  pending.add(entry);
  if (entry.at < armedAt) arm(entry.at);
  // Cancelling leaves the native timer armed: telling its thread costs a wake-up (two per batch for a
  // scheduler that arms and then dispatches a full batch), an early fire with nothing due costs one callback.
  return () => {
    entry.cancelled = true;
    pending.delete(entry);
  };
}

function arm(at: number): void {
  timer ??= native.createPreciseTimer(firePassed);
  armedAt = at;
  native.preciseTimerStart(timer, Math.max(0, (at - performance.now()) * 1000));
}

/** The native timer's callback: runs every deadline passed (earliest first), then arms for the next one. */
function firePassed(): void {
  armedAt = Infinity;
  const now = performance.now() + 0.005; // the native clock and performance.now() may disagree by a microsecond
  const due = [...pending].filter((entry) => entry.at <= now).sort((a, b) => a.at - b.at);
  for (const entry of due) pending.delete(entry);
  let next = Infinity;
  for (const entry of pending) next = Math.min(next, entry.at);
  if (next !== Infinity) arm(next);
  for (const entry of due) {
    if (entry.cancelled) continue;
    try {
      entry.fire();
    } catch (error) {
      // As from a setTimeout callback: an uncaught exception, not a silently lost one.
      process.nextTick(() => {
        throw error;
      });
    }
  }
}
