/**
 * LayerNorm (last axis, gamma/beta) followed by exact GELU, single thread, rows {1,16,256,2048} x width
 * {768,4096}: our fused layerNormGeluSync vs our two passes (layerNormSync then in-place geluSync) vs ONNX
 * Runtime running LayerNormalization -> Gelu (opset 20), all in the same process. Per case:
 *   "<case> fused-vs-two-pass": our fused call vs our two calls (both Node sync calls, ~1 µs overhead each).
 *   "<case> node-call":         our fused call vs ORT `await session.run()` (JS overhead + output copy).
 *   "<case> kernel":            our fused kernel (build/cpp/bench_layernorm_gelu, or our Node call when that
 *                               binary is missing) vs the sum of ORT's profiled kernel times per run.
 * Every case first checks ORT's output against ours (max abs difference <= 1e-4).
 *   npx tsx bench/layernorm-gelu.bench.ts [--json] [--seconds S]
 */
import * as ort from 'onnxruntime-node';
import { geluSync, layerNormGeluSync, layerNormSync, simdInfo } from '../lib';
import {
  caseFields,
  cppResults,
  createProfiledSession,
  interleave,
  kernelTimes,
  ortSessionOptions,
  ortTag,
  parseArgs,
  progress,
  Reporter,
  rng,
} from './harness';
import { layerNormGeluModel } from './onnx-models';

const ROWS = [1, 16, 256, 2048];
const WIDTHS = [768, 4096];
const EPSILON = 1e-5;
const TOLERANCE = 1e-4;

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const random = rng(0x1a7e);
  const ourIsa = simdInfo().kernels.layerNormGelu.isa;
  const ourKernel = simdInfo().kernels.layerNormGelu.kernel;

  // Our C++ fused kernel times for the ISA the addon picked.
  const cpp = cppResults('bench_layernorm_gelu');
  const cppUs = new Map<string, { fused: number; twoPass?: number }>();
  for (const l of cpp?.lines ?? []) {
    if (l.bench !== 'layernorm_gelu' || typeof l.ours !== 'number' || l.unit !== 'us') continue;
    const f = caseFields(l.case);
    if (f.isa && f.isa !== ourIsa) continue;
    const key = `${f.rows},${f.width}`;
    const entry = cppUs.get(key) ?? { fused: l.ours };
    if (typeof l.baseline === 'string' && l.baseline.includes('two-pass') && typeof l.baseline_value === 'number') entry.twoPass = l.baseline_value;
    cppUs.set(key, entry);
  }
  progress(cpp ? `C++ kernel times: ${cppUs.size} cases from ${cpp.source}` : 'build/cpp/bench_layernorm_gelu not found: kernel comparison uses our Node call time');

  for (const width of WIDTHS) {
    const gamma = new Float32Array(width);
    const beta = new Float32Array(width);
    for (let i = 0; i < width; i++) {
      gamma[i] = 0.5 + random();
      beta[i] = random() - 0.5;
    }
    const model = layerNormGeluModel({ width, gamma, beta, epsilon: EPSILON });
    const session = await ort.InferenceSession.create(model, ortSessionOptions());

    for (const rows of ROWS) {
      const label = `rows=${rows},width=${width}`;
      const x = new Float32Array(rows * width);
      for (let i = 0; i < x.length; i++) x[i] = (random() + random() + random() - 1.5) * 4 + 0.3;
      const yFused = new Float32Array(x.length);
      const yTwo = new Float32Array(x.length);
      const feeds = { X: new ort.Tensor('float32', x, [rows, width]) };
      const profiled = await createProfiledSession(model);
      const opts = { width, gamma, beta, epsilon: EPSILON };

      // Correctness guard.
      layerNormGeluSync(x, { ...opts, out: yFused });
      layerNormSync(x, { ...opts, out: yTwo });
      geluSync(yTwo, { out: yTwo });
      for (const [name, s] of [['ORT', session], ['ORT (profiled)', profiled.session]] as const) {
        const y = (await s.run(feeds)).Y.data as Float32Array;
        let worst = 0;
        let at = 0;
        for (let i = 0; i < y.length; i++) {
          const d = Math.max(Math.abs(y[i] - yFused[i]), Math.abs(y[i] - yTwo[i]));
          if (!(d <= worst)) {
            worst = d;
            at = i;
          }
        }
        if (!(worst <= TOLERANCE)) {
          throw new Error(`${label}: ${name} differs from ours by ${worst} at ${at}: ORT ${y[at]}, fused ${yFused[at]}, two-pass ${yTwo[at]}`);
        }
      }

      const [fused, two, ortRun, ortProf] = await interleave(
        [
          { name: 'fused', sync: () => void layerNormGeluSync(x, { ...opts, out: yFused }) },
          {
            name: 'two-pass',
            sync: () => {
              layerNormSync(x, { ...opts, out: yTwo });
              geluSync(yTwo, { out: yTwo });
            },
          },
          { name: 'ort', async: () => session.run(feeds) },
          { name: 'ort-profiled', async: () => profiled.session.run(feeds), weight: 0.5, maxCalls: 4000 },
        ],
        args.seconds,
      );
      const kt = kernelTimes(profiled.finish(), ortProf.warmupCalls + 1 /* the correctness run */);
      const ortNodes = kt.nodes.join('+');

      report.add({
        bench: 'layernorm_gelu_vs_ort',
        case: `${label} fused-vs-two-pass`,
        ours: fused.stats.median,
        baseline: 'edgeinfer two-pass (layerNormSync + geluSync, node calls)',
        baseline_value: two.stats.median,
        unit: 'us',
        speedup: two.stats.median / fused.stats.median,
        ours_p99_us: fused.stats.p99,
        baseline_p99_us: two.stats.p99,
        kernel: ourKernel,
      });
      report.add({
        bench: 'layernorm_gelu_vs_ort',
        case: `${label} node-call`,
        ours: fused.stats.median,
        baseline: `${ortTag} LayerNormalization->Gelu (session.run)`,
        baseline_value: ortRun.stats.median,
        unit: 'us',
        speedup: ortRun.stats.median / fused.stats.median,
        ours_p99_us: fused.stats.p99,
        baseline_p99_us: ortRun.stats.p99,
        ours_calls: fused.stats.n,
        baseline_calls: ortRun.stats.n,
        kernel: ourKernel,
      });
      const cppCase = cppUs.get(`${rows},${width}`);
      const oursKernel = cppCase ? cppCase.fused : fused.stats.median;
      report.add({
        bench: 'layernorm_gelu_vs_ort',
        case: `${label} kernel`,
        ours: oursKernel,
        baseline: `${ortTag} ${ortNodes} (profiled kernels)`,
        baseline_value: kt.stats.median,
        unit: 'us',
        speedup: kt.stats.median / oursKernel,
        ours_source: cppCase ? `bench_layernorm_gelu isa=${ourIsa}` : 'node layerNormGeluSync call',
        ours_two_pass_us: cppCase?.twoPass ?? two.stats.median,
        baseline_p99_us: kt.stats.p99,
        baseline_mean_us: kt.stats.mean,
        baseline_runs: kt.stats.n,
        ort_nodes: ortNodes,
        kernel: ourKernel,
      });
      progress(
        `${label}: fused ${fused.stats.median.toFixed(2)} us, two-pass ${two.stats.median.toFixed(2)} us, ` +
          `ORT run ${ortRun.stats.median.toFixed(2)} us, ORT kernels ${kt.stats.median} us [${ortNodes}]` +
          (cppCase ? `, our C++ fused ${cppCase.fused.toFixed(2)} us` : ''),
      );
      await profiled.session.release();
    }
    await session.release();
  }
  report.finish();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
