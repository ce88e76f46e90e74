/**
 * Renders the GEMM and LayerNorm+GELU tables of bench/RESULTS.md from bench/results/latest.jsonl, so the
 * document always shows one run's numbers: `npx tsx bench/report.ts > /tmp/tables.md`.
 */
import fs from 'node:fs';
import path from 'node:path';

interface Line {
  bench: string;
  case: string;
  ours: number;
  baseline: string;
  baseline_value: number;
  unit: string;
  speedup: number;
  ours_median_us?: number;
  baseline_median_us?: number;
  ours_two_pass_us?: number;
}

const file = process.argv[2] ?? path.join(__dirname, 'results', 'latest.jsonl');
const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((text) => JSON.parse(text) as Line);
const fmt = (value: number | undefined) => (value === undefined ? '–' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toPrecision(3));
const find = (bench: string, caseName: string) => lines.find((line) => line.bench === bench && line.case === caseName);

const gemmCases = [...new Set(lines.filter((l) => l.bench === 'gemm_s8_vs_ort').map((l) => l.case.split(' ')[0]))];
console.log('| case | ours node call (µs) | ORT session.run (µs) | speedup | ours C++ kernel (µs) | ORT profiled kernel (µs) | kernel speedup |');
console.log('|---|--:|--:|--:|--:|--:|--:|');
for (const name of gemmCases) {
  const call = find('gemm_s8_vs_ort', `${name} node-call`);
  const kernel = find('gemm_s8_vs_ort', `${name} kernel`);
  console.log(`| ${name} | ${fmt(call?.ours_median_us)} | ${fmt(call?.baseline_median_us)} | **${fmt(call?.speedup)}×** | ${fmt(kernel?.ours_median_us)} | ${fmt(kernel?.baseline_median_us)} | ${fmt(kernel?.speedup)}× |`);
}

console.log('\n| case | fused node call (µs) | two-pass node calls (µs) | fused vs two-pass | ORT session.run (µs) | speedup | fused C++ (µs) | two-pass C++ (µs) | fused vs two-pass (C++) | ORT kernels (µs) | kernel speedup |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
const lnCases = [...new Set(lines.filter((l) => l.bench === 'layernorm_gelu_vs_ort').map((l) => l.case.split(' ')[0]))];
for (const name of lnCases) {
  const fused = find('layernorm_gelu_vs_ort', `${name} fused-vs-two-pass`);
  const call = find('layernorm_gelu_vs_ort', `${name} node-call`);
  const kernel = find('layernorm_gelu_vs_ort', `${name} kernel`);
  const cppRatio = kernel?.ours_two_pass_us !== undefined ? kernel.ours_two_pass_us / kernel.ours : undefined;
  console.log(`| ${name} | ${fmt(fused?.ours)} | ${fmt(fused?.baseline_value)} | ${fmt(fused?.speedup)}× | ${fmt(call?.baseline_value)} | **${fmt(call?.speedup)}×** | ${fmt(kernel?.ours)} | ${fmt(kernel?.ours_two_pass_us)} | ${fmt(cppRatio)}× | ${fmt(kernel?.baseline_value)} | **${fmt(kernel?.speedup)}×** |`);
}
