/**
 * INT8 GEMM, single thread: edgeinfer gemmS8Sync (uint8 A x packed int8 W -> int32) against ONNX Runtime's
 * MatMulInteger (uint8 A x constant int8 B) in the same process, M in {1,4,16,64,128} x K = N in
 * {256,1024,2048}. Two comparisons per case:
 *   "<case> node-call": our gemmS8Sync call vs ORT `await session.run()` (both timed from JS; ORT's includes
 *                       its per-call JS/N-API/setImmediate overhead and the output copy).
 *   "<case> kernel":    our C++ kernel (build/cpp/bench_gemm_s8, or our Node call when that binary is
 *                       missing) vs the MatMulInteger kernel time from ORT's profiler.
 * Every case first checks that ORT's int32 output equals ours bit for bit.
 *   npx tsx bench/gemm.bench.ts [--json] [--seconds S]
 */
import * as ort from 'onnxruntime-node';
import { gemmS8Sync, packWeights } from '../lib';
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
import { matMulIntegerModel } from './onnx-models';

const MS = [1, 4, 16, 64, 128];
const KNS = [256, 1024, 2048];
const A_ZERO_POINT = 128;

async function main(): Promise<void> {
  const args = parseArgs();
  const report = new Reporter(args);
  const random = rng(0x5eed);

  // Our C++ kernel times, for the same kernel the addon picked (packWeights().kernel names it).
  const probe = packWeights(new Int8Array(16), { k: 4, n: 4 });
  const ourKernel = probe.kernel ?? '';
  probe.dispose();
  const cpp = cppResults('bench_gemm_s8', ourKernel ? ['--variant', ourKernel] : []);
  const cppGops = new Map<string, { gops: number; variant: string }>();
  for (const l of cpp?.lines ?? []) {
    if (l.bench !== 'gemm_s8' || typeof l.ours !== 'number' || (l.unit && l.unit !== 'GOPS')) continue;
    if (ourKernel && l.variant && l.variant !== ourKernel) continue;
    const f = caseFields(l.case);
    cppGops.set(`${f.m},${f.k},${f.n}`, { gops: l.ours, variant: String(l.variant ?? f.isa ?? '') });
  }
  progress(cpp ? `C++ kernel times: ${cppGops.size} cases from ${cpp.source}` : 'build/cpp/bench_gemm_s8 not found: kernel comparison uses our Node call time');

  for (const kn of KNS) {
    const k = kn;
    const n = kn;
    const w = new Int8Array(k * n);
    for (let i = 0; i < w.length; i++) w[i] = Math.floor(random() * 256) - 128;
    const packed = packWeights(w, { k, n });
    const model = matMulIntegerModel({ k, n, weights: w, aZeroPoint: A_ZERO_POINT });
    const session = await ort.InferenceSession.create(model, ortSessionOptions());

    for (const m of MS) {
      const label = `m=${m},k=${k},n=${n}`;
      const ops = 2 * m * n * k;
      const a = new Uint8Array(m * k);
      for (let i = 0; i < a.length; i++) a[i] = Math.floor(random() * 256);
      const out = new Int32Array(m * n);
      const feeds = { A: new ort.Tensor('uint8', a, [m, k]) };
      const profiled = await createProfiledSession(model);

      // Correctness guard: bit-exact int32.
      gemmS8Sync(a, packed, { m, aZeroPoint: A_ZERO_POINT, out });
      for (const s of [session, profiled.session]) {
        const y = (await s.run(feeds)).Y.data as Int32Array;
        if (y.length !== out.length) throw new Error(`${label}: ORT output has ${y.length} values, ours ${out.length}`);
        for (let i = 0; i < y.length; i++) {
          if (y[i] !== out[i]) throw new Error(`${label}: mismatch at ${i} (row ${Math.floor(i / n)}, col ${i % n}): ours ${out[i]}, ORT ${y[i]}`);
        }
      }

      const [ours, ortRun, ortProf] = await interleave(
        [
          { name: 'ours', sync: () => void gemmS8Sync(a, packed, { m, aZeroPoint: A_ZERO_POINT, out }) },
          { name: 'ort', async: () => session.run(feeds) },
          { name: 'ort-profiled', async: () => profiled.session.run(feeds), weight: 0.5, maxCalls: 4000 },
        ],
        args.seconds,
      );
      const kt = kernelTimes(profiled.finish(), ortProf.warmupCalls + 1 /* the correctness run */);
      const opNames = kt.nodes.join('+');

      const gops = (us: number) => ops / (us * 1e3);
      report.add({
        bench: 'gemm_s8_vs_ort',
        case: `${label} node-call`,
        ours: gops(ours.stats.median),
        baseline: `${ortTag} u8s8 MatMulInteger (session.run)`,
        baseline_value: gops(ortRun.stats.median),
        unit: 'GOPS',
        speedup: ortRun.stats.median / ours.stats.median,
        ours_median_us: ours.stats.median,
        ours_p99_us: ours.stats.p99,
        baseline_median_us: ortRun.stats.median,
        baseline_p99_us: ortRun.stats.p99,
        ours_calls: ours.stats.n,
        baseline_calls: ortRun.stats.n,
        kernel: ourKernel,
      });

      const cppCase = cppGops.get(`${m},${k},${n}`);
      const oursKernelGops = cppCase ? cppCase.gops : gops(ours.stats.median);
      report.add({
        bench: 'gemm_s8_vs_ort',
        case: `${label} kernel`,
        ours: oursKernelGops,
        baseline: `${ortTag} u8s8 MatMulInteger (profiled kernel)`,
        baseline_value: gops(kt.stats.median),
        unit: 'GOPS',
        speedup: oursKernelGops / gops(kt.stats.median),
        ours_source: cppCase ? `bench_gemm_s8 ${cppCase.variant}` : 'node gemmS8Sync call',
        ours_median_us: ops / (oursKernelGops * 1e3),
        baseline_median_us: kt.stats.median,
        baseline_p99_us: kt.stats.p99,
        baseline_mean_us: kt.stats.mean,
        baseline_runs: kt.stats.n,
        ort_nodes: opNames,
        kernel: ourKernel,
      });
      progress(
        `${label}: ours ${ours.stats.median.toFixed(2)} us/call, ORT run ${ortRun.stats.median.toFixed(2)} us, ` +
          `ORT kernel ${kt.stats.median} us [${opNames}]` +
          (cppCase ? `, our C++ kernel ${(ops / (cppCase.gops * 1e3)).toFixed(2)} us` : ''),
      );
      await profiled.session.release();
    }
    await session.release();
    packed.dispose();
  }
  report.finish();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
