/**
 * Classification metrics over predicted and true class indexes: accuracy, macro-F1, argmax agreement.
 * Macro-F1 follows scikit-learn's f1_score(average='macro'): the mean over every class that occurs in the
 * labels or the predictions of 2 TP / (2 TP + FP + FN), a class never predicted and never true left out.
 */
import { EdgeInferError } from '../errors';

type Numeric = ArrayLike<number> | BigInt64Array | BigUint64Array;

function toNumbers(values: Numeric): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  return out;
}

function sameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>, what: string): void {
  if (a.length !== b.length) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `${what}: ${a.length} predictions vs ${b.length} references`);
  if (a.length === 0) throw new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', `${what}: no samples`);
}

/** Index of the largest value of each row of a [rows, classes] block (first one on ties, as numpy's argmax). */
export function argmaxRows(data: ArrayLike<number>, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 1 || data.length % classes !== 0) throw new EdgeInferError('EDGEINFER_SHAPE_MISMATCH', `${data.length} values are not rows of ${classes} classes`);
  const rows = data.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = data[r * classes];
    for (let c = 1; c < classes; c++) {
      const v = data[r * classes + c];
      // NaN never wins (numpy would pick it; a NaN output is a failure the agreement should show).
      if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
        best = c;
        bestValue = v;
      }
    }
    out[r] = best;
  }
  return out;
}

export function accuracy(predictions: Numeric, labels: Numeric): number {
  sameLength(predictions, labels, 'accuracy');
  const p = toNumbers(predictions);
  const l = toNumbers(labels);
  let right = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === l[i]) right++;
  return right / p.length;
}

/** Fraction of samples on which two models pick the same class. */
export function agreement(a: Numeric, b: Numeric): number {
  sameLength(a, b, 'agreement');
  return accuracy(a, b);
}

export function macroF1(predictions: Numeric, labels: Numeric): number {
  sameLength(predictions, labels, 'macro-F1');
  const p = toNumbers(predictions);
  const l = toNumbers(labels);
  const tp = new Map<number, number>();
  const fp = new Map<number, number>();
  const fn = new Map<number, number>();
  const classes = new Set<number>();
  const add = (map: Map<number, number>, key: number) => map.set(key, (map.get(key) ?? 0) + 1);
  for (let i = 0; i < p.length; i++) {
    classes.add(p[i]);
    classes.add(l[i]);
    if (p[i] === l[i]) add(tp, l[i]);
    else {
      add(fp, p[i]);
      add(fn, l[i]);
    }
  }
  let sum = 0;
  for (const c of classes) {
    const t = tp.get(c) ?? 0;
    sum += (2 * t) / (2 * t + (fp.get(c) ?? 0) + (fn.get(c) ?? 0));
  }
  return sum / classes.size;
}

/** Median of a list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
