/**
 * Axis maths for the report charts: linear and log scales with "nice" domains, ticks and tick labels.
 * The same rules d3-scale uses (steps of 1, 2 or 5 x 10^k; decades with 2 / 5 subdivisions on short log
 * ranges), written out here so the charts need no ESM-only dependency (see lib/report/charts.ts).
 */

export interface Scale {
  readonly log: boolean;
  /** The nice domain [lo, hi] (hi > lo; both > 0 for a log scale). */
  readonly domain: readonly [number, number];
  /** Maps a data value to a pixel position between range[0] and range[1]. */
  map(value: number): number;
  /** Tick values inside the domain, ascending. */
  ticks(): number[];
  /** The label of a tick value. */
  format(value: number): string;
}

const E10 = Math.sqrt(50);
const E5 = Math.sqrt(10);
const E2 = Math.sqrt(2);

/** The step between about `count` ticks over [lo, hi]: 1, 2 or 5 x 10^k (as d3-array's tickIncrement). */
export function tickStep(lo: number, hi: number, count: number): number {
  const raw = Math.abs(hi - lo) / Math.max(1, count);
  const power = Math.floor(Math.log10(raw));
  const error = raw / 10 ** power;
  const factor = error >= E10 ? 10 : error >= E5 ? 5 : error >= E2 ? 2 : 1;
  return factor * 10 ** power;
}

/** k * step, divided by 1/step when step < 1 so 3 * 0.1 is 0.3, not 0.30000000000000004. */
function times(k: number, step: number): number {
  if (k === 0) return 0;
  if (step >= 1) return k * step;
  const inverse = Math.round(1 / step);
  return Math.abs(1 / inverse - step) < 1e-12 * step ? k / inverse : k * step;
}

/** Ticks k * step inside [lo, hi], computed as integers times the step so no float drift accumulates. */
function linearTicks(lo: number, hi: number, step: number): number[] {
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) ticks.push(times(k, step));
  return ticks;
}

/** Widens a degenerate or empty extent so a scale can be drawn. */
function widen(lo: number, hi: number, log: boolean): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return log ? [1, 10] : [0, 1];
  if (hi > lo) return [lo, hi];
  if (log) return [lo / Math.sqrt(10), lo * Math.sqrt(10)];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, lo + pad];
}

/**
 * A compact number label: 0.05, 1.5, 250, 12k, 3.5M, 1e-5. `step` (the tick step) sets the decimals so a
 * scale's labels agree; `magnitude` (the scale's largest |value|) picks one unit suffix for all of them.
 */
export function formatNumber(value: number, step?: number, magnitude = Math.abs(value)): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const a = Math.abs(value);
  if (a >= 1e15 || a < 1e-4) return value.toExponential(step === undefined ? 1 : 0).replace('e+', 'e').replace(/\.0e/, 'e');
  const units: [number, number, string][] = [
    [1e12, 1e12, 'T'],
    [1e9, 1e9, 'G'],
    [1e6, 1e6, 'M'],
    [1e4, 1e3, 'k'],
    [0, 1, ''],
  ];
  const [, size, suffix] = units.find(([threshold]) => Math.max(magnitude, a) >= threshold)!;
  const scaled = value / size;
  const s = Math.abs(scaled);
  const decimals = step !== undefined ? Math.ceil(-Math.log10(step / size) - 1e-9) : s >= 100 ? 0 : s >= 10 ? 1 : s >= 1 ? 2 : 3;
  return `${trimZeros(scaled.toFixed(Math.min(Math.max(0, decimals), 6)))}${suffix}`;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/**
 * A linear scale over the data extent [lo, hi], extended to whole tick steps (about `count` ticks),
 * mapped onto the pixel range [r0, r1] (r0 > r1 for a y axis, so larger values are higher up).
 */
export function linearScale(lo: number, hi: number, r0: number, r1: number, count = 6): Scale {
  [lo, hi] = widen(lo, hi, false);
  let step = tickStep(lo, hi, count);
  // Two passes: extending the domain can change the step (as d3's nice()).
  for (let i = 0; i < 2; i++) {
    lo = times(Math.floor(lo / step + 1e-9), step);
    hi = times(Math.ceil(hi / step - 1e-9), step);
    step = tickStep(lo, hi, count);
  }
  const span = hi - lo;
  const ticks = linearTicks(lo, hi, step);
  return {
    log: false,
    domain: [lo, hi],
    map: (v) => r0 + ((v - lo) / span) * (r1 - r0),
    ticks: () => ticks.slice(),
    format: (v) => formatNumber(v, step, Math.max(Math.abs(lo), Math.abs(hi))),
  };
}

/**
 * A log10 scale over the data extent [lo, hi] (both > 0), padded by `padLow` / `padHigh` of its span in
 * decades (at least one decade shown). Ticks: the finest of {1..9}, {1, 2, 5}, {1} x 10^p, or every k-th
 * decade, that gives at most count + 3 ticks inside the domain.
 */
export function logScale(lo: number, hi: number, r0: number, r1: number, count = 6, padLow = 0.04, padHigh = 0.04): Scale {
  if (lo <= 0 || hi <= 0) throw new RangeError(`a log scale needs a positive extent, got [${lo}, ${hi}]`);
  [lo, hi] = widen(lo, hi, true);
  let l0 = Math.log10(lo);
  let l1 = Math.log10(hi);
  if (l1 - l0 < 1) {
    const middle = (l0 + l1) / 2;
    [l0, l1] = [middle - 0.5, middle + 0.5];
  }
  const span0 = l1 - l0;
  l0 -= span0 * padLow;
  l1 += span0 * padHigh;
  const d0 = 10 ** l0;
  const d1 = 10 ** l1;
  const span = l1 - l0;
  const inside = (v: number) => v >= d0 * (1 - 1e-9) && v <= d1 * (1 + 1e-9);
  const candidates = (mantissas: number[], every: number): number[] => {
    const out: number[] = [];
    for (let p = Math.floor(l0); p <= Math.ceil(l1); p++) {
      if (p % every !== 0) continue;
      for (const m of mantissas) if (inside(m * exact10(p))) out.push(m * exact10(p));
    }
    return out;
  };
  let ticks: number[] = [];
  for (const mantissas of [[1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 5], [1]]) {
    ticks = candidates(mantissas, 1);
    if (ticks.length <= count + 3) break;
  }
  for (let every = 2; ticks.length > count + 3; every++) ticks = candidates([1], every);
  return {
    log: true,
    domain: [d0, d1],
    map: (v) => r0 + ((Math.log10(v) - l0) / span) * (r1 - r0),
    ticks: () => ticks.slice(),
    format: (v) => formatNumber(v),
  };
}

/** 10^p without the float error of 10 ** -3 (0.0010000000000000002). */
function exact10(p: number): number {
  return p >= 0 ? 10 ** p : 1 / 10 ** -p;
}
