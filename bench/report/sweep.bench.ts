/**
 * Latency against batch size and against concurrency, ours vs ONNX Runtime in the same run, for the report's
 * charts (bench/results/REPORT.md). Both sides go through the same public API, so the figures are what a
 * service sees: `Engine` with the native backend vs `Engine` with the onnxruntime backend (onnxruntime-node in
 * its worker thread), single thread each.
 *   "batch=B,infer latency":        one engine.infer call of a batch of B, interleaved blocks: median and p99.
 *   "clients=C,scheduler latency":  C closed-loop clients (each awaits its answer, then asks again) through a
 *                                   BatchScheduler (maxBatchSize 32) over each engine, interleaved halves:
 *                                   p50 / p99 per request, requests/s, mean batch.
 * Models: openWakeWord's embedding model (the demo's heavy stage) and tfm_bert_small_cls from ../shared/zoo
 * (skipped without it). speedup > 1 means ours is better (ORT's latency / ours).
 *   npx tsx bench/report/sweep.bench.ts [--json] [--seconds S] [--models embedding,bert]
 */
import { BatchScheduler, Engine, type Tensor } from '../../lib';
import { fetchModels } from '../../test/helpers/repo';
import { zooAvailable, zooFeeds, zooModelPath, zooModels } from '../../test/helpers/zoo';
import { closedLoop, interleave, ortTag, parseArgs, progress, Reporter, rng, stats } from '../harness';

export const BATCHES = [1, 2, 4, 8, 16, 32];
export const CLIENTS = [1, 2, 4, 8, 16, 32, 64];

interface Subject {
  label: string;
  path: string;
  /** A request of batch `batch` (distinct data per seed). */
  feeds(batch: number, seed: number): Record<string, Tensor>;
  maxQueueDelayMicros: number;
}

function embeddingSubject(): Subject {
  return {
    label: 'embedding_model',
    path: fetchModels()['embedding_model.onnx'],
    feeds(batch, seed) {
      const next = rng(seed);
      return { input_1: { type: 'float32', data: Float32Array.from({ length: batch * 76 * 32 }, () => next() * 4 - 2), dims: [batch, 76, 32, 1] } };
    },
    maxQueueDelayMicros: 1000,
  };
}

function bertSubject(): Subject | null {
  if (!zooAvailable) return null;
  const spec = zooModels().find((m) => m.name === 'tfm_bert_small_cls');
  if (!spec) return null;
  return { label: spec.name, path: zooModelPath(spec.name), feeds: (batch, seed) => zooFeeds(spec, seed, { batch }), maxQueueDelayMicros: 2000 };
}

async function batchSweep(report: Reporter, subject: Subject, ours: Engine, ort: Engine, seconds: number): Promise<void> {
  for (const batch of BATCHES) {
    progress(`${subject.label}: batch ${batch}`);
    const feeds = subject.feeds(batch, batch);
    const [o, b] = await interleave(
      [
        { name: 'ours', async: () => ours.infer(feeds) },
        { name: 'ort', async: () => ort.infer(feeds) },
      ],
      seconds,
    );
    report.add({
      bench: 'sweep',
      case: `${subject.label},batch=${batch},infer latency`,
      ours: o.stats.median,
      baseline: `${ortTag} (Engine backend onnxruntime)`,
      baseline_value: b.stats.median,
      unit: 'us',
      speedup: b.stats.median / o.stats.median,
      model: subject.label,
      batch,
      ours_p99_us: o.stats.p99,
      baseline_p99_us: b.stats.p99,
      ours_items_per_s: (batch * 1e6) / o.stats.median,
      baseline_items_per_s: (batch * 1e6) / b.stats.median,
    });
  }
}

async function concurrencySweep(report: Reporter, subject: Subject, ours: Engine, ort: Engine, seconds: number): Promise<void> {
  const feeds = Array.from({ length: 16 }, (_, i) => subject.feeds(1, 100 + i));
  for (const clients of CLIENTS) {
    progress(`${subject.label}: ${clients} clients through a BatchScheduler`);
    const options = { maxBatchSize: 32, maxQueueDelayMicros: subject.maxQueueDelayMicros, maxQueueSize: 1 << 20 };
    const sides = [
      { engine: ours, scheduler: new BatchScheduler(ours, options), runs: [] as { rate: number; latencies: number[] }[] },
      { engine: ort, scheduler: new BatchScheduler(ort, options), runs: [] as { rate: number; latencies: number[] }[] },
    ];
    // Interleaved halves, so drift from other processes hits both alike.
    for (let half = 0; half < 2; half++) {
      for (const side of sides) side.runs.push(await closedLoop((f) => side.scheduler.infer(f), feeds, clients, seconds / 2));
    }
    const [o, b] = sides.map((side) => {
      const s = stats(side.runs.flatMap((r) => r.latencies));
      return { ...s, rate: side.runs.reduce((sum, r) => sum + r.rate, 0) / side.runs.length, meanBatch: side.scheduler.stats().batchSize.mean };
    });
    report.add({
      bench: 'sweep',
      case: `${subject.label},clients=${clients},scheduler latency`,
      ours: o.median,
      baseline: `${ortTag} (Engine backend onnxruntime, same BatchScheduler)`,
      baseline_value: b.median,
      unit: 'us',
      speedup: b.median / o.median,
      model: subject.label,
      clients,
      ours_p99_us: o.p99,
      baseline_p99_us: b.p99,
      ours_rate: o.rate,
      baseline_rate: b.rate,
      ours_mean_batch: o.meanBatch,
      baseline_mean_batch: b.meanBatch,
      max_batch_size: options.maxBatchSize,
      max_queue_delay_us: options.maxQueueDelayMicros,
    });
    for (const side of sides) await side.scheduler.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const at = process.argv.indexOf('--models');
  const wanted = at >= 0 ? process.argv[at + 1].split(',') : ['embedding', 'bert'];
  const subjects: Subject[] = [];
  if (wanted.includes('embedding')) subjects.push(embeddingSubject());
  if (wanted.includes('bert')) {
    const bert = bertSubject();
    if (bert) subjects.push(bert);
    else progress('../shared/zoo not found: tfm_bert_small_cls skipped');
  }
  if (!Engine.backends().some((b) => b.name === 'onnxruntime' && b.available)) throw new Error('onnxruntime-node is not installed: the sweep compares against it');
  for (const subject of subjects) {
    const ours = await Engine.load(subject.path, { threads: 1, backend: 'native' });
    const ort = await Engine.load(subject.path, { threads: 1, backend: 'onnxruntime' });
    await batchSweep(report, subject, ours, ort, args.seconds);
    await concurrencySweep(report, subject, ours, ort, args.seconds * 2);
    await ours.dispose();
    await ort.dispose();
  }
  report.finish();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
