/**
 * The Engine as a service, each measurement in a fresh child (test/helpers/service-measures.ts):
 *   "hot-swap":   N verified swaps (sha256) of the embedding model while two clients infer (default 1000):
 *                 RSS growth per backend next to onnxruntime-node's own create/run/release for N cycles in
 *                 the same run (its issue #25325), the switch pause, request latency p99 swapping vs quiet,
 *                 and the request tally (failed, wrong, lost: all must be 0).
 *   "event-loop": event-loop delay p99 while a >= 20 ms model runs through `await engine.infer` on each
 *                 backend vs onnxruntime-node's own `await session.run` (which blocks the loop, its #19611).
 * speedup > 1 means ours is better (less growth, less delay).
 *   npx tsx bench/service.bench.ts [--json] [--swaps N]
 */
import { Engine } from '../lib';
import { measureEventLoop, measureSwaps } from '../test/helpers/service-measures';
import { parseArgs, progress, Reporter } from './harness';

const mb = (bytes: number) => bytes / 2 ** 20;

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const argv = process.argv.slice(2);
  const swaps = argv.includes('--swaps') ? Number(argv[argv.indexOf('--swaps') + 1]) : Number(process.env.EDGEINFER_BENCH_SWAPS ?? 1000);
  if (!Number.isInteger(swaps) || swaps < 10) throw new Error(`--swaps must be an integer >= 10, got ${swaps}`);
  const ortAvailable = Engine.backends().some((backend) => backend.name === 'onnxruntime' && backend.available);

  progress(`onnxruntime-node create/run/release x ${swaps}`);
  const ortOwn = ortAvailable ? measureSwaps('onnxruntime-node', swaps) : undefined;
  for (const mode of ['native', 'onnxruntime'] as const) {
    if (mode === 'onnxruntime' && !ortAvailable) continue;
    progress(`${mode}: ${swaps} swaps under load`);
    const m = measureSwaps(mode, swaps);
    const growth = mb(m.after - m.before);
    const theirs = ortOwn === undefined ? NaN : mb(ortOwn.after - ortOwn.before);
    report.add({
      bench: 'service',
      case: `hot-swap,${mode},RSS growth over ${swaps} swaps`,
      ours: growth,
      baseline: `onnxruntime-node create/run/release x ${swaps}`,
      baseline_value: theirs,
      unit: 'MB',
      speedup: Math.max(theirs, 0.1) / Math.max(growth, 0.1),
      rss_samples_mb: m.samples.map((s) => Number(mb(s).toFixed(1))),
      ms_per_swap: m.msPerSwap,
      switch_us_median: m.switchMicrosMedian,
      switch_us_max: m.switchMicrosMax,
      requests: m.requests.issued,
      failed: m.requests.failed,
      wrong: m.requests.wrong,
      lost: m.requests.lost,
    });
    report.add({
      bench: 'service',
      case: `hot-swap,${mode},request p99 while swapping`,
      ours: m.latencySwapping.p99,
      baseline: 'same requests without swaps',
      baseline_value: m.latencyQuiet.p99,
      unit: 'us',
      speedup: m.latencyQuiet.p99 / m.latencySwapping.p99,
      p50_swapping_us: m.latencySwapping.p50,
      p50_quiet_us: m.latencyQuiet.p50,
      max_swapping_us: m.latencySwapping.max,
      loop_delay_p99_ms: m.loopDelayP99Ms,
    });
  }

  if (ortAvailable) {
    progress('event-loop delay while a >= 20 ms model runs');
    const e = measureEventLoop();
    for (const backend of ['native', 'onnxruntime'] as const) {
      report.add({
        bench: 'service',
        case: `event-loop delay p99,${backend},batch ${e.batch} embedding (${e[backend].msPerRun.toFixed(1)} ms per run)`,
        ours: e[backend].p99,
        baseline: 'onnxruntime-node await session.run',
        baseline_value: e.onnxruntimeNodeSessionRun.p99,
        unit: 'ms',
        speedup: e.onnxruntimeNodeSessionRun.p99 / e[backend].p99,
        max_ms: e[backend].max,
        machine_baseline_p99_ms: e[backend].baselineP99,
      });
    }
  }
  report.finish();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
