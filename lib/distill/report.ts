/**
 * The distillation report: one row per model (teacher, distilled student, the same student on hard labels
 * only, INT8 after PTQ with our quantizer, INT8 after QAT) measured on our Engine, the quantization drops,
 * the acceptance checks, and the student-size sweep as an SVG chart with the size below which distillation no
 * longer beats direct training (or the statement that none was found in the range tried).
 */
import { renderLineChart } from '../report/charts';
import type { EpochEvent } from './protocol';

export type ModelRole = 'teacher' | 'distilled' | 'hard' | 'ptq' | 'qat' | 'other';

export const ROLE_LABELS: Record<ModelRole, string> = {
  teacher: 'teacher',
  distilled: 'student, distilled (FP32)',
  hard: 'student, hard labels only (FP32)',
  ptq: 'student INT8 after PTQ (our quantizer)',
  qat: 'student INT8 after QAT',
  other: 'other',
};

/** The role of a model from the factory's stage and model names. */
export function roleOf(stage: string, model: string): ModelRole {
  const name = `${stage} ${model}`.toLowerCase();
  if (/\bqat\b|qat_|_qat|int8/.test(name)) return 'qat';
  if (/ptq/.test(name)) return 'ptq';
  if (/sweep/.test(name)) return 'other';
  if (/teacher/.test(name)) return 'teacher';
  if (/hard|baseline|direct|scratch/.test(name)) return 'hard';
  if (/distill|student|kd/.test(name)) return 'distilled';
  return 'other';
}

export interface ReportRow {
  role: ModelRole;
  label: string;
  stage: string;
  model: string;
  file: string | null;
  params: number | null;
  /** What PyTorch measured (the factory's result event). */
  torch: { accuracy: number; macroF1: number | null } | null;
  /** Measured here, on our Engine's native backend. */
  accuracy: number | null;
  macroF1: number | null;
  sizeBytes: number | null;
  latencyMs: number | null;
  /** ONNX Runtime on the same samples, same process. */
  onnxruntime: { accuracy: number; latencyMs: number; agreementWithNative: number } | null;
  /** Argmax agreement of native with PyTorch on the test samples, and what PyTorch ran (FP32 or fake-quantized). */
  agreement: { value: number; reference: string } | null;
  note?: string;
  /** Voice: accuracy per kind of test example (command, cut, speech, noise, wake), on our Engine. */
  byKind?: Record<string, { accuracy: number; count: number }>;
}

export interface SweepPoint {
  params: number;
  width?: number;
  distilled: number;
  hard: number;
}

export interface SweepAnalysis {
  points: SweepPoint[];
  /** Parameters of the smallest size at which distillation still beat direct training, when it stops below it. */
  crossoverParams: number | null;
  sentence: string;
}

export interface AcceptanceCheck {
  name: string;
  pass: boolean | null;
  detail: string;
}

export interface DistillReport {
  experiment: string;
  quick: boolean;
  outDir: string;
  rows: ReportRow[];
  /** Accuracy points lost by quantizing the FP32 distilled student (on our Engine). */
  drops: { ptq: number | null; qat: number | null };
  sweep: SweepAnalysis | null;
  acceptance: AcceptanceCheck[];
  epochs: EpochEvent[];
  seconds: Record<string, number>;
  voice?: { dir: string; cached: boolean; frames: number; labels: string[]; counts: Record<string, number>; seconds: number };
  python: { python: string; version: string; modules: Record<string, string> };
  /** The files written: report.md, sweep.svg, the JSON report, the demo's command model. */
  files: Record<string, string>;
  /** The factory's own report (its report.json). */
  factory: unknown;
}

const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(digits)} %`);

/** Reads the sweep from the factory's report: a list of { params, width?, distilled accuracy, hard-label accuracy }. */
export function extractSweep(factory: unknown): SweepPoint[] {
  const root = factory as Record<string, unknown> | null;
  const raw = root && typeof root === 'object' ? (root.sweep as unknown) : undefined;
  const list = Array.isArray(raw) ? raw : Array.isArray((raw as { points?: unknown })?.points) ? ((raw as { points: unknown[] }).points) : [];
  const num = (o: Record<string, unknown>, keys: string[]): number | undefined => {
    for (const k of keys) {
      const v = o[k];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (v && typeof v === 'object' && typeof (v as { accuracy?: unknown }).accuracy === 'number') return (v as { accuracy: number }).accuracy;
    }
    return undefined;
  };
  const points: SweepPoint[] = [];
  for (const item of list) {
    if (!item || typeof item !== 'object') continue;
    const o = item as Record<string, unknown>;
    const params = num(o, ['params', 'parameters']);
    const distilled = num(o, ['distilled_accuracy', 'distilled_acc', 'distilled', 'kd_accuracy', 'accuracy_distilled']);
    const hard = num(o, ['hard_accuracy', 'hard_acc', 'hard', 'hard_label_accuracy', 'accuracy_hard']);
    if (params === undefined || distilled === undefined || hard === undefined) continue;
    const width = num(o, ['width', 'hidden', 'd_model']);
    points.push({ params, distilled, hard, ...(width === undefined ? {} : { width }) });
  }
  return points.sort((a, b) => a.params - b.params);
}

/**
 * Where distillation stops helping: walking from the largest student down, the first size at which the
 * distilled student does not beat the one trained on hard labels. The crossover is reported only when
 * distillation did win at every larger size (a clean "below this size"); otherwise the sentence describes
 * the mixed result.
 */
export function analyzeSweep(points: SweepPoint[]): SweepAnalysis {
  if (points.length === 0) return { points, crossoverParams: null, sentence: 'No student-size sweep was run.' };
  const desc = [...points].sort((a, b) => b.params - a.params);
  const fmt = (p: SweepPoint) => `${formatParams(p.params)} parameters (distilled ${pct(p.distilled)} vs hard labels ${pct(p.hard)})`;
  const range = `${formatParams(desc[desc.length - 1].params)} to ${formatParams(desc[0].params)} parameters`;
  const wins = desc.map((p) => p.distilled > p.hard);
  if (wins.every(Boolean)) {
    return { points, crossoverParams: null, sentence: `Distillation beat training on hard labels at every student size tried (${range}): no size below which it stops helping was found in this range.` };
  }
  if (!wins.some(Boolean)) {
    return { points, crossoverParams: null, sentence: `Distillation did not beat training on hard labels at any student size tried (${range}).` };
  }
  const firstLoss = wins.indexOf(false);
  if (firstLoss > 0 && wins.slice(firstLoss).every((w) => !w)) {
    const above = desc[firstLoss - 1];
    const below = desc[firstLoss];
    return {
      points,
      crossoverParams: above.params,
      sentence: `Distillation stops helping below about ${formatParams(above.params)} parameters: at ${fmt(above)} it still wins, at ${fmt(below)} and smaller, training directly on hard labels does as well or better.`,
    };
  }
  const won = desc.filter((_, i) => wins[i]);
  const lost = desc.filter((_, i) => !wins[i]);
  return {
    points,
    crossoverParams: null,
    sentence: `No clean size threshold in ${range}: distillation beat training on hard labels only at ${won.map(fmt).join('; ')}; not at the other size${lost.length > 1 ? `s` : ''} (${lost.map((p) => formatParams(p.params)).join(', ')} parameters).`,
  };
}

export function formatParams(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

/** The sweep chart: accuracy against parameters (log x), distilled and hard-label students. */
export function sweepChart(analysis: SweepAnalysis, experiment: string): string {
  return renderLineChart({
    title: `${experiment}: student size sweep`,
    xLabel: 'student parameters',
    yLabel: 'test accuracy (%)',
    logX: true,
    series: [
      { name: 'distilled (teacher soft targets)', points: analysis.points.map((p) => [p.params, 100 * p.distilled]) },
      { name: 'hard labels only', points: analysis.points.map((p) => [p.params, 100 * p.hard]) },
    ],
  });
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

/** The report's rows as table cells (shared by report.md and the CLI). */
export function rowCells(row: ReportRow): string[] {
  return [
    row.label,
    row.params === null ? '-' : formatParams(row.params),
    pct(row.accuracy),
    row.macroF1 === null ? '-' : (100 * row.macroF1).toFixed(1),
    formatBytes(row.sizeBytes),
    ms(row.latencyMs),
    ms(row.onnxruntime?.latencyMs),
    row.agreement ? `${pct(row.agreement.value, 2)} vs ${row.agreement.reference}` : '-',
  ];
}

export const ROW_HEADER = ['model', 'params', 'accuracy', 'macro-F1 %', 'size', 'latency (ours)', 'latency (ORT)', 'argmax = PyTorch'];

export const KIND_HELP = 'command: a command, the window ending 1-6 chunks after it; cut: the window ends while a command is being said (none); speech: a sentence that is no command (none); noise: background alone (none); wake: a wake word followed by nothing (none).';

const KIND_ORDER = ['command', 'cut', 'speech', 'noise', 'wake'];

/** The kinds of example the rows were measured on, in a fixed order (commands first). */
export function reportKinds(rows: readonly ReportRow[]): string[] {
  const rank = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
  return [...new Set(rows.flatMap((r) => Object.keys(r.byKind ?? {})))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
}

/** Accuracy per kind of example (the voice features' test.meta.jsonl `kind`). */
export function accuracyByKind(predictions: ArrayLike<number>, labels: ArrayLike<number>, kinds: readonly string[]): Record<string, { accuracy: number; count: number }> {
  const tally: Record<string, [number, number]> = {};
  for (let i = 0; i < kinds.length; i++) {
    const t = (tally[kinds[i]] ??= [0, 0]);
    if (predictions[i] === labels[i]) t[0]++;
    t[1]++;
  }
  return Object.fromEntries(Object.entries(tally).map(([k, [right, n]]) => [k, { accuracy: right / n, count: n }]));
}

/** report.md */
export function reportMarkdown(report: DistillReport): string {
  const lines: string[] = [];
  lines.push(`# Distillation report: ${report.experiment}${report.quick ? ' (quick mode)' : ''}`, '');
  lines.push('Accuracy, macro-F1 and latency measured on edgeinfer\'s native backend (batch 1, one call per test sample; latency = median per call), ONNX Runtime (onnxruntime-node) on the same samples in the same process as the baseline.', '');
  lines.push(`| ${ROW_HEADER.join(' | ')} |`, `|${ROW_HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const row of report.rows) lines.push(`| ${rowCells(row).join(' | ')} |`);
  lines.push('');
  const notes = report.rows.filter((r) => r.note);
  for (const r of notes) lines.push(`- ${r.label}: ${r.note}`);
  if (notes.length) lines.push('');
  const d = report.drops;
  lines.push(`Quantization of the FP32 distilled student: **PTQ costs ${d.ptq === null ? '-' : `${(100 * d.ptq).toFixed(2)} points`}**, **QAT costs ${d.qat === null ? '-' : `${(100 * d.qat).toFixed(2)} points`}** of accuracy.`, '');
  lines.push('## Acceptance', '');
  for (const c of report.acceptance) lines.push(`- ${c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'FAIL'}: ${c.name} (${c.detail})`);
  lines.push('');
  if (report.sweep) {
    lines.push('## Student size sweep', '', report.sweep.sentence, '');
    if (report.sweep.points.length > 0) {
      lines.push('![accuracy vs student parameters](sweep.svg)', '');
      lines.push('| params | width | distilled | hard labels only | difference |', '|---:|---:|---:|---:|---:|');
      for (const p of report.sweep.points) lines.push(`| ${formatParams(p.params)} | ${p.width ?? '-'} | ${pct(p.distilled)} | ${pct(p.hard)} | ${((p.distilled - p.hard) * 100).toFixed(1)} |`);
      lines.push('');
    }
  }
  const kinds = reportKinds(report.rows);
  if (kinds.length > 0) {
    lines.push('## Accuracy by kind of test example', '', KIND_HELP, '');
    lines.push(`| model | ${kinds.map((k) => `${k} (${report.rows.find((r) => r.byKind?.[k])!.byKind![k].count})`).join(' | ')} |`, `|---|${kinds.map(() => '---:').join('|')}|`);
    for (const r of report.rows.filter((row) => row.byKind)) lines.push(`| ${r.label} | ${kinds.map((k) => pct(r.byKind![k]?.accuracy)).join(' | ')} |`);
    lines.push('');
  }
  if (report.voice) {
    const v = report.voice;
    lines.push('## Voice features', '', `${v.frames} embeddings per example; ${Object.entries(v.counts).map(([s, n]) => `${s} ${n}`).join(', ')} examples; ${v.cached ? 'from the cache' : `made in ${v.seconds.toFixed(0)} s`} (${v.dir}).`, '');
  }
  lines.push('## Time', '', Object.entries(report.seconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', '), '');
  lines.push(`Python ${report.python.version} (${report.python.python}); ${Object.entries(report.python.modules).map(([m, v]) => `${m} ${v}`).join(', ')}.`, '');
  return lines.join('\n');
}

/** The acceptance checks of issue 13 that this run can decide. */
export function acceptanceChecks(rows: ReportRow[], drops: DistillReport['drops']): AcceptanceCheck[] {
  const by = (role: ModelRole) => rows.find((r) => r.role === role);
  const teacher = by('teacher');
  const distilled = by('distilled');
  const hard = by('hard');
  const qat = by('qat');
  const checks: AcceptanceCheck[] = [];
  const points = (x: number) => `${(100 * x).toFixed(2)} points`;
  if (teacher?.accuracy != null && distilled?.accuracy != null) {
    const gap = teacher.accuracy - distilled.accuracy;
    checks.push({ name: 'distilled student >= teacher - 2 points', pass: gap <= 0.02, detail: `teacher ${pct(teacher.accuracy)}, student ${pct(distilled.accuracy)}, gap ${points(gap)}` });
  } else checks.push({ name: 'distilled student >= teacher - 2 points', pass: null, detail: 'teacher or student not measured' });
  if (hard?.accuracy != null && distilled?.accuracy != null) {
    const gain = distilled.accuracy - hard.accuracy;
    checks.push({ name: 'distilled student >= hard-label student + 3 points', pass: gain >= 0.03, detail: `gain ${points(gain)}` });
  } else checks.push({ name: 'distilled student >= hard-label student + 3 points', pass: null, detail: 'not measured' });
  checks.push(drops.qat === null
    ? { name: 'INT8 after QAT within 0.7 points of the FP32 student', pass: null, detail: 'not measured' }
    : { name: 'INT8 after QAT within 0.7 points of the FP32 student', pass: drops.qat <= 0.007, detail: `QAT drop ${points(drops.qat)}; PTQ drop ${drops.ptq === null ? '-' : points(drops.ptq)}` });
  for (const row of rows.filter((r) => r.agreement && (r.role === 'qat' || r.role === 'distilled' || r.role === 'hard' || r.role === 'teacher'))) {
    checks.push({ name: `${row.label}: same argmax as PyTorch on >= 99.9 % of test samples`, pass: row.agreement!.value >= 0.999, detail: `${pct(row.agreement!.value, 2)} vs ${row.agreement!.reference}` });
  }
  return checks;
}
