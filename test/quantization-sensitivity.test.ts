// analyzeSensitivity and autoMixedPrecision on the openWakeWord embedding model (20 Convs), calibrated on 24
// mel windows of the speech fixtures and measured on 24 held-out ones: every layer is reported with a finite
// SQNR, worst first; a layer alone in INT8 is cleaner at its output than with every layer INT8 (noise
// accumulates); budgets between 0 and the all-INT8 error are met with INT8 layers left and checked again on
// the written model; a loose budget moves nothing, a zero budget moves everything and says so; hostile
// options fail with EDGEINFER_INVALID_ARGUMENT before any batch is read.
import assert from 'node:assert/strict';
import fs from 'node:fs';

import {
  analyzeSensitivity,
  autoMixedPrecision,
  calibrateModel,
  EdgeInferError,
  Engine,
  formatSensitivityTable,
  outputCosineDistance,
  type CalibrationFeeds,
  type CalibrationTable,
  type SensitivityProgress,
  type SensitivityReport,
  type Tensor,
} from '../lib';
import { readModel } from '../lib/onnx/reader';
import { embeddingWindows } from './helpers/calibration-data';
import { emulated } from './helpers/node-child';
import { fetchModels } from './helpers/repo';

const WINDOWS = 24;
const isCode = (code: string) => (error: unknown) => error instanceof EdgeInferError && error.code === code;

async function collect(feeds: AsyncIterable<CalibrationFeeds>): Promise<CalibrationFeeds[]> {
  const all: CalibrationFeeds[] = [];
  for await (const f of feeds) all.push(f);
  return all;
}

describe('sensitivity analysis and autoMixedPrecision (embedding model)', function () {
  this.timeout(300_000);
  const modelPath = fetchModels()['embedding_model.onnx'];
  const convNames = readModel(fs.readFileSync(modelPath))
    .graph.nodes.filter((node) => node.opType === 'Conv')
    .map((node) => node.name);
  /** Windows between the calibration ones (offset 4 of hop 8): never calibrated on. */
  let heldOut: CalibrationFeeds[];
  let calibration: CalibrationTable;
  let report: SensitivityReport;
  const calibrationWindows = () => embeddingWindows({ count: WINDOWS });
  const reuse = () => ({ calibration, evalData: heldOut, threads: 1, sensitivity: report, validateOn: ['native' as const] });

  before(async () => {
    heldOut = await collect(embeddingWindows({ count: WINDOWS, offset: 4 }));
    calibration = await calibrateModel(modelPath, calibrationWindows(), { threads: 1 });
    // Calibrates on its own (the data path); the same windows, so the same table as `calibration`.
    report = await analyzeSensitivity(modelPath, { data: calibrationWindows(), evalData: heldOut, threads: 1 });
  });

  after(() => calibration?.dispose());

  it('lists every quantizable node (the 20 Convs) with a finite SQNR, worst first', () => {
    assert.equal(convNames.length, 20);
    assert.deepEqual(report.layers.map((layer) => layer.name).sort(), [...convNames].sort());
    for (const layer of report.layers) {
      assert.equal(layer.opType, 'Conv');
      assert.ok(Number.isFinite(layer.sqnrDb) && layer.sqnrDb > 10, `${layer.name}: SQNR ${layer.sqnrDb}`);
      assert.ok(Number.isFinite(layer.sqnrAllInt8Db), `${layer.name}: all-INT8 SQNR ${layer.sqnrAllInt8Db}`);
      assert.ok(Number.isFinite(layer.metric) && layer.metric > 0, `${layer.name}: metric ${layer.metric}`);
      assert.ok(layer.weightBytes > layer.weightBytesInt8 && layer.weightBytesInt8 > 0, `${layer.name}: weight bytes`);
    }
    for (let i = 1; i < report.layers.length; i++) assert.ok(report.layers[i - 1].metric >= report.layers[i].metric, `not worst first at ${i}`);
    assert.ok(report.allInt8Metric > report.layers[0].metric, 'every layer INT8 loses more than the worst one alone');
    assert.equal(report.evalBatches, WINDOWS);
    assert.equal(report.calibrationBatches, WINDOWS);
    const table = formatSensitivityTable(report);
    for (const name of convNames) assert.match(table, new RegExp(`^${name.replace(/[/]/g, '\\/')} `, 'm'));
  });

  it('noise accumulates: each layer alone in INT8 has a higher SQNR at its output than in the all-INT8 model', () => {
    const byName = new Map(report.layers.map((layer) => [layer.name, layer]));
    const [first, ...later] = convNames.map((name) => byName.get(name)!);
    // Nothing before the first layer is quantized in either model: the same input, the same error.
    assert.ok(Math.abs(first.sqnrDb - first.sqnrAllInt8Db) < 1e-6, `${first.name}: ${first.sqnrDb} vs ${first.sqnrAllInt8Db}`);
    for (const layer of later) assert.ok(layer.sqnrDb > layer.sqnrAllInt8Db, `${layer.name}: alone ${layer.sqnrDb} dB <= all INT8 ${layer.sqnrAllInt8Db} dB`);
    const last = later[later.length - 1];
    assert.ok(last.sqnrDb - last.sqnrAllInt8Db > 6, `${last.name}: only ${last.sqnrDb - last.sqnrAllInt8Db} dB accumulated`);
  });

  it('the FP32 references recomputed per measurement (referenceCacheBytes 0) give the same report', async function () {
    if (emulated) this.skip(); // 3.5 min under qemu for a path of plain TypeScript: the x64 run covers it
    const recomputed = await analyzeSensitivity(modelPath, { calibration, evalData: heldOut, threads: 1, referenceCacheBytes: 0 });
    assert.deepEqual(recomputed.layers.map((layer) => layer.name), report.layers.map((layer) => layer.name));
    for (const [i, layer] of recomputed.layers.entries()) {
      assert.ok(Math.abs(layer.sqnrDb - report.layers[i].sqnrDb) < 1e-6, layer.name);
      assert.ok(Math.abs(layer.metric - report.layers[i].metric) < 1e-12, layer.name);
    }
  });

  it('a budget between the all-INT8 metric and 0 is met with INT8 layers left, greedily in ranking order, and holds on the written model', async () => {
    const budget = report.allInt8Metric / 2;
    const printed: string[] = [];
    const result = await autoMixedPrecision(modelPath, { ...reuse(), budget, log: (text) => printed.push(text) });
    console.log(`      measured (${heldOut.length} held-out windows):\n${printed[0].replace(/^/gm, '      ')}`);
    assert.ok(result.withinBudget && result.metric <= budget, result.summary);
    assert.equal(result.allFellBack, false);
    assert.ok(result.steps.length >= 1);
    assert.deepEqual(result.steps.map((step) => step.moved), report.layers.slice(0, result.steps.length).map((layer) => layer.name));
    assert.equal(result.steps[result.steps.length - 1].metric, result.metric);
    for (const step of result.steps.slice(0, -1)) assert.ok(step.metric > budget, 'a step after the budget was met');
    assert.deepEqual(result.report.counts, { int8: 20 - result.steps.length, fp16: 0, fp32: result.steps.length });
    assert.deepEqual(result.precision, [{ name: result.steps.map((step) => step.moved), precision: 'fp32' }]);
    for (const node of result.report.nodes) assert.equal(node.precision, result.steps.some((step) => step.moved === node.name) ? 'fp32' : 'int8', node.name);

    // The returned bytes (the plain model, without the probe's extra outputs) measured again.
    const [fp32, mixed] = await Promise.all([Engine.load(modelPath, { backend: 'native', threads: 1 }), Engine.load(result.bytes, { backend: 'native', threads: 1 })]);
    try {
      let sum = 0;
      for (const feeds of heldOut) sum += outputCosineDistance(await fp32.infer(feeds), await mixed.infer(feeds));
      assert.ok(Math.abs(sum / heldOut.length - result.metric) < 1e-9, `written model: ${sum / heldOut.length} vs measured ${result.metric}`);
    } finally {
      fp32.dispose();
      mixed.dispose();
    }
  });

  it('a budget at or above the all-INT8 metric keeps every layer INT8 (0 steps)', async () => {
    const result = await autoMixedPrecision(modelPath, { ...reuse(), budget: report.allInt8Metric });
    assert.equal(result.steps.length, 0);
    assert.deepEqual(result.precision, []);
    assert.equal(result.report.counts.int8, 20);
    assert.ok(result.withinBudget && !result.allFellBack);
    assert.equal(result.metric, report.allInt8Metric);
  });

  it('a budget of 0 makes every layer fall back and says so (FP32: met; FP16: still over)', async function () {
    if (emulated) this.skip(); // 40 quantize-and-measure steps: minutes under qemu for plain TypeScript; the x64 run covers it
    const fp32 = await autoMixedPrecision(modelPath, { ...reuse(), budget: 0 });
    assert.equal(fp32.steps.length, 20);
    assert.ok(fp32.allFellBack && fp32.withinBudget && fp32.metric === 0, fp32.summary);
    assert.equal(fp32.report.counts.fp32, 20);
    assert.match(fp32.summary, /all 20 layers fell back to fp32/);

    const fp16 = await autoMixedPrecision(modelPath, { ...reuse(), budget: 0, fallback: 'fp16' });
    assert.ok(fp16.allFellBack && !fp16.withinBudget && fp16.metric > 0, fp16.summary);
    assert.equal(fp16.report.counts.fp16, 20);
    assert.match(fp16.summary, /all 20 layers fell back to fp16.*still over the budget 0/);
  });

  it('a custom metric sees the model outputs only; progress is reported and an AbortSignal stops the analysis', async () => {
    const outputNames = new Set<string>();
    const maxAbsError = (reference: Readonly<Record<string, Tensor>>, quantized: Readonly<Record<string, Tensor>>) => {
      let worst = 0;
      for (const [name, ref] of Object.entries(reference)) {
        outputNames.add(name);
        const got = quantized[name].data;
        for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(Number(ref.data[i]) - Number(got[i])));
      }
      return worst;
    };
    const controller = new AbortController();
    const progress: SensitivityProgress[] = [];
    const onProgress = (p: SensitivityProgress) => {
      progress.push(p);
      if (p.phase === 'layer' && p.done === 3) controller.abort();
    };
    await assert.rejects(analyzeSensitivity(modelPath, { calibration, evalData: heldOut.slice(0, 4), threads: 1, metric: maxAbsError, onProgress, signal: controller.signal }), isCode('EDGEINFER_ABORTED'));
    assert.deepEqual([...outputNames], readModel(fs.readFileSync(modelPath)).graph.outputs.map((output) => output.name));
    assert.deepEqual(progress.filter((p) => p.phase === 'reference').map((p) => p.done), [1, 2, 3, 4]);
    const layers = progress.filter((p) => p.phase === 'layer');
    assert.equal(layers.length, 3);
    assert.ok(layers.every((p) => p.total === 20 && convNames.includes(p.node!) && p.metric! > 0));

    await assert.rejects(analyzeSensitivity(modelPath, { calibration, evalData: heldOut.slice(0, 2), threads: 1, metric: () => NaN }), isCode('EDGEINFER_INVALID_ARGUMENT'));
  });

  it('hostile options are EDGEINFER_INVALID_ARGUMENT before any batch is read', async () => {
    let pulled = 0;
    async function* data() {
      pulled++;
      yield* embeddingWindows({ count: 2 });
    }
    const cases: [string, Record<string, unknown>][] = [
      ['negative budget', { budget: -0.1 }],
      ['NaN budget', { budget: NaN }],
      ['infinite budget', { budget: Infinity }],
      ['string budget', { budget: '0.01' }],
      ['no budget', {}],
      ['unknown fallback', { budget: 0.01, fallback: 'int4' }],
      ['metric not a function', { budget: 0.01, metric: 'cosine' }],
      ['unknown method', { budget: 0.01, method: 'kl' }],
      ['evalData not iterable', { budget: 0.01, evalData: 42 }],
      ['bad referenceCacheBytes', { budget: 0.01, referenceCacheBytes: -1 }],
      ['bad log', { budget: 0.01, log: 'yes' }],
      ['bad onProgress', { budget: 0.01, onProgress: 1 }],
      ['bad signal', { budget: 0.01, signal: {} }],
      ['bad sensitivity', { budget: 0.01, sensitivity: { layers: 'all' } }],
      ['bad threads', { budget: 0.01, threads: 0 }],
    ];
    for (const [what, options] of cases) {
      await assert.rejects(autoMixedPrecision(modelPath, { data: data(), ...options } as never), isCode('EDGEINFER_INVALID_ARGUMENT'), what);
    }
    await assert.rejects(autoMixedPrecision(modelPath, { budget: 0.01 }), isCode('EDGEINFER_INVALID_ARGUMENT'), 'no data nor calibration');
    await assert.rejects(autoMixedPrecision(modelPath, null as never), isCode('EDGEINFER_INVALID_ARGUMENT'), 'null options');
    await assert.rejects(analyzeSensitivity(modelPath, { data: data(), metric: 0 as never }), isCode('EDGEINFER_INVALID_ARGUMENT'), 'analyzeSensitivity metric');
    await assert.rejects(analyzeSensitivity(42 as never, { data: data() }), isCode('EDGEINFER_INVALID_ARGUMENT'), 'model not a path or bytes');
    assert.equal(pulled, 0, 'a batch was read before the options were checked');
    // A ranking of another model's layers would order the fallbacks wrongly without a word.
    const foreign: SensitivityReport = { ...report, layers: report.layers.slice(1) };
    await assert.rejects(autoMixedPrecision(modelPath, { ...reuse(), sensitivity: foreign, budget: 0.01 }), isCode('EDGEINFER_INVALID_ARGUMENT'), 'foreign sensitivity');
    assert.throws(() => formatSensitivityTable(null as never), isCode('EDGEINFER_INVALID_ARGUMENT'));
  });
});
