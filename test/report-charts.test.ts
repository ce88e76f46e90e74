// The report's SVG charts (lib/report/charts.ts): well-formed standalone documents GitHub can show, with the
// axes, ticks and legend a reader needs, escaped text, and clear errors for what cannot be drawn.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { EdgeInferError } from '../lib';
import { renderBarChart, renderLineChart, type BarChartSpec, type LineChartSpec } from '../lib/report/charts';
import { formatNumber, linearScale, logScale, tickStep } from '../lib/report/scale';
import { checkWellFormedXml, escapeXml } from '../lib/report/svg';

/** An independent parser where Python is installed (CI has it): the document must parse there too. */
const python = spawnSync('python3', ['-c', 'pass']).status === 0;
function parsesInPython(xml: string): void {
  if (!python) return;
  const r = spawnSync('python3', ['-c', 'import sys, xml.dom.minidom as m; m.parseString(sys.stdin.buffer.read())'], { input: xml });
  assert.equal(r.status, 0, `python's XML parser refused the SVG: ${r.stderr}`);
}

function wellFormed(svg: string): void {
  checkWellFormedXml(svg);
  parsesInPython(svg);
}

/** The text content of every <text> element, unescaped. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((m) =>
    m[1]
      .replace(/<title>.*?<\/title>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&'),
  );
}

const rejects = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && pattern.test(e.message));

const line: LineChartSpec = {
  title: 'INT8 GEMM, K=N=1024',
  xLabel: 'M',
  yLabel: 'GOPS',
  logX: true,
  series: [
    { name: 'ours avx512vnni', points: [[1, 209], [4, 665], [16, 800], [128, 860]] },
    { name: 'ort-1.30 u8s8', points: [[1, 47], [16, 500], [128, 630]] },
  ],
};

const bar: BarChartSpec = {
  title: 'Zoo: ours vs ONNX Runtime',
  yLabel: 'speedup',
  categories: ['cnn_resnet18', 'tfm_bert_small_cls', 'q_kws'],
  series: [{ name: 'speedup', values: [0.92, 1.3, 0.78] }],
  referenceLine: { value: 1, label: 'ONNX Runtime' },
};

describe('report charts: scales', () => {
  it('picks 1-2-5 steps and nice linear domains', () => {
    assert.equal(tickStep(0, 937, 6), 200);
    assert.equal(tickStep(0, 1, 5), 0.2);
    const s = linearScale(0, 937, 0, 100);
    assert.deepEqual(s.domain, [0, 1000]);
    assert.deepEqual(s.ticks(), [0, 200, 400, 600, 800, 1000]);
    assert.equal(s.map(500), 50);
    assert.deepEqual(linearScale(0, 0.3, 0, 1).ticks().map((t) => linearScale(0, 0.3, 0, 1).format(t)), ['0', '0.05', '0.1', '0.15', '0.2', '0.25', '0.3']);
    assert.deepEqual(linearScale(12000, 95000, 0, 1).ticks().map((t) => linearScale(12000, 95000, 0, 1).format(t)), ['0', '20k', '40k', '60k', '80k', '100k']);
  });

  it('widens a single value into a drawable domain', () => {
    const s = linearScale(3, 3, 0, 100);
    assert.ok(s.domain[0] < 3 && s.domain[1] > 3);
    const z = linearScale(0, 0, 0, 100);
    assert.ok(z.domain[0] < 0 && z.domain[1] > 0);
    const l = logScale(5, 5, 0, 100);
    assert.ok(l.domain[0] < 5 && l.domain[1] > 5);
  });

  it('puts log ticks on decades, with 2 and 5 between them on short ranges', () => {
    const short = logScale(1, 128, 0, 100);
    assert.deepEqual(short.ticks(), [1, 2, 5, 10, 20, 50, 100]);
    assert.ok(Math.abs(short.map(10) - short.map(1) - (short.map(100) - short.map(10))) < 1e-9, 'decades equally wide');
    const long = logScale(1, 1e9, 0, 100).ticks();
    assert.ok(long.length <= 9 && long.every((t) => Number.isInteger(Math.log10(t))), String(long));
    assert.throws(() => logScale(0, 10, 0, 1), RangeError);
  });

  it('formats numbers compactly', () => {
    assert.equal(formatNumber(18259), '18.3k');
    assert.equal(formatNumber(0.5), '0.5');
    assert.equal(formatNumber(3.2e-6), '3.2e-6');
    assert.equal(formatNumber(2.5e6), '2.5M');
  });
});

describe('report charts: line chart', () => {
  it('is a standalone, well-formed SVG document with explicit size', () => {
    const svg = renderLineChart(line);
    wellFormed(svg);
    assert.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<svg[^>]* width="720" height="420" viewBox="0 0 720 420"/);
    assert.match(svg, /font-family="sans-serif"/);
    // Nothing GitHub would block or that needs the network.
    assert.doesNotMatch(svg, /<script|<foreignObject|<image|href=|@import|url\(|onload|<style/i);
    const custom = renderLineChart({ ...line, width: 500, height: 300 });
    assert.match(custom, /width="500" height="300" viewBox="0 0 500 300"/);
  });

  it('draws axes with ticks, axis labels, the title and a legend entry per series', () => {
    const svg = renderLineChart(line);
    const t = texts(svg);
    for (const label of ['INT8 GEMM, K=N=1024', 'M', 'GOPS', 'ours avx512vnni', 'ort-1.30 u8s8']) assert.ok(t.includes(label), `missing text ${label}`);
    for (const tick of ['1', '10', '100', '0', '200', '800']) assert.ok(t.includes(tick), `missing tick ${tick} in ${t.join('|')}`);
    assert.match(svg, /class="x-axis"/);
    assert.match(svg, /class="y-axis"/);
    assert.equal((svg.match(/class="series"/g) ?? []).length, 2);
    assert.equal((svg.match(/<circle/g) ?? []).length, 7);
    // The larger value is drawn higher (smaller y).
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(ys[3] < ys[0], 'GOPS 860 above GOPS 209');
  });

  it('escapes markup in every text and drops characters XML forbids', () => {
    const nasty = 'a <b> & "c" \'d\' </svg><script>x</script>\u0001';
    const svg = renderLineChart({ ...line, title: nasty, xLabel: nasty, series: [{ name: nasty, points: [[1, 1]] }] });
    wellFormed(svg);
    assert.doesNotMatch(svg, /<script/);
    assert.ok(texts(svg).includes('a <b> & "c" \'d\' </svg><script>x</script>'));
    assert.equal(escapeXml('<&>"\''), '&lt;&amp;&gt;&quot;&apos;');
  });

  it('renders an empty chart (no series, or series without points) with "no data"', () => {
    for (const series of [[], [{ name: 'empty', points: [] }]] as LineChartSpec['series'][]) {
      const svg = renderLineChart({ ...line, series });
      wellFormed(svg);
      assert.ok(texts(svg).includes('no data'));
      assert.doesNotMatch(svg, /NaN|Infinity/);
    }
  });

  it('leaves a gap for NaN / Infinity values instead of drawing them', () => {
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 1], [2, 2], [3, NaN], [4, 4], [5, Infinity], [6, 6]] }] });
    wellFormed(svg);
    assert.doesNotMatch(svg, /NaN|Infinity/);
    const d = /<path d="([^"]+)"/.exec(svg)![1];
    assert.equal((d.match(/M/g) ?? []).length, 1, 'one segment of two points; the lone points are markers only');
    assert.equal((svg.match(/<circle/g) ?? []).length, 4);
    const allMissing = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[NaN, 1]] }] });
    assert.ok(texts(allMissing).includes('no data'));
  });

  it('takes a series colour and dash when given, and refuses a colour that is not #rrggbb', () => {
    const svg = renderLineChart({ ...line, series: [{ name: 'p50', points: [[1, 1], [2, 2]], color: '#123456' }, { name: 'p99', points: [[1, 2], [2, 3]], color: '#123456', dashed: true }] });
    wellFormed(svg);
    assert.equal((svg.match(/<path [^>]*stroke="#123456"/g) ?? []).length, 2);
    assert.equal((svg.match(/<path [^>]*stroke-dasharray="7 4"/g) ?? []).length, 1);
    rejects(() => renderLineChart({ ...line, series: [{ name: 's', points: [], color: 'red" onload="x' }] }), /series\[0\]\.color must be '#rrggbb'/);
  });

  it('draws a single point as a marker inside the plot', () => {
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', logX: true, logY: true, series: [{ name: 'one', points: [[8, 300]] }] });
    wellFormed(svg);
    const m = /<circle cx="([\d.]+)" cy="([\d.]+)"/.exec(svg)!;
    assert.ok(Number(m[1]) > 40 && Number(m[1]) < 720 && Number(m[2]) > 30 && Number(m[2]) < 400, m[0]);
    assert.doesNotMatch(svg, /<path/);
  });

  it('refuses non-positive values on a log axis, and malformed specs, with EDGEINFER_INVALID_ARGUMENT', () => {
    rejects(() => renderLineChart({ ...line, series: [{ name: 'bad', points: [[0, 5]] }] }), /series "bad" point 0: x value 0 .*log axis/);
    rejects(() => renderLineChart({ ...line, logY: true, series: [{ name: 'neg', points: [[1, -2]] }] }), /y value -2 .*log axis/);
    rejects(() => renderLineChart({ ...line, series: [{ name: 'pair', points: [[1, 2, 3] as unknown as [number, number]] }] }), /\[x, y\] pair/);
    rejects(() => renderLineChart({ ...line, title: 5 as unknown as string }), /title must be a string/);
    rejects(() => renderLineChart({ ...line, width: -1 }), /width must be/);
    rejects(() => renderLineChart({ ...line, series: null as unknown as [] }), /series must be an array/);
  });
});

describe('report charts: bar chart', () => {
  it('is well-formed with a bar per value, category labels, legend and the reference line', () => {
    const svg = renderBarChart({ ...bar, series: [{ name: 'ours', values: [1, 2, 3] }, { name: 'ORT', values: [2, 2, 2] }] });
    wellFormed(svg);
    assert.match(svg, /width="720" height="420" viewBox="0 0 720 420"/);
    assert.equal((svg.match(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#(0072B2|E69F00)"/g) ?? []).length, 6 + 2, 'six bars and two legend swatches');
    const t = texts(svg);
    for (const label of ['cnn_resnet18', 'tfm_bert_small_cls', 'q_kws', 'ours', 'ORT', 'ONNX Runtime', 'speedup']) assert.ok(t.includes(label), `missing ${label}`);
    assert.match(svg, /class="reference"/);
    assert.match(svg, /stroke-dasharray="5 4"/);
  });

  it('draws bars from zero: a taller bar for a larger value, negative values below the axis', () => {
    const svg = renderBarChart({ title: 't', yLabel: 'y', categories: ['a', 'b', 'c'], series: [{ name: 's', values: [1, 3, -2] }] });
    wellFormed(svg);
    const rects = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#0072B2"><title>s, (\w)/g)].map((m) => ({ y: Number(m[1]), h: Number(m[2]), c: m[3] }));
    assert.equal(rects.length, 3);
    assert.ok(rects[1].h > rects[0].h * 2.5 && rects[1].h < rects[0].h * 3.5);
    assert.ok(rects[2].y >= rects[0].y + rects[0].h - 0.01, 'the negative bar starts at the zero line');
  });

  it('marks a NaN value n/a and draws no bar for it; an empty chart says no data', () => {
    const svg = renderBarChart({ ...bar, series: [{ name: 'speedup', values: [0.9, NaN, 1.1] }] });
    wellFormed(svg);
    assert.ok(texts(svg).includes('n/a'));
    assert.doesNotMatch(svg, /NaN/);
    const empty = renderBarChart({ title: 't', yLabel: 'y', categories: [], series: [] });
    wellFormed(empty);
    assert.ok(texts(empty).includes('no data'));
  });

  it('rotates long category labels so they do not overlap', () => {
    const many = Array.from({ length: 29 }, (_, i) => `model_with_a_long_name_${i}`);
    const svg = renderBarChart({ title: 't', yLabel: 'y', categories: many, series: [{ name: 's', values: many.map((_, i) => i + 1) }] });
    wellFormed(svg);
    assert.equal((svg.match(/transform="rotate\(-40 /g) ?? []).length, 29);
  });

  it('supports a log axis and refuses non-positive values on it', () => {
    const svg = renderBarChart({ ...bar, logY: true, series: [{ name: 'ms', values: [1, 20, 300] }] });
    wellFormed(svg);
    for (const h of [...svg.matchAll(/height="([\d.]+)" fill="#0072B2"><title>/g)].map((m) => Number(m[1]))) assert.ok(h > 5, 'every bar visible');
    rejects(() => renderBarChart({ ...bar, logY: true, series: [{ name: 'ms', values: [1, 0, 3] }] }), /series "ms" category "tfm_bert_small_cls": y value 0 .*log axis/);
    rejects(() => renderBarChart({ ...bar, logY: true, referenceLine: { value: -1, label: 'r' } }), /referenceLine: y value -1/);
  });

  it('refuses a series whose length does not match the categories', () => {
    rejects(() => renderBarChart({ ...bar, series: [{ name: 'short', values: [1] }] }), /series "short" has 1 values for 3 categories/);
    rejects(() => renderBarChart({ ...bar, referenceLine: { value: NaN, label: 'r' } }), /referenceLine.value must be a finite number/);
  });
});

describe('report charts: the well-formedness check itself', () => {
  it('rejects malformed documents', () => {
    for (const bad of ['<a><b></a></b>', '<a>x & y</a>', '<a b="1" b="2"/>', '<a b=1/>', '<a/><b/>', '<a>', 'text', '<a>&bogus;</a>', '<a>\u0001</a>', '<a x="<"/>']) {
      assert.throws(() => checkWellFormedXml(bad), /not well-formed/, bad);
    }
    checkWellFormedXml('<?xml version="1.0"?>\n<a x="1 &gt; 0"><!-- c --><b/>t &amp; &#10;</a>\n');
  });
});
