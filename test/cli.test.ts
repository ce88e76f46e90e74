// The `edgeinfer` command line (lib/cli) as a shell user runs it, in a child process: info, run and quantize on
// the openWakeWord models, their JSON output, exit codes and messages; and the .npy reader / writer it uses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EdgeInferError, Engine } from '../lib';
import { readNpy, writeNpy } from '../lib/io/npy';
import type { Tensor } from '../lib/tensor';
import { embeddingWindows } from './helpers/calibration-data';
import { spawnNode } from './helpers/node-child';
import { fetchModels, repoRoot } from './helpers/repo';

const runningTypeScript = __filename.endsWith('.ts');
const cliEntry = path.join(__dirname, '..', 'lib', 'cli', runningTypeScript ? 'main.ts' : 'main.js');

function cli(...args: string[]) {
  const result = spawnNode([cliEntry, ...args], { cwd: repoRoot });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function expectCode(error: unknown, code: string): boolean {
  assert.ok(error instanceof EdgeInferError, `expected an EdgeInferError, got ${String(error)}`);
  assert.equal(error.code, code);
  return true;
}

describe('edgeinfer CLI', function () {
  this.timeout(180000);
  const models = fetchModels();
  const embedding = models['embedding_model.onnx'];
  const head = models['hey_jarvis_v0.1.onnx'];
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-cli-'));
    // Calibration samples as a user would save them: one stacked file [N, 76, 32, 1] and single windows [76, 32, 1].
    const windows: Float32Array[] = [];
    for await (const feeds of embeddingWindows()) {
      windows.push(Float32Array.from(feeds.input_1.data as Float32Array));
      if (windows.length === 32) break;
    }
    const stacked = new Float32Array(24 * windows[0].length);
    windows.slice(0, 24).forEach((w, i) => stacked.set(w, i * w.length));
    fs.mkdirSync(path.join(dir, 'calib'));
    fs.writeFileSync(path.join(dir, 'calib', 'a.npy'), writeNpy({ type: 'float32', dims: [24, 76, 32, 1], data: stacked }));
    windows.slice(24).forEach((w, i) => fs.writeFileSync(path.join(dir, 'calib', `b${i}.npy`), writeNpy({ type: 'float32', dims: [76, 32, 1], data: w })));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('info: inputs, outputs, op histogram, weights, quantization and backend, as text and --json', () => {
    const text = cli('info', embedding);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /input\s+input_1\s+float32\s+\[\S+, 76, 32, 1\]/);
    assert.match(text.stdout, /ops: Conv 20, LeakyRelu 19, Max 19, MaxPool 5/);
    assert.match(text.stdout, /backend \(auto\): native/);
    const json = cli('info', embedding, '--json', '--no-load');
    assert.equal(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout);
    assert.equal(summary.ops.Conv, 20);
    assert.deepEqual(summary.quantization.formats, ['none']);
    assert.equal(summary.bytes, fs.statSync(embedding).size);
    assert.equal(summary.backend, undefined, '--no-load does not load');
  });

  it('quantize: calibrates on a folder of .npy samples, writes a QDQ model that info and the engine accept, --report JSON', async () => {
    const out = path.join(dir, 'embedding.int8.onnx');
    const reportFile = path.join(dir, 'report.json');
    const run = cli('quantize', embedding, '-o', out, '--calib', path.join(dir, 'calib'), '--report', reportFile, '--no-progress');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /0\.29\dx\); int8 20/);
    assert.match(run.stdout, /native: conv2d_19 cosine to FP32 0\.99/);
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
    assert.equal(report.calibration.batches, 32, '24 stacked + 8 single windows');
    assert.equal(report.counts.int8, 20);
    assert.ok(report.sizeAfter <= 0.3 * report.sizeBefore);
    const info = JSON.parse(cli('info', out, '--json', '--no-load').stdout);
    assert.ok(info.quantization.formats.includes('QDQ'));
    assert.equal(info.quantization.dequantizeLinear >= 20, true);
    const engine = await Engine.load(out, { backend: 'native' });
    assert.equal(engine.info().backend, 'native');
    engine.dispose();
    // --keep-fp32 leaves the named node float.
    const kept = cli('quantize', embedding, '-o', path.join(dir, 'kept.onnx'), '--calib', path.join(dir, 'calib', 'a.npy'), '--keep-fp32', 'model/conv2d_19/Conv2D', '--json');
    assert.equal(kept.code, 0, kept.stderr);
    const keptReport = JSON.parse(kept.stdout);
    assert.equal(keptReport.counts.int8, 19);
    assert.equal(keptReport.nodes.find((n: { name: string }) => n.name === 'model/conv2d_19/Conv2D').precision, 'fp32');
  });

  it('quantize --sensitivity / --auto-budget: the per-layer table, and the worst layers FP32 until the budget holds', () => {
    const out = path.join(dir, 'auto.onnx');
    const run = cli('quantize', embedding, '-o', out, '--calib', path.join(dir, 'calib'), '--sensitivity', '--auto-budget', '1e-3', '--no-progress');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /SQNR dB/);
    assert.match(run.stdout, /all layers INT8: 1 - cosine/);
    const verdict = /metric ([\d.e+-]+) <= budget 0\.001 with (\d+) of 20 layers in fp32/.exec(run.stdout);
    assert.ok(verdict, run.stdout);
    assert.ok(Number(verdict[1]) <= 1e-3 && Number(verdict[2]) >= 1 && Number(verdict[2]) < 20);
    assert.ok(fs.existsSync(out));
    const bad = cli('quantize', embedding, '-o', out, '--calib', path.join(dir, 'calib'), '--auto-budget', '-1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--auto-budget must be a number >= 0/);
  });

  it('quantize --calib-wav: WAV clips through the wake-word front end calibrate the embedding model and a head', () => {
    const speech = path.join(repoRoot, 'test', 'fixtures', 'speech');
    const embeddingRun = cli('quantize', embedding, '-o', path.join(dir, 'e.onnx'), '--calib-wav', speech, '--frontend', models['melspectrogram.onnx'], '--json');
    assert.equal(embeddingRun.code, 0, embeddingRun.stderr);
    const embeddingReport = JSON.parse(embeddingRun.stdout);
    assert.ok(embeddingReport.calibration.batches > 100, `${embeddingReport.calibration.batches} mel windows from the clips`);
    assert.equal(embeddingReport.counts.int8, 20);
    const headRun = cli('quantize', head, '-o', path.join(dir, 'h.onnx'), '--calib-wav', speech, '--frontend', models['melspectrogram.onnx'], '--embedding', embedding, '--json');
    assert.equal(headRun.code, 0, headRun.stderr);
    const headReport = JSON.parse(headRun.stdout);
    assert.ok(headReport.calibration.batches > 50 && headReport.counts.int8 >= 1);
    for (const v of headReport.validation) for (const o of Object.values(v.outputs) as { cosine: number }[]) assert.ok(o.cosine > 0.999, JSON.stringify(v));
    const noEmbedding = cli('quantize', head, '-o', path.join(dir, 'x.onnx'), '--calib-wav', speech, '--frontend', models['melspectrogram.onnx']);
    assert.equal(noEmbedding.code, 1);
    assert.match(noEmbedding.stderr, /needs --embedding/);
  });

  it('run: inputs from .json and .npy, outputs printed, --json, --save writes .npy equal to the output', () => {
    const x = Array.from({ length: 16 * 96 }, (_, i) => Math.sin(i) * 0.5);
    fs.writeFileSync(path.join(dir, 'x.json'), JSON.stringify({ dims: [1, 16, 96], data: x }));
    fs.writeFileSync(path.join(dir, 'x.npy'), writeNpy({ type: 'float32', dims: [1, 16, 96], data: Float32Array.from(x) }));
    const fromJson = cli('run', head, path.join(dir, 'x.json'), '--json', '--repeat', '3', '--save', path.join(dir, 'out'));
    assert.equal(fromJson.code, 0, fromJson.stderr);
    const result = JSON.parse(fromJson.stdout);
    assert.equal(result.latency.runs, 3);
    const [name, output] = Object.entries(result.outputs)[0] as [string, { dims: number[]; data: number[] }];
    assert.deepEqual(output.dims, [1, 1]);
    const saved = readNpy(fs.readFileSync(path.join(dir, 'out', `${name.replace(/[^\w.-]/g, '_')}.npy`)));
    assert.deepEqual(Array.from(saved.data as Float32Array), output.data);
    const fromNpy = JSON.parse(cli('run', head, path.join(dir, 'x.npy'), '--json', '--repeat', '0').stdout);
    assert.deepEqual(fromNpy.outputs[name].data, output.data);
    const text = cli('run', head, path.join(dir, 'x.npy'), '--repeat', '2');
    assert.match(text.stdout, /latency over 2 runs: p50 [\d.]+ us/);
  });

  it('bench: ours against onnxruntime-node on the same file, interleaved, --json with the ratio', () => {
    const run = cli('bench', head, '--seconds', '0.2', '--json');
    assert.equal(run.code, 0, run.stderr);
    const line = JSON.parse(run.stdout);
    assert.equal(line.unit, 'us');
    assert.ok(line.ours > 0 && line.ours_p99 >= line.ours);
    if (line.baseline !== null) {
      assert.match(line.baseline, /^ort-1\./);
      assert.ok(line.baseline_value > 0 && Math.abs(line.speedup - line.baseline_value / line.ours) < 1e-9);
    }
    const text = cli('bench', head, '--seconds', '0.1');
    assert.match(text.stdout, /edgeinfer native float32\s+\d+\s+[\d.]+/);
    assert.equal(cli('bench', head, '--seconds', '0').code, 1);
  });

  it('errors: exit 1 with a message naming the problem, 2 for usage errors', () => {
    const missing = cli('info', path.join(dir, 'nope.onnx'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.onnx.*EDGEINFER_INVALID_ARGUMENT/);
    assert.equal(cli('frobnicate').code, 2);
    assert.equal(cli('info').code, 2, 'missing argument');
    assert.equal(cli('quantize', embedding, '--calib', dir).code, 2, 'missing -o');
    const method = cli('quantize', embedding, '-o', path.join(dir, 'x.onnx'), '--calib', path.join(dir, 'calib'), '--method', 'kl');
    assert.equal(method.code, 1);
    assert.match(method.stderr, /--method must be one of minmax, percentile, entropy, mse/);
    const noInput = cli('run', head);
    assert.equal(noInput.code, 1);
    assert.match(noInput.stderr, /missing input/);
    const notOnnx = path.join(dir, 'junk.onnx');
    fs.writeFileSync(notOnnx, 'not a model');
    const junk = cli('run', notOnnx, path.join(dir, 'x.json'));
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /EDGEINFER_MODEL_INVALID/);
    const badNpy = path.join(dir, 'bad.npy');
    fs.writeFileSync(badNpy, 'garbage');
    const npy = cli('run', head, badNpy);
    assert.equal(npy.code, 1);
    assert.match(npy.stderr, /bad\.npy: not a \.npy file/);
  });

  it('bin/edgeinfer.js starts the CLI', function () {
    if (!runningTypeScript) this.skip(); // the compiled arm64 run has no dist/: bin/ is exercised on x64
    const result = spawnNode([path.join(repoRoot, 'bin', 'edgeinfer.js'), '--version'], { cwd: repoRoot });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  });

  it('bin/edgeinfer.js runs dist/ unless a lib/ file is newer; the package (no lib/) always runs dist/', function () {
    if (!runningTypeScript) this.skip(); // needs tsx, a dev dependency
    // A checkout in miniature: the real bin/edgeinfer.js, a dist/ and a lib/ CLI that say which one ran.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-bin-'));
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(path.join(repoRoot, 'bin', 'edgeinfer.js'), path.join(dir, 'bin', 'edgeinfer.js'));
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };
    write('dist/cli/main.js', "exports.main = async () => { console.log('dist'); return 0; };\n");
    write('lib/cli/main.ts', "export async function main(): Promise<number> { console.log('lib'); return 0; }\n");
    write('lib/engine/engine.ts', 'export const edited = true;\n');
    const at = (file: string, seconds: number) => fs.utimesSync(path.join(dir, file), seconds, seconds);
    const ran = () => {
      const result = spawnNode([path.join(dir, 'bin', 'edgeinfer.js')], { cwd: dir });
      assert.equal(result.status, 0, result.stderr);
      return { which: result.stdout.trim(), stderr: result.stderr };
    };
    at('lib/cli/main.ts', 1000);
    at('lib/engine/engine.ts', 1000);
    at('dist/cli/main.js', 2000);
    assert.deepEqual(ran(), { which: 'dist', stderr: '' });
    at('lib/engine/engine.ts', 3000); // an edit deep in lib/ after the last build
    const stale = ran();
    assert.equal(stale.which, 'lib');
    assert.match(stale.stderr, /lib\/ is newer than dist\/ \(npm run build:ts\)/);
    fs.rmSync(path.join(dir, 'lib'), { recursive: true }); // as installed from the tarball
    assert.deepEqual(ran(), { which: 'dist', stderr: '' });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('.npy files', function () {
  const cases: Tensor[] = [
    { type: 'float32', dims: [2, 3], data: Float32Array.of(1, -2.5, 3, 0, Infinity, NaN) },
    { type: 'float64', dims: [3], data: Float64Array.of(1e300, -1, 0.5) },
    { type: 'int64', dims: [1, 2], data: BigInt64Array.of(-(2n ** 62n), 7n) },
    { type: 'uint8', dims: [4], data: Uint8Array.of(0, 1, 254, 255) },
    { type: 'int8', dims: [], data: Int8Array.of(-7) },
    { type: 'bool', dims: [2], data: Uint8Array.of(1, 0) },
    { type: 'int32', dims: [0, 5], data: new Int32Array(0) },
  ];
  for (const tensor of cases) {
    it(`${tensor.type} [${tensor.dims.join(', ')}] round-trips`, () => {
      const bytes = writeNpy(tensor);
      assert.equal((10 + (bytes[8] | (bytes[9] << 8))) % 64, 0, 'data aligned to 64 bytes');
      const back = readNpy(bytes);
      assert.equal(back.type, tensor.type);
      assert.deepEqual(back.dims, tensor.dims);
      assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(tensor.data as ArrayLike<unknown>));
    });
  }

  it('corrupt files are EDGEINFER_INVALID_ARGUMENT naming the problem', () => {
    const good = writeNpy({ type: 'float32', dims: [2, 2], data: new Float32Array(4) });
    const header = new TextDecoder('latin1').decode(good.subarray(10, 10 + (good[8] | (good[9] << 8))));
    const withHeader = (text: string, data = new Uint8Array(16)) => {
      const padded = text.padEnd(Math.ceil((text.length + 11) / 64) * 64 - 11, ' ') + '\n';
      const out = new Uint8Array(10 + padded.length + data.length);
      out.set(good.subarray(0, 8));
      out[8] = padded.length & 0xff;
      out[9] = padded.length >> 8;
      out.set(new TextEncoder().encode(padded), 10);
      out.set(data, 10 + padded.length);
      return out;
    };
    const bad: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 2, 3]), /not a \.npy file/],
      [good.subarray(0, 20), /truncated header/],
      [good.subarray(0, good.length - 4), /data holds 12 bytes.*needs 16/],
      [withHeader(header.replace("'<f4'", "'>f4'")), /unsupported dtype '>f4'/],
      [withHeader(header.replace("'<f4'", "'<c8'")), /unsupported dtype '<c8'/],
      [withHeader(header.replace('False', 'True')), /Fortran-ordered/],
      [withHeader(header.replace('(2, 2)', '(2, -2)')), /shape entry '-2'/],
      [withHeader("{'descr': '<f4'}"), /header is not a numpy dict/],
      [withHeader(header.replace('(2, 2)', '(99999999999, 99999999999)')), /too large|data holds/],
    ];
    for (const [bytes, message] of bad) {
      assert.throws(() => readNpy(bytes, 'x.npy'), (error: unknown) => expectCode(error, 'EDGEINFER_INVALID_ARGUMENT') && message.test((error as Error).message));
    }
  });
});
