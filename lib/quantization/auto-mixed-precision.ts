/**
 * autoMixedPrecision: the INT8 model with as few float layers as the sensitivity ranking finds for an
 * end-to-end error budget. Greedy: start all-INT8, and while the measured metric is over the budget move the
 * worst remaining layer (by analyzeSensitivity's one-layer ranking) to the fallback precision and measure
 * again. This is the standard heuristic (as in ONNX Runtime's and TensorRT's layer-wise debugging tools): it
 * costs one measurement per moved layer instead of a search over subsets, and it is not guaranteed to be the
 * smallest set (errors of layers are not additive), only a small one.
 */
import { checkOneOf, checkOptions, invalid } from '../validate';
import type { LayerPrecision, PrecisionRule } from './precision-rules';
import { quantizeModel, type QuantizationReport, type QuantizeModelOptions } from './quantize-model';
import {
  checkSensitivityOptions,
  formatSensitivityTable,
  rankLayers,
  SensitivityProbe,
  throwIfAborted,
  type SensitivityOptions,
  type SensitivityReport,
} from './sensitivity';

export type FallbackPrecision = 'fp16' | 'fp32';

export interface AutoMixedPrecisionOptions extends SensitivityOptions {
  /** The largest end-to-end metric accepted (its mean over the evaluation batches): a finite number >= 0. Required. */
  budget: number;
  /** Precision of the layers taken out of INT8. Default 'fp32' ('fp16' halves their weights but adds its own error). */
  fallback?: FallbackPrecision;
  /**
   * A report from analyzeSensitivity on the same model with the same options, reused instead of analysing
   * again (its ranking decides the order layers fall back in).
   */
  sensitivity?: SensitivityReport;
  /** Print the table (with the precision chosen per layer) and the outcome: true for console.log, or a function given the text. Default false. */
  log?: boolean | ((text: string) => void);
  /** Backends the returned model must load and run on (quantizeModel's validateOn). Default ['onnxruntime', 'native']. */
  validateOn?: QuantizeModelOptions['validateOn'];
}

export interface MixedPrecisionStep {
  /** The layer moved to the fallback precision. */
  moved: string;
  /** The end-to-end metric measured after the move. */
  metric: number;
}

export interface AutoMixedPrecisionResult {
  /** The mixed-precision QDQ model (validated as quantizeModel does). */
  bytes: Uint8Array;
  report: QuantizationReport;
  /** The rules that make this model: pass them to quantizeModel (with the same calibration) to write it again. */
  precision: PrecisionRule[];
  sensitivity: SensitivityReport;
  /** formatSensitivityTable of the ranking with the precision chosen per layer. */
  table: string;
  /** One per layer moved, in order. Empty when all-INT8 was already within budget. */
  steps: MixedPrecisionStep[];
  budget: number;
  fallback: FallbackPrecision;
  allInt8Metric: number;
  /** The end-to-end metric of the returned model. */
  metric: number;
  withinBudget: boolean;
  /** Every analysed layer fell back (the budget was met only then, or not at all). */
  allFellBack: boolean;
  /** One line saying how it ended. */
  summary: string;
}

interface CheckedAutoOptions {
  budget: number;
  fallback: FallbackPrecision;
  sensitivity?: SensitivityReport;
  print?: (text: string) => void;
  validateOn?: QuantizeModelOptions['validateOn'];
}

function checkAutoOptions(o: Record<string, unknown>): CheckedAutoOptions {
  const budget = o.budget;
  if (typeof budget !== 'number' || !Number.isFinite(budget) || budget < 0) throw invalid(`budget must be a finite number >= 0, got ${String(budget)}`, { argument: 'budget', got: budget });
  const fallback = checkOneOf(o.fallback ?? 'fp32', ['fp16', 'fp32'] as const, 'fallback');
  const sensitivity = o.sensitivity;
  if (sensitivity !== undefined && (sensitivity === null || typeof sensitivity !== 'object' || !Array.isArray((sensitivity as SensitivityReport).layers))) {
    throw invalid('sensitivity must be a report from analyzeSensitivity', { argument: 'sensitivity' });
  }
  const log = o.log;
  if (log !== undefined && typeof log !== 'boolean' && typeof log !== 'function') throw invalid('log must be a boolean or a function (text) => void', { argument: 'log' });
  const print = log === true ? (text: string) => console.log(text) : typeof log === 'function' ? (log as (text: string) => void) : undefined;
  return { budget, fallback, sensitivity: sensitivity as SensitivityReport | undefined, print, validateOn: o.validateOn as QuantizeModelOptions['validateOn'] };
}

/** The given ranking, checked to name exactly the layers this model has (a report of another model would misorder silently). */
function checkRanking(sensitivity: SensitivityReport, probe: SensitivityProbe): string[] {
  const ranking = sensitivity.layers.map((layer) => layer?.name);
  const expected = new Set(probe.layers.map((layer) => layer.name));
  if (ranking.length !== expected.size || new Set(ranking).size !== ranking.length || ranking.some((name) => !expected.has(name))) {
    throw invalid('sensitivity does not list the layers of this model (was it made from the same model and opTypesToQuantize / nodesToExclude?)', { argument: 'sensitivity' });
  }
  return ranking;
}

/**
 * Quantizes a float model (path or bytes) to INT8 with the fewest layers in `fallback` precision the greedy
 * sensitivity order finds for `budget` (see the file comment: greedy, not an exhaustive search). Calibrates
 * once (or reuses `calibration`), analyses the layers (or reuses `sensitivity`), then moves the worst
 * remaining layer out of INT8 until the end-to-end metric on the evaluation feeds is <= budget. When every
 * layer has fallen back the result says so (`allFellBack`, `summary`), within budget or not. Failures as
 * analyzeSensitivity's; the returned model is validated as quantizeModel's.
 */
export async function autoMixedPrecision(model: string | Uint8Array, options: AutoMixedPrecisionOptions): Promise<AutoMixedPrecisionResult> {
  const started = performance.now();
  const checked = checkSensitivityOptions(options);
  const { budget, fallback, sensitivity: given, print, validateOn } = checkAutoOptions(checkOptions(options, 'options'));
  const probe = await SensitivityProbe.open(model, checked);
  try {
    const sensitivity = given ?? (await rankLayers(probe, started));
    const ranking = given ? checkRanking(given, probe) : sensitivity.layers.map((layer) => layer.name);
    const allInt8Metric = given ? (await probe.measure([], [])).metric : sensitivity.allInt8Metric;

    const moved: string[] = [];
    const steps: MixedPrecisionStep[] = [];
    const rules = (): PrecisionRule[] => (moved.length === 0 ? [] : [{ name: [...moved], precision: fallback }]);
    let metric = allInt8Metric;
    while (metric > budget && moved.length < ranking.length) {
      throwIfAborted(checked.signal, 'autoMixedPrecision');
      moved.push(ranking[moved.length]);
      metric = (await probe.measure(rules(), [])).metric;
      steps.push({ moved: moved[moved.length - 1], metric });
      checked.onProgress?.({ phase: 'fallback', done: moved.length, total: ranking.length, node: moved[moved.length - 1], metric });
    }

    const precision = rules();
    const { bytes, report } = await quantizeModel(model, { ...checked.quantize, calibration: probe.table, precision, threads: checked.threads, validateOn });
    const withinBudget = metric <= budget;
    const allFellBack = moved.length === ranking.length;
    const total = ranking.length;
    const summary = allFellBack
      ? `all ${total} layers fell back to ${fallback}: metric ${metric.toExponential(2)} ${withinBudget ? 'is within' : 'is still over'} the budget ${budget}`
      : `metric ${metric.toExponential(2)} <= budget ${budget} with ${moved.length} of ${total} layers in ${fallback} (all INT8: ${allInt8Metric.toExponential(2)}; greedy by sensitivity)`;
    const precisions: Record<string, LayerPrecision> = Object.fromEntries(moved.map((name) => [name, fallback]));
    const table = formatSensitivityTable(sensitivity, precisions);
    print?.(`${table}\n${summary}`);
    return { bytes, report, precision, sensitivity, table, steps, budget, fallback, allInt8Metric, metric, withinBudget, allFellBack, summary };
  } finally {
    probe.dispose();
  }
}
