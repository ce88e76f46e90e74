/**
 * The benchmark results the report is rendered from: every bench/results/latest*.jsonl file (one JSON object
 * per line, the format of ARCHITECTURE.md "Tests and benchmarks"), where each bench name is taken from the
 * newest file that holds it (a partial `--only X` run writes latest-X.jsonl next to an older full
 * latest.jsonl), and when each file was measured.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ResultRow {
  bench: string;
  case: string;
  ours: number;
  baseline: string;
  baseline_value: number;
  unit: string;
  speedup: number;
  [key: string]: unknown;
}

export interface SourceFile {
  file: string;
  /** ISO date the results were measured: the report's run log, else the file's last commit (when the file is unchanged since), else its mtime. */
  measured: string;
  how: 'report run' | 'git commit' | 'file time';
  benches: string[];
  rows: number;
}

export interface Results {
  dir: string;
  /** Rows per bench name, from the file chosen for that bench. */
  byBench: Map<string, ResultRow[]>;
  /** Which file each bench came from. */
  sourceOf: Map<string, SourceFile>;
  files: SourceFile[];
  /** Lines that were not JSON objects of the expected shape (file:line), reported rather than silently dropped. */
  skipped: string[];
}

/** What `bench/report/index.ts` records per suite it ran (bench/results/latest-report-runs.json). */
export type RunLog = Record<string, { file: string; finished: string; ok: boolean; seconds: number }>;

export const RUN_LOG = 'latest-report-runs.json';

function gitDate(dir: string, file: string): string | null {
  const opts = { cwd: dir, encoding: 'utf8' as const };
  const status = spawnSync('git', ['status', '--porcelain', '--', file], opts);
  if (status.status !== 0 || status.stdout.trim() !== '') return null;
  const log = spawnSync('git', ['log', '-1', '--format=%cI', '--', file], opts);
  const date = log.status === 0 ? log.stdout.trim() : '';
  return date === '' ? null : new Date(date).toISOString();
}

function parseRows(text: string, file: string, skipped: string[]): ResultRow[] {
  const rows: ResultRow[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '') return;
    try {
      const row = JSON.parse(t) as ResultRow;
      if (row && typeof row === 'object' && typeof row.bench === 'string' && typeof row.case === 'string') rows.push(row);
      else skipped.push(`${file}:${i + 1}`);
    } catch {
      skipped.push(`${file}:${i + 1}`);
    }
  });
  return rows;
}

export function loadResults(dir: string): Results {
  const skipped: string[] = [];
  let runLog: RunLog = {};
  try {
    runLog = JSON.parse(fs.readFileSync(path.join(dir, RUN_LOG), 'utf8')) as RunLog;
  } catch {
    // No report run recorded here: dates come from git or the files.
  }
  const logged = new Map(Object.values(runLog).filter((r) => r.ok).map((r) => [r.file, r.finished]));
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^latest(-[\w.-]+)?\.jsonl$/.test(f)).sort() : [];
  const files: (SourceFile & { data: ResultRow[] })[] = names.map((name) => {
    const full = path.join(dir, name);
    const data = parseRows(fs.readFileSync(full, 'utf8'), name, skipped);
    const fromLog = logged.get(name);
    const fromGit = fromLog === undefined ? gitDate(dir, name) : null;
    const measured = fromLog ?? fromGit ?? fs.statSync(full).mtime.toISOString();
    const how = fromLog !== undefined ? 'report run' : fromGit !== null ? 'git commit' : 'file time';
    return { file: name, measured, how, benches: [...new Set(data.map((r) => r.bench))], rows: data.length, data };
  });
  // Newest first; on a tie a suite's own file (latest-X.jsonl) wins over the full run's latest.jsonl.
  const order = [...files].sort((a, b) => b.measured.localeCompare(a.measured) || Number(a.file === 'latest.jsonl') - Number(b.file === 'latest.jsonl'));
  const byBench = new Map<string, ResultRow[]>();
  const sourceOf = new Map<string, SourceFile>();
  for (const f of order) {
    for (const bench of f.benches) {
      if (byBench.has(bench)) continue;
      byBench.set(bench, f.data.filter((r) => r.bench === bench));
      sourceOf.set(bench, f);
    }
  }
  return { dir, byBench, sourceOf, files: files.map(({ data: _data, ...f }) => f), skipped };
}

/** "m=16,k=1024,n=1024 kernel" -> { m: "16", k: "1024", n: "1024" } (also "clients=8", "batch=4"). */
export function fields(caseName: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of caseName.split(/[ ,;]+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function geomean(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  return v.length === 0 ? NaN : Math.exp(v.reduce((s, x) => s + Math.log(x), 0) / v.length);
}
