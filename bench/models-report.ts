/**
 * Renders the "Models (issue 4)" tables of bench/RESULTS.md from the JSON lines of bench/models.bench.ts
 * (bench/results/latest-models.jsonl by default, or any file holding models_vs_ort lines):
 *   npx tsx bench/models-report.ts [file.jsonl] > /tmp/models-tables.md
 * Every ratio printed here is ours / ORT latency (< 1: ours faster), the inverse of the JSON "speedup".
 */
import fs from 'node:fs';
import path from 'node:path';

interface Line {
  bench: string;
  case: string;
  ours: number;
  baseline_value: number;
  unit: string;
  speedup: number;
  ours_p99_us?: number;
  baseline_p99_us?: number;
  ours_calls?: number;
  baseline_calls?: number;
  baseline_runs?: number;
  saved_fraction?: number;
  guard?: string;
}

const file = process.argv[2] ?? path.join(__dirname, 'results', 'latest-models.jsonl');
const lines = fs
  .readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .map((text) => JSON.parse(text) as Line)
  .filter((l) => l.bench === 'models_vs_ort');
const find = (c: string) => lines.find((l) => l.case === c);
const us = (v: number | undefined) => (v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (ours: number | undefined, ort: number | undefined) => (ours === undefined || ort === undefined ? '–' : `${(ours / ort).toFixed(2)}×`);
const cell = (l: Line | undefined) => (l ? `${us(l.ours)} / ${us(l.ours_p99_us)}` : 'not timed');

const modelCases = [...new Set(lines.filter((l) => / node-call$/.test(l.case)).map((l) => l.case.split(',').slice(0, 2).join(',')))];

console.log('Per call, single thread, µs as p50 / p99; ratio = ours p50 / ORT p50 (< 1: ours faster).\n');
console.log('| model | batch | ORT `await session.run` | ours FP32 `inferSync` | ratio | ours FP32 `await infer` | ratio | ours INT8 `inferSync` | ratio | ours INT8 `await infer` | ratio | ours FP16 `inferSync` | ratio |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const mc of modelCases) {
  const [model, batch] = mc.split(',');
  const get = (prec: string, api: string) => find(`${mc},${prec},${api} node-call`);
  const any = get('fp32', 'inferSync') ?? get('int8', 'inferSync');
  const ortCell = any ? `${us(any.baseline_value)} / ${us(any.baseline_p99_us)}` : '–';
  const row = [model, batch.replace('batch=', ''), ortCell];
  for (const prec of ['fp32', 'int8', 'fp16']) {
    for (const api of prec === 'fp16' ? ['inferSync'] : ['inferSync', 'infer']) {
      const l = get(prec, api);
      const failed = find(`${mc},${prec} guard-failed`);
      row.push(l ? cell(l) : failed ? 'guard failed' : 'not timed', l ? `**${ratio(l.ours, l.baseline_value)}**` : '–');
    }
  }
  console.log(`| ${row.join(' | ')} |`);
}

console.log('\nKernel level: ORT = the per-run sum of its profiled kernel times (profiler session, p50 / p99); ours = the whole');
console.log('`inferSync` Node call (validation, N-API, output allocation included, nothing subtracted).\n');
console.log('| model | batch | ORT kernels (sum) | ORT `session.run` p50 | ours FP32 `inferSync` p50 | ratio vs kernels | ours INT8 `inferSync` p50 | ratio vs kernels |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
for (const mc of modelCases) {
  const [model, batch] = mc.split(',');
  const f = find(`${mc},fp32,inferSync kernel`);
  const i = find(`${mc},int8,inferSync kernel`);
  const k = f ?? i;
  const run = find(`${mc},fp32,inferSync node-call`) ?? find(`${mc},int8,inferSync node-call`);
  console.log(
    `| ${model} | ${batch.replace('batch=', '')} | ${k ? `${us(k.baseline_value)} / ${us(k.baseline_p99_us)}` : '–'} | ${us(run?.baseline_value)} | ` +
      `${f ? us(f.ours) : 'not timed'} | ${f ? ratio(f.ours, f.baseline_value) : '–'} | ${i ? us(i.ours) : 'not timed'} | ${i ? ratio(i.ours, i.baseline_value) : '–'} |`,
  );
}

const pipe = lines.filter((l) => l.case.startsWith('pipeline,'));
if (pipe.length > 0) {
  console.log('\nWake-word pipeline, µs per 80 ms chunk (`WakeWordPipeline.push`: melspectrogram + embedding + 3 heads); ratio = ours / ORT.\n');
  console.log('| ours | p50 | p99 | ORT p50 | ORT p99 | ratio p50 | ratio p99 | calls (ours / ORT) |');
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
  const names: Record<string, string> = {
    'fp32,infer': 'FP32, Engine as runner (`await infer`)',
    'fp32,inferSync': 'FP32, `inferSync` adapter',
    'int8,infer': 'INT8 emb + heads, FP32 mel, Engine as runner (`await infer`)',
    'int8,inferSync': 'INT8 emb + heads, FP32 mel, `inferSync` adapter',
  };
  for (const l of pipe) {
    const v = l.case.replace(/^pipeline,/, '').replace(/ per-chunk$/, '');
    console.log(
      `| ${names[v] ?? v} | ${us(l.ours)} | ${us(l.ours_p99_us)} | ${us(l.baseline_value)} | ${us(l.baseline_p99_us)} | **${ratio(l.ours, l.baseline_value)}** | ` +
        `${ratio(l.ours_p99_us, l.baseline_p99_us)} | ${l.ours_calls} / ${l.baseline_calls} |`,
    );
  }
}

const mem = lines.filter((l) => / memory$/.test(l.case));
if (mem.length > 0) {
  console.log('\n| embedding_model plan | arenaBytes (KiB) | intermediateBytes (KiB, sum of all intermediates) | saved |');
  console.log('|---|--:|--:|--:|');
  for (const l of mem) {
    console.log(`| ${l.case.replace(/^embedding_model,/, '').replace(/ memory$/, '')} | ${l.ours.toLocaleString('en', { maximumFractionDigits: 2 })} | ${l.baseline_value.toLocaleString('en', { maximumFractionDigits: 2 })} | ${((l.saved_fraction ?? 0) * 100).toFixed(1)} % |`);
  }
}

const weights = lines.filter((l) => / weights$/.test(l.case));
if (weights.length > 0) {
  console.log('\nModel size in memory per precision: weights held by the prepared kernels (`Engine.stats().weightBytes`), KiB.\n');
  console.log('| model | FP32 | INT8 | FP16 |');
  console.log('|---|--:|--:|--:|');
  const models = [...new Set(weights.map((l) => l.case.split(',')[0]))];
  const kib = (l: Line | undefined) => (l ? l.ours.toLocaleString('en', { maximumFractionDigits: 1 }) : '–');
  for (const m of models) console.log(`| ${m} | ${kib(find(`${m},fp32 weights`))} | ${kib(find(`${m},int8 weights`))} | ${kib(find(`${m},fp16 weights`))} |`);
}

// Targets of issue 4 (all as ours / ORT FP32 latency at p50).
const target = (label: string, l: Line | undefined, limit: number) => {
  if (!l) return `| ${label} | ≤ ${limit.toFixed(1)}× | not timed | **not met** |`;
  const r = l.ours / l.baseline_value;
  return `| ${label} | ≤ ${limit.toFixed(1)}× | ${r.toFixed(2)}× (${us(l.ours)} vs ${us(l.baseline_value)} µs) | ${r <= limit ? 'met' : '**not met**'} |`;
};
console.log('\n| target (ours / ORT FP32, p50) | limit | measured | |');
console.log('|---|--:|--:|---|');
for (const mc of modelCases.filter((c) => !c.startsWith('melspectrogram'))) {
  for (const api of ['inferSync', 'infer']) console.log(target(`FP32 ${mc} (${api})`, find(`${mc},fp32,${api} node-call`), 1.0));
}
for (const mc of modelCases.filter((c) => c.startsWith('embedding_model'))) {
  for (const api of ['inferSync', 'infer']) console.log(target(`INT8 ${mc} (${api})`, find(`${mc},int8,${api} node-call`), 0.6));
}
for (const l of pipe) console.log(target(`pipeline per 80 ms, ${l.case.replace(/^pipeline,/, '').replace(/ per-chunk$/, '')}`, l, 0.7));
