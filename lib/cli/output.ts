/** Printing for the CLI: aligned tables, byte sizes, and the error line a shell user sees. */
import { EdgeInferError } from '../errors';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** Rows of cells as a left-aligned table (numbers right-aligned), header underlined. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'number' ? String(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The message and exit code for an error: EdgeInferError with its code (1), anything else as a crash (70). */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof EdgeInferError) return { message: `edgeinfer: ${error.message} (${error.code})`, exitCode: 1 };
  const e = error as Error;
  return { message: `edgeinfer: internal error: ${e?.stack ?? String(error)}`, exitCode: 70 };
}
