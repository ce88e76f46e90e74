/**
 * Every model of ../shared/zoo on the default backend ('auto') against onnxruntime-node on the same file,
 * single thread, same feeds, interleaved in one run: median latency per model and the ratio. speedup > 1
 * means ours is faster; on models 'auto' hands to ONNX Runtime the ratio shows what the Engine adds to it.
 * speedup is `await infer` (off the JS thread) against `await session.run`; speedup_sync is inferSync.
 *   npx tsx bench/zoo.bench.ts [--json] [--seconds S] [--models name,name,...]
 */
import * as ort from 'onnxruntime-node';

import { Engine } from '../lib';
import { zooAvailable, zooFeeds, zooModelPath, zooModels } from '../test/helpers/zoo';
import { interleave, ortSessionOptions, ortTag, parseArgs, progress, Reporter } from './harness';

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  if (!zooAvailable) throw new Error('../shared/zoo not found (EDGEINFER_ZOO names another folder)');
  const only = process.argv.includes('--models') ? process.argv[process.argv.indexOf('--models') + 1]?.split(',') : undefined;
  const models = zooModels().filter((model) => only === undefined || only.includes(model.name));
  if (only !== undefined && models.length !== only.length) throw new Error(`--models: unknown model in ${only.join(',')} (see ../shared/zoo/manifest.json)`);
  for (const model of models) {
    const file = zooModelPath(model.name);
    const engine = await Engine.load(file, { threads: 1 });
    const session = await ort.InferenceSession.create(file, ortSessionOptions());
    const feeds = zooFeeds(model, 3);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
    progress(`${model.name} on ${engine.info().backend}`);
    // `await infer` runs off the JS thread (the Engine keeps the event loop free); onnxruntime-node's
    // `session.run` runs on it (inside a setImmediate). inferSync is ours on the JS thread too: reported
    // beside the main figure so the thread hop is visible, not hidden in it.
    const [ours, theirs, oursSync] = await interleave(
      [
        { name: 'ours', async: () => engine.infer(feeds) },
        { name: 'ort', async: () => session.run(ortFeeds) },
        { name: 'ours-sync', sync: () => engine.inferSync(feeds) },
      ],
      args.seconds,
    );
    report.add({
      bench: 'zoo',
      case: `${model.name},${engine.info().backend}`,
      ours: ours.stats.median,
      baseline: `${ortTag} FP32`,
      baseline_value: theirs.stats.median,
      unit: 'us',
      speedup: theirs.stats.median / ours.stats.median,
      ours_sync: oursSync.stats.median,
      speedup_sync: theirs.stats.median / oursSync.stats.median,
    });
    await session.release();
    await engine.dispose();
  }
  report.finish();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
