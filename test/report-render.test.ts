// bench/report: REPORT.md and its charts rendered from result files (`npm run bench:report -- --from-results`),
// on synthetic results in a temporary folder: tables, charts that are well-formed SVG and linked, headline
// figures computed from the rows, the recorded machine, and what is missing said as missing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { writeReport } from '../bench/report/index';
import { MACHINE_FILE, type Machine } from '../bench/report/machine';
import { renderReport } from '../bench/report/render';
import { loadResults, RUN_LOG } from '../bench/report/results';
import { checkWellFormedXml } from '../lib/report/svg';

const line = (o: Record<string, unknown>) => JSON.stringify({ baseline: 'ort-1.30', unit: 'us', ...o });

function zooRows(speedups: number[]): string {
  return speedups.map((s, i) => line({ bench: 'zoo', case: `model_${i},native`, ours: 100, baseline_value: 100 * s, speedup: s })).join('\n');
}

const machine: Machine = {
  recorded: '2026-01-02T03:04:05.000Z',
  cpu: 'Test CPU 9000',
  arch: 'arm64',
  logicalCores: 4,
  memoryGiB: 2,
  os: 'Linux test',
  isa: 'neondot',
  cpuFeatures: ['neon', 'dotprod'],
  kernels: { gemmS8: 'qs8_gemm_4x16c4__neondot' },
  node: 'v20.0.0',
  onnxruntime: '1.30.0',
  edgeinfer: '0.1.0',
  commit: 'abc',
};

describe('benchmark report (bench/report)', function () {
  this.timeout(60000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-report-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('renders tables, linked well-formed charts and headline ratios computed from the rows', () => {
    fs.writeFileSync(path.join(dir, 'latest-zoo.jsonl'), `${zooRows([0.5, 1, 2, 4, 1.5])}\n`);
    const gemm = [1, 16, 128].flatMap((m) => [
      line({ bench: 'gemm_s8_vs_ort', case: `m=${m},k=64,n=64 node-call`, ours: 100 * m, baseline_value: 50 * m, unit: 'GOPS', speedup: 2 }),
      line({ bench: 'gemm_s8_vs_ort', case: `m=${m},k=64,n=64 kernel`, ours: 120 * m, baseline_value: 40 * m, unit: 'GOPS', speedup: m === 1 ? 3 : 1.5, ours_source: 'bench_gemm_s8 k_test' }),
      line({ bench: 'gemm_s8', case: `m=${m},k=64,n=64,isa=neondot`, ours: 120 * m, baseline_value: 1, unit: 'GOPS', speedup: 1 }),
    ]);
    fs.writeFileSync(path.join(dir, 'latest-gemm.jsonl'), `${gemm.join('\n')}\n`);
    const sweep = [1, 4, 16].flatMap((n) => [
      line({ bench: 'sweep', case: `emb,batch=${n},infer latency`, model: 'emb', batch: n, ours: 1000 * n, baseline_value: 1500 * n, speedup: 1.5, ours_p99_us: 1200 * n, baseline_p99_us: 1800 * n }),
      line({ bench: 'sweep', case: `emb,clients=${n},scheduler latency`, model: 'emb', clients: n, ours: 900 * n, baseline_value: 1800 * n, speedup: 2, ours_p99_us: 1000 * n, baseline_p99_us: 2000 * n, ours_rate: 10, baseline_rate: 5 }),
    ]);
    fs.writeFileSync(path.join(dir, 'latest-sweep.jsonl'), `${sweep.join('\n')}\nnot json\n`);
    fs.writeFileSync(path.join(dir, MACHINE_FILE), JSON.stringify(machine));

    const { reportPath, charts, headlines } = writeReport(dir, 'npm run bench:report -- --from-results');
    const md = fs.readFileSync(reportPath, 'utf8');
    // Zoo: median of 0.5, 1, 1.5, 2, 4 is 1.5; 3 of 5 at or above 1.
    assert.match(headlines[0], /median 1\.50×/);
    assert.match(headlines[0], /faster on 3 of 5, from 0\.50× \(model_0\) to 4\.00× \(model_3\)/);
    assert.ok(headlines.some((h) => /INT8 GEMM kernel vs ONNX Runtime's MatMulInteger: 3\.00×–3\.00× at M=1, 1\.50×–1\.50× at M ≥ 64/.test(h)), headlines.join('\n'));
    assert.ok(headlines.some((h) => /emb, one call of batch 16: 16\.0 ms vs ONNX Runtime 24\.0 ms \(1\.50×\)/.test(h)), headlines.join('\n'));
    // Every chart written, well-formed, and linked from the report.
    assert.deepEqual(charts.map((c) => path.basename(c)).sort(), ['gemm-k64-n64.svg', 'latency-vs-batch-emb.svg', 'latency-vs-clients-emb.svg', 'zoo-latency.svg', 'zoo-speedup.svg']);
    for (const chart of charts) {
      checkWellFormedXml(fs.readFileSync(chart, 'utf8'));
      assert.ok(md.includes(`(charts/${path.basename(chart)})`), `${chart} not linked`);
    }
    // Tables with the rows' figures; the recorded machine; the skipped line reported.
    assert.match(md, /\| model_3 \| native \| 0\.100 \| 0\.400 \| \*\*4\.00×\*\* \|/);
    assert.match(md, /\| 16 \| 16\.0 \| 24\.0 \| \*\*1\.50×\*\* \|/);
    assert.match(md, /Test CPU 9000 \(arm64\)/);
    assert.match(md, /`neondot`/);
    assert.doesNotMatch(md, /No machine was recorded/);
    assert.match(md, /latest-sweep\.jsonl:7/);
    // Sections without results say so, with the command that measures them.
    assert.match(md, /Not measured in these results: the LayerNorm\+GELU benchmark\. Run `npm run bench -- --only layernorm`/);
    assert.match(md, /Not measured in these results: the gRPC load benchmark/);
  });

  it('takes each bench from the newest file holding it and removes charts it no longer draws', () => {
    fs.writeFileSync(path.join(dir, 'latest.jsonl'), `${zooRows([0.25, 0.25, 0.25])}\n`);
    fs.writeFileSync(path.join(dir, 'latest-zoo.jsonl'), `${zooRows([2, 2, 2])}\n`);
    fs.writeFileSync(path.join(dir, RUN_LOG), JSON.stringify({ zoo: { file: 'latest-zoo.jsonl', finished: '2030-01-01T00:00:00.000Z', ok: true, seconds: 1 } }));
    const results = loadResults(dir);
    assert.equal(results.sourceOf.get('zoo')!.file, 'latest-zoo.jsonl');
    assert.equal(results.sourceOf.get('zoo')!.how, 'report run');
    fs.mkdirSync(path.join(dir, 'charts'));
    fs.writeFileSync(path.join(dir, 'charts', 'stale.svg'), '<svg/>');
    const { headlines } = writeReport(dir, 'test');
    assert.match(headlines[0], /median 2\.00×/);
    assert.ok(!fs.existsSync(path.join(dir, 'charts', 'stale.svg')));
    // Without a recorded machine the report says the machine is the renderer's.
    assert.match(fs.readFileSync(path.join(dir, 'REPORT.md'), 'utf8'), /No machine was recorded with these results/);
  });

  it('renders an empty results folder as a report of missing measurements', () => {
    const report = renderReport(loadResults(dir), { generated: new Date(0), machine: null, machineIsRenderer: true, command: 'x' });
    assert.equal(report.charts.size, 0);
    assert.match(report.markdown, /- \(no results found\)/);
    assert.equal((report.markdown.match(/Not measured in these results/g) ?? []).length, 7);
  });
});
