/**
 * bench/results/REPORT.md from the benchmark results: the machine and dates, headline ratios, and per area a
 * table and SVG charts (lib/report/charts.ts). Pure: results in, Markdown and chart documents out; what is
 * missing is said, never invented.
 */
import { PALETTE, renderBarChart, renderLineChart, type LineSeries } from '../../lib/report/charts';
import type { Machine } from './machine';
import { fields, geomean, median, type ResultRow, type Results } from './results';

export interface Report {
  markdown: string;
  /** Chart file name (under charts/) -> SVG document. */
  charts: Map<string, string>;
  /** Headline figures, also printed by the CLI. */
  headlines: string[];
}

export interface RenderOptions {
  generated: Date;
  machine: Machine | null;
  /** The machine is the renderer's (no recorded one): say so. */
  machineIsRenderer: boolean;
  /** The command that regenerates the report. */
  command: string;
}

/** 1364, 786.9, 16.0, 4.19, 0.0513: three or four significant digits. */
export function fmt(x: unknown): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  return a >= 10 ? x.toFixed(1) : x.toPrecision(3);
}

const ratio = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
const ms = (us: unknown) => (typeof us === 'number' ? us / 1000 : NaN);

function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(cell).join(' | ')} |`, `|${a.map((x) => (x === 'r' ? '--:' : ':--')).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

class Builder {
  readonly parts: string[] = [];
  readonly charts = new Map<string, string>();
  readonly headlines: string[] = [];
  constructor(private readonly results: Results) {}

  rows(bench: string): ResultRow[] {
    return this.results.byBench.get(bench) ?? [];
  }
  source(...benches: string[]): string {
    const files = [...new Set(benches.map((b) => this.results.sourceOf.get(b)).filter((f) => f !== undefined))];
    return files.map((f) => `\`${f.file}\` (${f.measured.slice(0, 10)})`).join(', ');
  }
  chart(name: string, alt: string, svg: string): void {
    this.charts.set(name, svg);
    this.parts.push(`![${alt.replace(/[[\]]/g, '')}](charts/${name})`);
  }
  text(...lines: string[]): void {
    this.parts.push(lines.join('\n'));
  }
  missing(what: string, command: string): void {
    this.parts.push(`_Not measured in these results: ${what}. Run \`${command}\`._`);
  }
}

// ------------------------------------------------------------------------------------------------ GEMM

function gemmSection(b: Builder): void {
  b.text('## INT8 GEMM: GOPS vs M');
  const vsOrt = b.rows('gemm_s8_vs_ort');
  const kernels = b.rows('gemm_s8');
  if (vsOrt.length === 0 && kernels.length === 0) return b.missing('the INT8 GEMM benchmark', 'npm run bench -- --only gemm');
  b.text(
    `Single thread, C = A·B with A uint8 [M×K] and B int8 [K×N] constant (a linear layer at batch M). "Kernel": our C++ microkernel`,
    `(bench_gemm_s8) against ONNX Runtime's MatMulInteger kernel time from its profiler; "call": the whole Node call`,
    `(\`gemmS8Sync\`) against \`session.run\`. Source: ${b.source('gemm_s8_vs_ort', 'gemm_s8')}.`,
  );
  const shapes = [...new Set([...vsOrt, ...kernels].map((r) => `${fields(r.case).k}x${fields(r.case).n}`))].filter((s) => !s.includes('undefined'));
  for (const shape of shapes) {
    const [k, n] = shape.split('x');
    const at = (rows: ResultRow[]) => rows.filter((r) => fields(r.case).k === k && fields(r.case).n === n);
    const m = (r: ResultRow) => Number(fields(r.case).m);
    const series: LineSeries[] = [];
    const isas = [...new Set(at(kernels).map((r) => fields(r.case).isa))];
    for (const isa of isas) series.push({ name: `ours kernel, ${isa}`, points: at(kernels).filter((r) => fields(r.case).isa === isa).map((r) => [m(r), r.ours]) });
    const kernel = at(vsOrt).filter((r) => r.case.endsWith(' kernel'));
    const call = at(vsOrt).filter((r) => r.case.endsWith(' node-call'));
    if (call.length) series.push({ name: 'ours Node call', points: call.map((r) => [m(r), r.ours]) });
    if (kernel.length) series.push({ name: 'ORT MatMulInteger kernel', points: kernel.map((r) => [m(r), r.baseline_value]) });
    if (call.length) series.push({ name: 'ORT session.run', points: call.map((r) => [m(r), r.baseline_value]) });
    for (const s of series) s.points.sort((p, q) => p[0] - q[0]);
    b.chart(`gemm-k${k}-n${n}.svg`, `INT8 GEMM GOPS vs M, K=${k} N=${n}`, renderLineChart({ title: `INT8 GEMM, K=${k}, N=${n} (single thread)`, xLabel: 'M (rows of A)', yLabel: 'GOPS', logX: true, series }));
  }
  const rows = [...new Set(vsOrt.map((r) => r.case.split(' ')[0]))].map((c) => {
    const call = vsOrt.find((r) => r.case === `${c} node-call`);
    const kernel = vsOrt.find((r) => r.case === `${c} kernel`);
    return [c, fmt(call?.ours), fmt(call?.baseline_value), `**${ratio(call?.speedup)}**`, fmt(kernel?.ours), fmt(kernel?.baseline_value), ratio(kernel?.speedup), String(kernel?.ours_source ?? '').replace(/^bench_gemm_s8 /, '')];
  });
  if (rows.length) b.text(table(['case', 'ours call GOPS', 'ORT run GOPS', 'speedup', 'ours kernel GOPS', 'ORT kernel GOPS', 'kernel speedup', 'our kernel'], rows));
  const big = vsOrt.filter((r) => r.case.endsWith(' kernel'));
  if (big.length) {
    const at1 = big.filter((r) => fields(r.case).m === '1').map((r) => r.speedup);
    const atMax = big.filter((r) => Number(fields(r.case).m) >= 64).map((r) => r.speedup);
    b.headlines.push(`INT8 GEMM kernel vs ONNX Runtime's MatMulInteger: ${ratio(Math.min(...at1))}–${ratio(Math.max(...at1))} at M=1, ${ratio(Math.min(...atMax))}–${ratio(Math.max(...atMax))} at M ≥ 64`);
  }
}

// ------------------------------------------------------------------------------------------- LayerNorm

function layerNormSection(b: Builder): void {
  b.text('## LayerNorm + GELU (fused)');
  const rows = b.rows('layernorm_gelu_vs_ort');
  if (rows.length === 0) return b.missing('the LayerNorm+GELU benchmark', 'npm run bench -- --only layernorm');
  b.text(`Our fused kernel against ONNX Runtime's LayerNormalization → Gelu, single thread. Source: ${b.source('layernorm_gelu_vs_ort')}.`);
  const cases = [...new Set(rows.map((r) => r.case.split(' ')[0]))];
  const find = (c: string, kind: string) => rows.find((r) => r.case === `${c} ${kind}`);
  b.chart(
    'layernorm-gelu-speedup.svg',
    'LayerNorm+GELU speedup vs ONNX Runtime',
    renderBarChart({
      title: 'LayerNorm + GELU: speedup vs ONNX Runtime',
      yLabel: 'speedup (ORT time / ours)',
      categories: cases,
      series: [
        { name: 'Node call vs session.run', values: cases.map((c) => find(c, 'node-call')?.speedup ?? NaN) },
        { name: 'kernel vs ORT kernels', values: cases.map((c) => find(c, 'kernel')?.speedup ?? NaN) },
      ],
      referenceLine: { value: 1, label: 'same speed' },
      logY: true,
    }),
  );
  b.text(
    table(
      ['case', 'ours call µs', 'ORT run µs', 'speedup', 'ours kernel µs', 'ORT kernels µs', 'kernel speedup'],
      cases.map((c) => [c, fmt(find(c, 'node-call')?.ours), fmt(find(c, 'node-call')?.baseline_value), `**${ratio(find(c, 'node-call')?.speedup)}**`, fmt(find(c, 'kernel')?.ours), fmt(find(c, 'kernel')?.baseline_value), ratio(find(c, 'kernel')?.speedup)]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- models

function modelsSection(b: Builder): void {
  b.text('## openWakeWord models and the pipeline');
  const rows = b.rows('models_vs_ort');
  if (rows.length === 0) return b.missing('the openWakeWord model benchmark', 'npm run bench -- --only models');
  b.text(`Each model through \`engine.infer\` (ours, FP32 / INT8 / FP16 weights) against ONNX Runtime FP32 \`await session.run\` on the same file, single thread. Source: ${b.source('models_vs_ort')}.`);
  const calls = rows.filter((r) => r.case.endsWith(',infer node-call'));
  const keyOf = (r: ResultRow) => r.case.split(',').slice(0, 2).join(',');
  const keys = [...new Set(calls.map(keyOf))];
  const precisions = [...new Set(calls.map((r) => r.case.split(',')[2]))];
  if (keys.length) {
    b.chart(
      'models-speedup.svg',
      'openWakeWord models: speedup vs ONNX Runtime',
      renderBarChart({
        title: 'openWakeWord models: engine.infer vs ORT FP32 session.run',
        yLabel: 'speedup (ORT time / ours)',
        categories: keys,
        series: precisions.map((p) => ({ name: `ours ${p}`, values: keys.map((k) => calls.find((r) => keyOf(r) === k && r.case.split(',')[2] === p)?.speedup ?? NaN) })),
        referenceLine: { value: 1, label: 'same speed' },
      }),
    );
    b.text(table(['model,batch', ...precisions.map((p) => `ours ${p} µs`), 'ORT FP32 µs', ...precisions.map((p) => `${p} speedup`)], keys.map((k) => {
      const per = precisions.map((p) => calls.find((r) => keyOf(r) === k && r.case.split(',')[2] === p));
      const base = per.find((r) => r !== undefined)?.baseline_value;
      return [k, ...per.map((r) => fmt(r?.ours)), fmt(base), ...per.map((r) => ratio(r?.speedup))];
    })));
  }
  const pipeline = rows.filter((r) => r.case.startsWith('pipeline,') && r.case.endsWith(',infer per-chunk'));
  if (pipeline.length) {
    b.text('Per 80 ms chunk of the wake-word pipeline (melspectrogram → embedding → three heads), all speech fixtures:');
    b.text(table(['pipeline', 'ours µs / chunk', 'ORT FP32 µs / chunk', 'speedup'], pipeline.map((r) => [r.case.split(',')[1], fmt(r.ours), fmt(r.baseline_value), `**${ratio(r.speedup)}**`])));
    for (const r of pipeline) b.headlines.push(`wake-word pipeline per 80 ms chunk, ours ${r.case.split(',')[1].toUpperCase()}: ${fmt(r.ours)} µs vs ONNX Runtime FP32 ${fmt(r.baseline_value)} µs (${ratio(r.speedup)})`);
  }
}

// ------------------------------------------------------------------------------------- batch / clients

function sweepSection(b: Builder): void {
  b.text('## Latency vs batch size and vs concurrency');
  const rows = b.rows('sweep');
  if (rows.length === 0) return b.missing('the batch-size / concurrency sweep', 'npm run bench -- --only sweep');
  b.text(
    `Ours (\`Engine\`, native backend) against ONNX Runtime through the same API (\`Engine\` with the onnxruntime backend, in its`,
    `worker thread), single thread each, same process, interleaved. Batch sweep: one \`infer\` call of a batch. Concurrency sweep: C closed-loop`,
    `clients, each awaiting its answer before asking again, through a \`BatchScheduler\` (max batch 32) over each engine. Source: ${b.source('sweep')}.`,
  );
  const models = [...new Set(rows.map((r) => String(r.model)))];
  for (const model of models) {
    const batch = rows.filter((r) => r.model === model && typeof r.batch === 'number').sort((p, q) => (p.batch as number) - (q.batch as number));
    const clients = rows.filter((r) => r.model === model && typeof r.clients === 'number').sort((p, q) => (p.clients as number) - (q.clients as number));
    const lines = (rs: ResultRow[], x: string): LineSeries[] => [
      { name: 'ours p50', points: rs.map((r) => [r[x] as number, ms(r.ours)]), color: PALETTE[0] },
      { name: 'ours p99', points: rs.map((r) => [r[x] as number, ms(r.ours_p99_us)]), color: PALETTE[0], dashed: true },
      { name: 'ORT p50', points: rs.map((r) => [r[x] as number, ms(r.baseline_value)]), color: PALETTE[1] },
      { name: 'ORT p99', points: rs.map((r) => [r[x] as number, ms(r.baseline_p99_us)]), color: PALETTE[1], dashed: true },
    ];
    if (batch.length) {
      b.text(`### ${model}: latency vs batch size`);
      b.chart(`latency-vs-batch-${model}.svg`, `${model} latency vs batch size`, renderLineChart({ title: `${model}: one infer call vs batch size`, xLabel: 'batch size', yLabel: 'latency per call (ms)', logX: true, logY: true, series: lines(batch, 'batch') }));
      b.text(table(['batch', 'ours p50 ms', 'ORT p50 ms', 'speedup', 'ours p99 ms', 'ORT p99 ms', 'ours items/s', 'ORT items/s'], batch.map((r) => [String(r.batch), fmt(ms(r.ours)), fmt(ms(r.baseline_value)), `**${ratio(r.speedup)}**`, fmt(ms(r.ours_p99_us)), fmt(ms(r.baseline_p99_us)), fmt(r.ours_items_per_s), fmt(r.baseline_items_per_s)])));
      const last = batch[batch.length - 1];
      b.headlines.push(`${model}, one call of batch ${last.batch}: ${fmt(ms(last.ours))} ms vs ONNX Runtime ${fmt(ms(last.baseline_value))} ms (${ratio(last.speedup)}); batch 1: ${ratio(batch[0].speedup)}`);
    }
    if (clients.length) {
      b.text(`### ${model}: latency vs concurrent clients (BatchScheduler)`);
      b.chart(`latency-vs-clients-${model}.svg`, `${model} latency vs concurrency`, renderLineChart({ title: `${model}: request latency vs concurrent clients`, xLabel: 'concurrent clients (closed loop)', yLabel: 'latency per request (ms)', logX: true, logY: true, series: lines(clients, 'clients') }));
      b.text(table(['clients', 'ours p50 ms', 'ORT p50 ms', 'speedup', 'ours p99 ms', 'ORT p99 ms', 'ours req/s', 'ORT req/s', 'mean batch ours / ORT'], clients.map((r) => [String(r.clients), fmt(ms(r.ours)), fmt(ms(r.baseline_value)), `**${ratio(r.speedup)}**`, fmt(ms(r.ours_p99_us)), fmt(ms(r.baseline_p99_us)), fmt(r.ours_rate), fmt(r.baseline_rate), `${fmt(r.ours_mean_batch)} / ${fmt(r.baseline_mean_batch)}`])));
      const last = clients[clients.length - 1];
      b.headlines.push(`${model} behind a BatchScheduler, ${last.clients} clients: p50 ${fmt(ms(last.ours))} ms vs ONNX Runtime ${fmt(ms(last.baseline_value))} ms (${ratio(last.speedup)}), ${fmt(last.ours_rate)} vs ${fmt(last.baseline_rate)} req/s`);
    }
  }
}

function schedulerSection(b: Builder): void {
  const rows = b.rows('scheduler');
  b.text('## BatchScheduler: batched vs unbatched');
  if (rows.length === 0) return b.missing('the scheduler benchmark', 'npm run bench -- --only scheduler');
  b.text(`The same engine with and without the scheduler, closed-loop clients (speedup: requests/s batched / unbatched). Source: ${b.source('scheduler')}.`);
  b.text(
    table(
      ['case', 'batched', 'unbatched', 'unit', 'speedup', 'p50 / p99 µs batched', 'p50 / p99 µs unbatched', 'mean batch'],
      rows.map((r) => [r.case, fmt(r.ours), fmt(r.baseline_value), r.unit, ratio(r.speedup), r.ours_p50_us === undefined ? '–' : `${fmt(r.ours_p50_us)} / ${fmt(r.ours_p99_us)}`, r.baseline_p50_us === undefined ? '–' : `${fmt(r.baseline_p50_us)} / ${fmt(r.baseline_p99_us)}`, fmt(r.mean_batch)]),
    ),
  );
}

// -------------------------------------------------------------------------------------------------- zoo

function zooSection(b: Builder): void {
  b.text('## Model zoo: ours vs ONNX Runtime per model');
  const rows = b.rows('zoo');
  if (rows.length === 0) return b.missing('the zoo benchmark', 'npm run bench -- --only zoo');
  const name = (r: ResultRow) => r.case.split(',')[0];
  b.text(`Each model of ../shared/zoo on the default backend against ONNX Runtime on the same file (FP32 models, and ONNX Runtime's own QDQ / dynamic INT8 outputs), batch 1, single thread, median latency. Source: ${b.source('zoo')}.`);
  const speedups = rows.map((r) => r.speedup);
  b.chart('zoo-speedup.svg', 'zoo: speedup vs ONNX Runtime per model', renderBarChart({ title: 'Model zoo: speedup vs ONNX Runtime (same file)', yLabel: 'speedup (ORT time / ours)', categories: rows.map(name), series: [{ name: 'ours vs ORT', values: speedups }], referenceLine: { value: 1, label: 'same speed' }, width: 960, height: 480 }));
  b.chart('zoo-latency.svg', 'zoo: latency per model, ours and ONNX Runtime', renderBarChart({ title: 'Model zoo: median latency per model', yLabel: 'latency (ms, log)', categories: rows.map(name), series: [{ name: 'ours', values: rows.map((r) => ms(r.ours)) }, { name: 'ONNX Runtime', values: rows.map((r) => ms(r.baseline_value)) }], logY: true, width: 960, height: 480 }));
  b.text(table(['model', 'backend', 'ours ms', 'ORT ms', 'speedup'], rows.map((r) => [name(r), r.case.split(',')[1] ?? '', fmt(ms(r.ours)), fmt(ms(r.baseline_value)), `**${ratio(r.speedup)}**`])));
  const wins = speedups.filter((s) => s > 1).length;
  const slowest = rows.reduce((p, q) => (q.speedup < p.speedup ? q : p));
  const fastest = rows.reduce((p, q) => (q.speedup > p.speedup ? q : p));
  const line = `model zoo (${rows.length} models): median ${ratio(median(speedups))} ONNX Runtime's speed (geometric mean ${ratio(geomean(speedups))}), faster on ${wins} of ${rows.length}, from ${ratio(slowest.speedup)} (${name(slowest)}) to ${ratio(fastest.speedup)} (${name(fastest)})`;
  b.text(`Summary: ${line}.`);
  b.headlines.unshift(line);
}

// --------------------------------------------------------------------------------------------- service

function grpcSection(b: Builder): void {
  const rows = b.rows('grpc-load');
  b.text('## gRPC service under load');
  if (rows.length === 0) return b.missing('the gRPC load benchmark', 'npm run bench -- --only grpc-load');
  b.text(`The server (lib/serve) and its clients in one process on loopback; every request counted as sent and answered. Source: ${b.source('grpc-load')}.`);
  b.text(
    table(
      ['case', 'streams / callers', 'seconds', 'sent', 'answered', 'errors', 'lost', 'wrong', 'p50 ms', 'p99 ms', 'rate /s', 'load avg'],
      rows.map((r) => [
        r.case,
        String(r.concurrency ?? '–'),
        fmt(r.seconds),
        String(r.sent ?? '–'),
        String(r.answered ?? '–'),
        String(r.errors ?? '–'),
        String(r.lost ?? '–'),
        String(r.wrong ?? '–'),
        fmt(ms(r.p50_us)),
        fmt(ms(r.p99_us)),
        fmt(r.rate),
        r.loadavg_1m_before === undefined ? '–' : `${r.loadavg_1m_before} → ${r.loadavg_1m_after} (${r.cpus} CPUs)`,
      ]),
    ),
  );
  const streams = rows.filter((r) => typeof r.frames_sent === 'number');
  for (const r of streams) {
    b.text(
      `${r.case}: every clip streamed in real time (80 ms chunks); "sent" / "answered" count clip streams, frames ${r.frames_answered} of ${r.frames_sent} processed; ` +
        `latency is ${String(r.latency_is)}; from the half-close to the last answer p50 ${fmt(ms(r.finish_p50_us))} ms, p99 ${fmt(ms(r.finish_p99_us))} ms; ` +
        `the server's per-frame p99 (median over streams) ${fmt(r.server_frame_p99_ms_median)} ms.`,
    );
  }
  for (const r of rows) {
    const load = r.loadavg_1m_before === undefined ? '' : ` (load average ${r.loadavg_1m_before}-${r.loadavg_1m_after} on ${r.cpus} CPUs)`;
    b.headlines.push(`gRPC ${r.case}: ${r.concurrency} concurrent for ${fmt(r.seconds)} s, ${r.answered}/${r.sent} answered, ${r.errors} errors, ${r.lost} lost, ${r.wrong} wrong; p50 ${fmt(ms(r.p50_us))} ms, p99 ${fmt(ms(r.p99_us))} ms (${String(r.latency_is)})${load}`);
  }
}

// ---------------------------------------------------------------------------------------------- report

function machineSection(b: Builder, results: Results, options: RenderOptions): void {
  const m = options.machine;
  b.text('## Machine and results');
  if (m) {
    if (options.machineIsRenderer) b.text('_No machine was recorded with these results (they were not measured by `npm run bench:report`); below is the machine that rendered the report._');
    else b.text(`The machine recorded by the last \`npm run bench:report\` run (${m.recorded.slice(0, 16).replace('T', ' ')}); result files measured at other times (table below) come from the machine that measured them.`);
    b.text(
      table(
        ['', ''],
        [
          ['CPU', `${m.cpu} (${m.arch})`],
          ['logical cores / memory', `${m.logicalCores} / ${m.memoryGiB} GiB`],
          ['ISA our dispatch chose', `\`${m.isa}\` (CPU features: ${m.cpuFeatures.join(', ')})`],
          ['kernels', Object.entries(m.kernels).map(([op, k]) => `${op}: \`${k}\``).join(', ')],
          ['Node.js / ONNX Runtime', `${m.node} / onnxruntime-node ${m.onnxruntime ?? 'not installed'}`],
          ['edgeinfer', `${m.edgeinfer}${m.commit ? ` at ${m.commit}` : ''}`],
          ['OS', m.os],
          ['recorded', m.recorded],
        ],
        ['l', 'l'],
      ),
    );
  }
  b.text(
    'Result files (each bench is taken from the newest file holding it):',
    '',
    table(['file', 'measured', 'date from', 'benches', 'rows'], results.files.map((f) => [`\`${f.file}\``, f.measured.replace('T', ' ').slice(0, 16), f.how, f.benches.join(', '), String(f.rows)]), ['l', 'l', 'l', 'l', 'r']),
  );
  if (results.skipped.length) b.text(`Lines skipped as not JSON result objects: ${results.skipped.join(', ')}.`);
}

export function renderReport(results: Results, options: RenderOptions): Report {
  const b = new Builder(results);
  zooSection(b);
  gemmSection(b);
  layerNormSection(b);
  modelsSection(b);
  sweepSection(b);
  schedulerSection(b);
  grpcSection(b);
  const body = b.parts;
  const head = new Builder(results);
  machineSection(head, results, options);
  const intro = [
    '# edgeinfer benchmark report',
    '',
    `Generated ${options.generated.toISOString().replace('T', ' ').slice(0, 16)} UTC by \`${options.command}\` from \`bench/results/latest*.jsonl\`.`,
    'Every comparison ran ours and its baseline in the same process and run; speedup > 1 means ours is better (baseline time / ours).',
    'Figures from a shared 2-core machine are noisy: read the ratios, not the third digit.',
    '',
    '## Headlines',
    '',
    ...(b.headlines.length ? b.headlines.map((h) => `- ${h}`) : ['- (no results found)']),
  ].join('\n');
  return { markdown: `${[intro, ...head.parts, ...body].join('\n\n')}\n`, charts: b.charts, headlines: b.headlines };
}
