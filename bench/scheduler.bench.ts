/**
 * The BatchScheduler against the same Engine called directly, in one run:
 *   "overhead":   a trivial model (y = 2x + 1, [batch, 4]); N requests from 64 concurrent clients through the
 *                 scheduler with maxBatchSize 1 (every request one engine call, as without it) vs the engine
 *                 directly: the extra time per request is what the scheduler costs. Also the rate it sustains.
 *   "throughput": closed-loop clients (each awaits its answer, then asks again) at 1, 8 and 64 concurrency on
 *                 the alexa wake-word head (exported with batch 1: loaded with its batch freed) and on
 *                 tfm_bert_small_cls from ../shared/zoo: requests/s, p50 and p99 latency, batched vs not, for
 *                 the default scheduler (one batch in flight) and a pipelined one (two batches in flight);
 *                 BERT also with the engine's default threads (all cores) and on the onnxruntime backend.
 *   "ceiling":    for each BERT engine, its time per sample at batch 1 over batch 64 through engine.infer
 *                 directly: the most any batcher can gain there (the throughput ratios cannot exceed it).
 * speedup > 1 means ours (the scheduler) is better.
 *   npx tsx bench/scheduler.bench.ts [--json] [--seconds S]
 */
import fs from 'node:fs';

import { BatchScheduler, Engine, type Tensor } from '../lib';
import { freeBatchDimension } from '../lib/onnx/batch-dim';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { affineModel } from '../test/fixtures/affine-model';
import { fetchModels } from '../test/helpers/repo';
import { zooAvailable, zooFeeds, zooModelPath, zooModels } from '../test/helpers/zoo';
import { closedLoop, type Infer, interleave, parseArgs, progress, Reporter, rng, stats } from './harness';


async function overhead(report: Reporter, seconds: number): Promise<void> {
  const engine = await Engine.load(affineModel(), { threads: 1 });
  const feeds = Array.from({ length: 64 }, (_, i) => ({ x: { type: 'float32' as const, data: Float32Array.of(i, i + 1, i + 2, i + 3), dims: [1, 4] } }));
  const unbatched = new BatchScheduler(engine, { maxBatchSize: 1, maxQueueSize: 1 << 20 });
  const direct: Infer = (f) => engine.infer(f);
  const scheduled: Infer = (f) => unbatched.infer(f);
  // Alternate the two a few times so drift from other processes hits both alike.
  const perRequest: Record<string, number[]> = { direct: [], scheduled: [] };
  for (let round = 0; round < 6; round++) {
    for (const [name, infer] of Object.entries({ direct, scheduled })) {
      const { rate } = await closedLoop(infer, feeds, 64, seconds / 3);
      perRequest[name].push(1e6 / rate);
    }
  }
  const directUs = stats(perRequest.direct).median;
  const scheduledUs = stats(perRequest.scheduled).median;
  report.add({
    bench: 'scheduler',
    case: 'trivial model,64 clients,overhead per request',
    ours: scheduledUs - directUs,
    baseline: 'engine.infer per request (same clients)',
    baseline_value: directUs,
    unit: 'us',
    speedup: directUs / scheduledUs,
    scheduler_rate: 1e6 / scheduledUs,
    direct_rate: 1e6 / directUs,
  });
  const batched = new BatchScheduler(engine, { maxBatchSize: 64, maxQueueSize: 1 << 20 });
  const { rate } = await closedLoop((f) => batched.infer(f), feeds, 64, seconds);
  report.add({
    bench: 'scheduler',
    case: 'trivial model,64 clients,batched requests/s',
    ours: rate,
    baseline: 'engine.infer (same clients)',
    baseline_value: 1e6 / directUs,
    unit: 'req/s',
    speedup: rate / (1e6 / directUs),
  });
  await unbatched.close();
  await batched.close();
  engine.dispose();
}

/**
 * How the scheduler is set up: 'one batch in flight' is the default (the batch runs inline or on the pool, as
 * the engine decides); 'pipelined' runs two batches of up to 32 at once on the libuv pool (maxInflightBatches 2
 * over an engine with maxConcurrentRuns 2 that never runs inline), so on two cores one batch computes while the
 * JS thread splits the last one and gathers the next: Triton's two model instances.
 */
interface SchedulerSetup {
  name: string;
  engine: Engine;
  maxBatchSize: number;
  maxInflightBatches: number;
}

async function throughput(report: Reporter, label: string, engine: Engine, setups: SchedulerSetup[], feeds: Record<string, Tensor>[], delayMicros: number, seconds: number): Promise<void> {
  for (const clients of [1, 8, 64]) for (const setup of setups) {
    progress(`${label}: ${clients} clients, ${setup.name}`);
    const options = { maxBatchSize: setup.maxBatchSize, maxInflightBatches: setup.maxInflightBatches, maxQueueDelayMicros: delayMicros, maxQueueSize: 1 << 20 };
    // Warm-up first, unmeasured and on a scheduler of its own (so its batches stay out of the stats): JIT tiering
    // of the request path and V8's young generation growing to its working size. The first ~100 ms of a cold
    // run had a p99 of 5-7 ms on the alexa head.
    const warmup = Math.min(1, seconds / 4);
    const warming = new BatchScheduler(setup.engine, options);
    await closedLoop((f) => engine.infer(f), feeds, clients, warmup);
    await closedLoop((f) => warming.infer(f), feeds, clients, warmup);
    await warming.close();
    const scheduler = new BatchScheduler(setup.engine, options);
    // Interleaved halves, so drift from other processes hits both alike.
    const plainRuns = [];
    const batchedRuns = [];
    for (let half = 0; half < 2; half++) {
      plainRuns.push(await closedLoop((f) => engine.infer(f), feeds, clients, seconds / 2));
      batchedRuns.push(await closedLoop((f) => scheduler.infer(f), feeds, clients, seconds / 2));
    }
    const merge = (runs: { rate: number; latencies: number[] }[]) => ({ rate: runs.reduce((sum, r) => sum + r.rate, 0) / runs.length, latencies: runs.flatMap((r) => r.latencies) });
    const plain = merge(plainRuns);
    const batched = merge(batchedRuns);
    const s = scheduler.stats();
    const p = stats(plain.latencies);
    const b = stats(batched.latencies);
    report.add({
      bench: 'scheduler',
      case: `${label},${clients} clients,${setup.name},throughput`,
      ours: batched.rate,
      baseline: 'engine.infer unbatched (same clients)',
      baseline_value: plain.rate,
      unit: 'req/s',
      speedup: batched.rate / plain.rate,
      ours_p50_us: b.median,
      ours_p99_us: b.p99,
      baseline_p50_us: p.median,
      baseline_p99_us: p.p99,
      mean_batch: s.batchSize.mean,
      batch_service_p50_us: s.serviceMicros.p50,
      max_queue_delay_us: delayMicros,
      // The bound on a request's p99: the queue delay plus two batch service times.
      p99_bound_us: delayMicros + 2 * s.serviceMicros.p50,
      max_batch_size: setup.maxBatchSize,
      max_inflight_batches: setup.maxInflightBatches,
    });
    await scheduler.close();
  }
}

/**
 * The most any batcher can gain on an engine: its time per sample at batch 1 over its time per sample at batch
 * `batch`, both through engine.infer directly (no scheduler, no JS split), interleaved. A scheduler's
 * throughput ratio against the unbatched engine cannot exceed this (it adds admission and split work on top).
 */
async function batchingCeiling(report: Reporter, label: string, engine: Engine, one: Record<string, Tensor>, batched: Record<string, Tensor>, batch: number, seconds: number): Promise<void> {
  progress(`${label}: per-sample time, batch 1 vs ${batch}`);
  const [single, whole] = await interleave([
    { name: 'batch 1', async: () => engine.infer(one) },
    { name: `batch ${batch}`, async: () => engine.infer(batched) },
  ], seconds);
  const perSample = whole.stats.median / batch;
  report.add({
    bench: 'scheduler',
    case: `${label},batching ceiling (per sample: batch 1 / batch ${batch})`,
    ours: perSample,
    baseline: 'batch 1, per request',
    baseline_value: single.stats.median,
    unit: 'us',
    speedup: single.stats.median / perSample,
  });
}

/** The default setup and the pipelined one (see SchedulerSetup) for a model, loaded from `model`. */
async function setupsFor(model: string | Uint8Array, engine: Engine): Promise<SchedulerSetup[]> {
  const pipelinedEngine = await Engine.load(model, { threads: 1, maxConcurrentRuns: 2, inlineBelowMicroseconds: 0 });
  return [
    { name: 'one batch in flight', engine, maxBatchSize: 64, maxInflightBatches: 1 },
    { name: 'pipelined (2 x 32 in flight)', engine: pipelinedEngine, maxBatchSize: 32, maxInflightBatches: 2 },
  ];
}

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  progress('overhead on a trivial model');
  await overhead(report, args.seconds);

  // The alexa head is exported with batch 1 ([1, 16, 96]); Flatten(axis 1) -> Gemm batches fine.
  const head = readModel(fs.readFileSync(fetchModels()['alexa_v0.1.onnx']));
  freeBatchDimension(head);
  const headBytes = writeModel(head);
  const alexa = await Engine.load(headBytes, { threads: 1 });
  const next = rng(5);
  const headFeeds = Array.from({ length: 64 }, () => ({ [alexa.inputs[0].name]: { type: 'float32' as const, data: Float32Array.from({ length: 16 * 96 }, () => next() * 2 - 1), dims: [1, 16, 96] } }));
  const headSetups = await setupsFor(headBytes, alexa);
  await throughput(report, `alexa head (${alexa.info().backend})`, alexa, headSetups, headFeeds, 500, args.seconds);
  for (const setup of headSetups) await setup.engine.dispose();

  if (zooAvailable) {
    const spec = zooModels().find((m) => m.name === 'tfm_bert_small_cls')!;
    const bert = await Engine.load(zooModelPath(spec.name), { threads: 1 });
    const bertFeeds = Array.from({ length: 16 }, (_, i) => zooFeeds(spec, i + 1));
    const bertSetups = await setupsFor(zooModelPath(spec.name), bert);
    const bertBackend = bert.info().backend; // read before the setups (bert among them) are disposed
    const bertBatch = zooFeeds(spec, 1, { batch: 64 });
    await batchingCeiling(report, `tfm_bert_small_cls (${bertBackend})`, bert, bertFeeds[0], bertBatch, 64, args.seconds);
    await throughput(report, `tfm_bert_small_cls (${bertBackend})`, bert, bertSetups, bertFeeds, 2000, args.seconds);
    for (const setup of bertSetups) await setup.engine.dispose();
    // The engine as loaded by default (threads: all cores): a batch of 32 splits over the cores better than
    // one request's GEMMs (M = 16) do, so batching gains more than on one thread.
    const bertAllCores = await Engine.load(zooModelPath(spec.name));
    await batchingCeiling(report, `tfm_bert_small_cls (${bertBackend}, default threads: ${bertAllCores.info().threads})`, bertAllCores, bertFeeds[0], bertBatch, 64, args.seconds);
    await throughput(report, `tfm_bert_small_cls (${bertBackend}, default threads: ${bertAllCores.info().threads})`, bertAllCores, [{ name: 'one batch in flight', engine: bertAllCores, maxBatchSize: 64, maxInflightBatches: 1 }], bertFeeds, 2000, args.seconds);
    await bertAllCores.dispose();
    // The same model on ONNX Runtime, whose batch-1 runs leave more to gain by batching than native's do.
    if (bertBackend !== 'onnxruntime' && Engine.backends().some((b) => b.name === 'onnxruntime' && b.available)) {
      const onOrt = await Engine.load(zooModelPath(spec.name), { threads: 1, backend: 'onnxruntime' });
      await batchingCeiling(report, 'tfm_bert_small_cls (onnxruntime)', onOrt, bertFeeds[0], bertBatch, 64, args.seconds);
      await throughput(report, 'tfm_bert_small_cls (onnxruntime)', onOrt, [{ name: 'one batch in flight', engine: onOrt, maxBatchSize: 64, maxInflightBatches: 1 }], bertFeeds, 2000, args.seconds);
      await onOrt.dispose();
      // And with its default threads (all cores), as the native row above: ONNX Runtime's intra-op threads split
      // a batch of 64 well and one request (M = 16) poorly, so batching gains most there.
      const onOrtAllCores = await Engine.load(zooModelPath(spec.name), { backend: 'onnxruntime' });
      await batchingCeiling(report, `tfm_bert_small_cls (onnxruntime, default threads: ${onOrtAllCores.info().threads})`, onOrtAllCores, bertFeeds[0], bertBatch, 64, args.seconds);
      await throughput(report, `tfm_bert_small_cls (onnxruntime, default threads: ${onOrtAllCores.info().threads})`, onOrtAllCores, [{ name: 'one batch in flight', engine: onOrtAllCores, maxBatchSize: 64, maxInflightBatches: 1 }], bertFeeds, 2000, args.seconds);
      await onOrtAllCores.dispose();
    }
  } else {
    progress('../shared/zoo not found: tfm_bert_small_cls skipped');
  }
  report.finish();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
