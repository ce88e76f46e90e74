/**
 * Line and grouped-bar charts as standalone SVG documents for the benchmark report (bench/results/REPORT.md).
 *
 * GitHub shows an SVG referenced from Markdown as an image: no scripts, no external fonts or references,
 * so every document here is self-contained, has explicit width / height / viewBox, a white background
 * (readable in dark mode too), and text in the generic sans-serif family. Values that are NaN or ±Infinity
 * are missing (a gap in a line, no bar); a non-positive value on a log axis is an error.
 *
 * Why no charting library: vega-lite 6 needs Node >= 22 and vega 6 is an ES module with top-level await
 * (it cannot be required from this CommonJS build) at 25 MB / 80 packages; d3-scale is ESM-only too. The
 * maths the charts need (nice domains and ticks, lib/report/scale.ts) is short and tested here.
 */
import { EdgeInferError } from '../errors';
import { linearScale, logScale, type Scale } from './scale';
import { el, escapeXml, num, text, textWidth } from './svg';

export interface LineSeries {
  name: string;
  points: [number, number][];
  /** Optional: a colour '#rrggbb' (default: the palette in series order) and a dashed line (e.g. p99 beside p50). */
  color?: string;
  dashed?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

export interface BarSeries {
  name: string;
  values: number[];
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  categories: string[];
  series: BarSeries[];
  referenceLine?: { value: number; label: string };
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Okabe-Ito, colour-blind safe; yellow last (weak on white). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];
const DASHES = [undefined, '6 3', '2 3', '8 3 2 3'];
const FONT = 'sans-serif';
const TITLE_SIZE = 15;
const LABEL_SIZE = 12;
const TICK_SIZE = 11;
const LEGEND_NAME_MAX = 36;

function invalid(message: string, detail: Record<string, unknown> = {}): never {
  throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message, detail);
}

function checkString(value: unknown, what: string): string {
  if (typeof value !== 'string') invalid(`${what} must be a string, got ${value === null ? 'null' : typeof value}`, { argument: what });
  return value as string;
}

function checkSize(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 200 || value > 8000) {
    invalid(`${what} must be a number of pixels in [200, 8000], got ${String(value)}`, { argument: what, got: value });
  }
  return Math.round(value as number);
}

function checkArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) invalid(`${what} must be an array, got ${value === null ? 'null' : typeof value}`, { argument: what });
  return value as unknown[];
}

/** A value is drawn when finite; on a log axis it must also be positive. */
function usable(value: number, log: boolean, where: () => string, axis: string): boolean {
  if (typeof value !== 'number') invalid(`${where()}: ${axis} value must be a number, got ${typeof value}`, { axis });
  if (!Number.isFinite(value)) return false;
  if (log && value <= 0) {
    invalid(`${where()}: ${axis} value ${value} cannot be drawn on a log axis (values must be > 0)`, { axis, got: value });
  }
  return true;
}

function truncate(name: string, max = LEGEND_NAME_MAX): string {
  const chars = [...name];
  return chars.length <= max ? name : `${chars.slice(0, max - 1).join('')}…`;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** The document: XML declaration, svg root with size and viewBox, a title for screen readers, background. */
function document(width: number, height: number, title: string, body: string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="${FONT}">\n` +
    `<title>${escapeXml(title)}</title>\n` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>\n` +
    body.join('\n') +
    '\n</svg>\n'
  );
}

function legendWidth(names: string[]): number {
  if (names.length === 0) return 0;
  return 34 + Math.max(...names.map((n) => textWidth(truncate(n), LABEL_SIZE)));
}

/** Series names at the right of the plot: a swatch (line or box) and the name (full name as a tooltip). */
function legend(names: string[], frame: Frame, swatch: (i: number, x: number, y: number) => string): string {
  const x = frame.width - frame.right + 16;
  const items = names.map((name, i) => {
    const y = frame.top + 8 + i * 20;
    return el('g', {}, `<title>${escapeXml(name)}</title>`, swatch(i, x, y), text(x + 26, y + 4, truncate(name), { 'font-size': LABEL_SIZE, fill: '#222222' }));
  });
  return el('g', { class: 'legend' }, ...items);
}

function yAxis(scale: Scale, frame: Frame, label: string): string[] {
  const x0 = frame.left;
  const x1 = frame.width - frame.right;
  const parts: string[] = [];
  for (const t of scale.ticks()) {
    const y = scale.map(t);
    parts.push(el('line', { x1: x0, y1: y, x2: x1, y2: y, stroke: '#e3e3e3', 'stroke-width': 1 }));
    parts.push(el('line', { x1: x0 - 5, y1: y, x2: x0, y2: y, stroke: '#444444' }));
    parts.push(text(x0 - 8, y + 4, scale.format(t), { 'font-size': TICK_SIZE, 'text-anchor': 'end', fill: '#333333' }));
  }
  parts.push(el('line', { x1: x0, y1: frame.top, x2: x0, y2: frame.height - frame.bottom, stroke: '#444444' }));
  const cy = (frame.top + frame.height - frame.bottom) / 2;
  parts.push(text(16, cy, label, { 'font-size': LABEL_SIZE, 'text-anchor': 'middle', transform: `rotate(-90 16 ${num(cy)})`, fill: '#222222' }));
  return [el('g', { class: 'y-axis' }, ...parts)];
}

function yTickWidth(scale: Scale): number {
  return Math.max(0, ...scale.ticks().map((t) => textWidth(scale.format(t), TICK_SIZE)));
}

function titleText(frame: Frame, title: string): string {
  return text(frame.width / 2, 22, title, { 'font-size': TITLE_SIZE, 'font-weight': 'bold', 'text-anchor': 'middle', fill: '#111111' });
}

function noData(frame: Frame): string {
  const cx = (frame.left + frame.width - frame.right) / 2;
  const cy = (frame.top + frame.height - frame.bottom) / 2;
  return text(cx, cy, 'no data', { 'font-size': LABEL_SIZE, 'text-anchor': 'middle', fill: '#888888' });
}

// ------------------------------------------------------------------------------------------- line chart

/** A line chart with one line (and point markers) per series; gaps where a value is missing. */
export function renderLineChart(spec: LineChartSpec): string {
  if (spec === null || typeof spec !== 'object') invalid('the line chart spec must be an object');
  const title = checkString(spec.title, 'title');
  const xLabel = checkString(spec.xLabel, 'xLabel');
  const yLabel = checkString(spec.yLabel, 'yLabel');
  const width = checkSize(spec.width, 'width', 720);
  const height = checkSize(spec.height, 'height', 420);
  const logX = spec.logX === true;
  const logY = spec.logY === true;
  const series = checkArray(spec.series, 'series').map((s, i) => {
    if (s === null || typeof s !== 'object') invalid(`series[${i}] must be an object`);
    const { name, points, color, dashed } = s as LineSeries;
    checkString(name, `series[${i}].name`);
    if (color !== undefined && (typeof color !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(color))) invalid(`series[${i}].color must be '#rrggbb', got ${String(color)}`, { argument: `series[${i}].color` });
    if (dashed !== undefined && typeof dashed !== 'boolean') invalid(`series[${i}].dashed must be a boolean`, { argument: `series[${i}].dashed` });
    const kept: ([number, number] | null)[] = checkArray(points, `series[${i}].points`).map((p, j) => {
      const where = () => `series "${name}" point ${j}`;
      if (!Array.isArray(p) || p.length !== 2) invalid(`${where()} must be an [x, y] pair`, { series: name, point: j });
      const [x, y] = p as [number, number];
      const ok = usable(x, logX, where, 'x') && usable(y, logY, where, 'y');
      return ok ? [x, y] : null;
    });
    return { name, points: kept, color: color ?? PALETTE[i % PALETTE.length], dash: dashed === true ? '7 4' : dashed === false ? undefined : DASHES[Math.floor(i / PALETTE.length) % DASHES.length] };
  });

  const all = series.flatMap((s) => s.points.filter((p): p is [number, number] => p !== null));
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let yLo = Math.min(...ys);
  let yHi = Math.max(...ys);
  // A linear value axis starts at zero when the data are all on one side of it: bars and lines compare honestly.
  if (!logY && all.length > 0) {
    if (yLo >= 0) yLo = 0;
    else if (yHi <= 0) yHi = 0;
  }
  const names = series.map((s) => s.name);
  const frame: Frame = { width, height, left: 0, right: 0, top: 40, bottom: 52 };
  frame.right = names.length > 0 ? Math.min(width * 0.4, legendWidth(names) + 24) : 20;
  // The y labels' width decides the left margin; the scale's range does not change its ticks.
  const probe = (logY ? logScale : linearScale)(all.length ? yLo : NaN, all.length ? yHi : NaN, 0, 1);
  frame.left = 34 + yTickWidth(probe);
  const xScale = (logX ? logScale : linearScale)(all.length ? Math.min(...xs) : NaN, all.length ? Math.max(...xs) : NaN, frame.left, width - frame.right);
  const yScale = (logY ? logScale : linearScale)(all.length ? yLo : NaN, all.length ? yHi : NaN, height - frame.bottom, frame.top);

  const body: string[] = [titleText(frame, title), ...yAxis(yScale, frame, yLabel)];
  const xParts: string[] = [];
  const yBase = height - frame.bottom;
  for (const t of xScale.ticks()) {
    const x = xScale.map(t);
    xParts.push(el('line', { x1: x, y1: frame.top, x2: x, y2: yBase, stroke: '#f0f0f0' }));
    xParts.push(el('line', { x1: x, y1: yBase, x2: x, y2: yBase + 5, stroke: '#444444' }));
    xParts.push(text(x, yBase + 18, xScale.format(t), { 'font-size': TICK_SIZE, 'text-anchor': 'middle', fill: '#333333' }));
  }
  xParts.push(el('line', { x1: frame.left, y1: yBase, x2: width - frame.right, y2: yBase, stroke: '#444444' }));
  xParts.push(text((frame.left + width - frame.right) / 2, height - 10, xLabel, { 'font-size': LABEL_SIZE, 'text-anchor': 'middle', fill: '#222222' }));
  body.push(el('g', { class: 'x-axis' }, ...xParts));

  if (all.length === 0) body.push(noData(frame));
  series.forEach((s) => {
    const { color, dash } = s;
    // Consecutive present points form one polyline; a missing point ends it (a lone point is only a marker).
    const runs: [number, number][][] = [[]];
    for (const p of s.points) {
      if (p === null) runs.push([]);
      else runs[runs.length - 1].push(p);
    }
    const path = runs
      .filter((run) => run.length >= 2)
      .map((run) => run.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${num(xScale.map(x))} ${num(yScale.map(y))}`).join(''))
      .join('');
    const parts: string[] = [];
    if (path !== '') parts.push(el('path', { d: path, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash, 'stroke-linejoin': 'round' }));
    const present = s.points.filter((p): p is [number, number] => p !== null);
    if (present.length <= 60) {
      for (const [x, y] of present) {
        parts.push(el('circle', { cx: xScale.map(x), cy: yScale.map(y), r: 3.2, fill: color }, `<title>${escapeXml(`${s.name}: ${x}, ${y}`)}</title>`));
      }
    }
    body.push(el('g', { class: 'series' }, `<title>${escapeXml(s.name)}</title>`, ...parts));
  });
  body.push(
    legend(names, frame, (i, x, y) => el('line', { x1: x, y1: y, x2: x + 20, y2: y, stroke: series[i].color, 'stroke-width': 2.5, 'stroke-dasharray': series[i].dash })),
  );
  return document(width, height, title, body);
}

// -------------------------------------------------------------------------------------------- bar chart

/** Grouped bars: one group per category, one bar per series; an optional horizontal reference line. */
export function renderBarChart(spec: BarChartSpec): string {
  if (spec === null || typeof spec !== 'object') invalid('the bar chart spec must be an object');
  const title = checkString(spec.title, 'title');
  const yLabel = checkString(spec.yLabel, 'yLabel');
  const width = checkSize(spec.width, 'width', 720);
  const height = checkSize(spec.height, 'height', 420);
  const logY = spec.logY === true;
  const categories = checkArray(spec.categories, 'categories').map((c, i) => checkString(c, `categories[${i}]`));
  const series = checkArray(spec.series, 'series').map((s, i) => {
    if (s === null || typeof s !== 'object') invalid(`series[${i}] must be an object`);
    const { name, values } = s as BarSeries;
    checkString(name, `series[${i}].name`);
    const v = checkArray(values, `series[${i}].values`);
    if (v.length !== categories.length) {
      invalid(`series "${name}" has ${v.length} values for ${categories.length} categories`, { series: name, expected: categories.length, got: v.length });
    }
    const kept = v.map((value, j) => (usable(value as number, logY, () => `series "${name}" category "${categories[j]}"`, 'y') ? (value as number) : NaN));
    return { name, values: kept };
  });
  let reference: { value: number; label: string } | undefined;
  if (spec.referenceLine !== undefined) {
    const r = spec.referenceLine;
    if (r === null || typeof r !== 'object') invalid('referenceLine must be an object { value, label }');
    checkString(r.label, 'referenceLine.label');
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) invalid(`referenceLine.value must be a finite number, got ${String(r.value)}`);
    usable(r.value, logY, () => 'referenceLine', 'y');
    reference = { value: r.value, label: r.label };
  }

  const values = series.flatMap((s) => s.values.filter((v) => Number.isFinite(v)));
  if (reference) values.push(reference.value);
  const present = values.length > 0 && categories.length > 0;
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!logY && present) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  const names = series.map((s) => s.name);
  const frame: Frame = { width, height, left: 0, right: 0, top: 40, bottom: 40 };
  const legendNames = reference ? [...names, reference.label] : names;
  frame.right = legendNames.length > 0 ? Math.min(width * 0.4, legendWidth(legendNames) + 24) : 20;
  frame.left = 34 + yTickWidth(logY ? logScale(present ? lo : NaN, present ? hi : NaN, 0, 1, 6, 0.15, 0.04) : linearScale(present ? lo : NaN, present ? hi : NaN, 0, 1));
  const labelWidths = categories.map((c) => textWidth(truncate(c, 28), TICK_SIZE));
  let band = categories.length > 0 ? (width - frame.left - frame.right) / categories.length : width;
  const rotate = Math.max(0, ...labelWidths) > band - 4;
  if (rotate && categories.length > 0) {
    // A rotated label runs down-left from its tick: none may leave the picture on the left.
    const cos = Math.cos((40 * Math.PI) / 180);
    for (let pass = 0; pass < 2; pass++) {
      const need = Math.max(...labelWidths.map((w, j) => w * cos + 6 - band * (j + 0.5)));
      frame.left = Math.max(frame.left, Math.min(width * 0.3, need));
      band = (width - frame.left - frame.right) / categories.length;
    }
  }
  // Rotated labels (-40°) need their projected height below the axis.
  frame.bottom = rotate ? Math.min(height * 0.45, 24 + Math.max(...labelWidths) * Math.sin((40 * Math.PI) / 180) + 12) : 40;
  // On a log axis a bar grows from the bottom of the plot: pad below the smallest value so its bar shows.
  const yScale = logY ? logScale(present ? lo : NaN, present ? hi : NaN, height - frame.bottom, frame.top, 6, 0.15, 0.04) : linearScale(present ? lo : NaN, present ? hi : NaN, height - frame.bottom, frame.top);
  const yBase = height - frame.bottom;
  const zero = logY ? yBase : yScale.map(0);

  const body: string[] = [titleText(frame, title), ...yAxis(yScale, frame, yLabel)];
  const xParts: string[] = [el('line', { x1: frame.left, y1: zero, x2: width - frame.right, y2: zero, stroke: '#444444' })];
  categories.forEach((c, j) => {
    const cx = frame.left + band * (j + 0.5);
    xParts.push(el('line', { x1: cx, y1: yBase, x2: cx, y2: yBase + 4, stroke: '#444444' }));
    const label = truncate(c, 28);
    xParts.push(
      rotate
        ? el('text', { x: cx, y: yBase + 14, 'font-size': TICK_SIZE, 'text-anchor': 'end', transform: `rotate(-40 ${num(cx)} ${num(yBase + 14)})`, fill: '#333333' }, `<title>${escapeXml(c)}</title>`, escapeXml(label))
        : text(cx, yBase + 18, label, { 'font-size': TICK_SIZE, 'text-anchor': 'middle', fill: '#333333' }),
    );
  });
  body.push(el('g', { class: 'x-axis' }, ...xParts));
  if (!present) body.push(noData(frame));

  const groupWidth = band * 0.8;
  const barWidth = series.length > 0 ? groupWidth / series.length : 0;
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const bars: string[] = [];
    s.values.forEach((v, j) => {
      const x = frame.left + band * j + (band - groupWidth) / 2 + i * barWidth;
      if (!Number.isFinite(v)) {
        bars.push(text(x + barWidth / 2, zero - 4, 'n/a', { 'font-size': 9, 'text-anchor': 'middle', fill: '#888888' }));
        return;
      }
      const y = yScale.map(v);
      const top = Math.min(y, zero);
      bars.push(el('rect', { x, y: top, width: Math.max(0.5, barWidth - 1), height: Math.max(0.5, Math.abs(zero - y)), fill: color }, `<title>${escapeXml(`${s.name}, ${categories[j]}: ${v}`)}</title>`));
    });
    body.push(el('g', { class: 'series' }, `<title>${escapeXml(s.name)}</title>`, ...bars));
  });
  if (reference && present) {
    const y = yScale.map(reference.value);
    body.push(
      el(
        'g',
        { class: 'reference' },
        `<title>${escapeXml(`${reference.label}: ${reference.value}`)}</title>`,
        el('line', { x1: frame.left, y1: y, x2: width - frame.right, y2: y, stroke: '#333333', 'stroke-width': 1.2, 'stroke-dasharray': '5 4' }),
      ),
    );
  }
  // The reference line is named in the legend (a label on the plot would cross the bars).
  const entries = reference ? [...names, reference.label] : names;
  body.push(
    legend(entries, frame, (i, x, y) =>
      i < names.length ? el('rect', { x, y: y - 6, width: 20, height: 12, fill: PALETTE[i % PALETTE.length] }) : el('line', { x1: x, y1: y, x2: x + 20, y2: y, stroke: '#333333', 'stroke-width': 1.2, 'stroke-dasharray': '5 4' }),
    ),
  );
  return document(width, height, title, body);
}
