/**
 * What owning their memory costs async calls: an off-thread `engine.infer` copies its inputs at submission
 * and delivers its outputs at completion (so a caller may detach or resize its buffers at once). The native
 * side times those copies (stats().asyncCopies); this reports the off-thread call's median latency beside
 * the same latency minus the measured copy time, per model and batch. speedup = (without copies) / (with
 * copies): 0.95 means the copies cost 5 %.
 */
import { Engine } from '../lib';
import { fetchModels } from '../test/helpers/repo';
import { interleave, parseArgs, progress, Reporter, rng } from './harness';

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const paths = fetchModels();
  const cases = [
    { file: 'embedding_model.onnx', label: 'embedding_model', dims: (batch: number) => [batch, 76, 32, 1], batches: [1, 16] },
    { file: 'melspectrogram.onnx', label: 'melspectrogram', dims: (batch: number) => [batch, 1760], batches: [1, 16] },
  ];
  for (const spec of cases) {
    for (const batch of spec.batches) {
      const engine = await Engine.load(paths[spec.file], { threads: 1, inlineBelowMicroseconds: 0 });
      const input = engine.inputs[0];
      const dims = spec.dims(batch);
      const next = rng(batch);
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => next() * 2 - 1);
      const feeds = { [input.name]: { type: 'float32' as const, data, dims } };
      progress(`${spec.label} batch ${batch}: off-thread infer with owned copies`);
      const before = engine.stats().asyncCopies;
      const [side] = await interleave([{ name: 'infer', async: () => engine.infer(feeds) }], args.seconds);
      const after = engine.stats().asyncCopies;
      const calls = after.calls - before.calls;
      const copyMicros = (after.microseconds - before.microseconds) / Math.max(1, calls);
      const bytes = (after.bytes - before.bytes) / Math.max(1, calls);
      const withCopies = side.stats.median;
      const withoutCopies = withCopies - copyMicros;
      report.add({
        bench: 'async-copy',
        case: `${spec.label},batch=${batch},infer off-thread`,
        ours: withCopies,
        baseline: 'same calls minus measured copy time',
        baseline_value: withoutCopies,
        unit: 'us',
        speedup: withoutCopies / withCopies,
        copy_us: copyMicros,
        copy_bytes: bytes,
        calls,
      });
      engine.dispose();
    }
  }
  report.finish();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
