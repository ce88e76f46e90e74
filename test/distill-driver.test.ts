// The Node driver of the distillation factory without torch: a fake Python (test/fixtures/distill/fake-python,
// stdlib only) answers the module probe and plays the factory's JSON-lines protocol, malformed lines and
// failures included; distill() then measures real ONNX models (tiny linear classifiers made here) on our Engine,
// quantizes the student with our quantizer and writes the report.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EdgeInferError } from '../lib';
import { checkPython, distill, type DistillProgress } from '../lib/distill';
import { parseEventLine, LineSplitter } from '../lib/distill/protocol';
import { runFactory } from '../lib/distill/runner';
import { accuracy, argmaxRows, macroF1 } from '../lib/distill/metrics';
import { writeNpy } from '../lib/io/npy';
import type { Model, TensorData } from '../lib/onnx/ir';
import { writeModel } from '../lib/onnx/writer';
import { spawnNode } from './helpers/node-child';
import { repoRoot } from './helpers/repo';

const fakePython = path.join(repoRoot, 'test', 'fixtures', 'distill', 'fake-python');
const cliEntry = path.join(__dirname, '..', 'lib', 'cli', __filename.endsWith('.ts') ? 'main.ts' : 'main.js');

function cli(args: string[], env: NodeJS.ProcessEnv) {
  return spawnNode([cliEntry, ...args], { cwd: repoRoot, env });
}

function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return body().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<EdgeInferError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EdgeInferError, `expected an EdgeInferError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** y = x W + b on x float32 [batch, inputs]: a linear classifier. */
function linearModel(w: Float32Array, b: Float32Array, inputs: number, classes: number): Uint8Array {
  const t = (dims: number[], data: Float32Array): TensorData => ({ dtype: 'float32', dims, data });
  const model: Model = {
    irVersion: 8,
    opsets: new Map([['', 13]]),
    producerName: 'edgeinfer-test',
    producerVersion: '0',
    metadata: {},
    graph: {
      name: 'linear',
      nodes: [
        { name: 'matmul', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['h'], attributes: {} },
        { name: 'add', opType: 'Add', domain: '', inputs: ['h', 'B'], outputs: ['logits'], attributes: {} },
      ],
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', inputs] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', classes] }],
      initializers: new Map([['W', t([inputs, classes], w)], ['B', t([classes], b)]]),
      valueInfo: new Map(),
    },
  };
  return writeModel(model);
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function logitsOf(x: Float32Array, w: Float32Array, b: Float32Array, n: number, d: number, c: number): Float32Array {
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      let acc = b[k];
      for (let j = 0; j < d; j++) acc += x[i * d + j] * w[j * c + k];
      out[i * c + k] = acc;
    }
  }
  return out;
}

describe('distill driver (fake Python factory)', function () {
  this.timeout(120000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-distill-driver-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('the Python check', () => {
    it('says Python is missing, and how to install it, when the python cannot be started', async () => {
      await withEnv({ EDGEINFER_PYTHON: path.join(dir, 'no-such-python3'), EDGEINFER_DISTILL_VENV: path.join(dir, 'no-venv') }, async () => {
        const error = await rejectsWith(checkPython(), 'EDGEINFER_BACKEND_UNAVAILABLE', /could not be started \(ENOENT\)/);
        assert.match(error.message, /EDGEINFER_PYTHON/);
        assert.match(error.message, /node scripts\/distill-venv\.js/);
        assert.deepEqual(error.detail?.missing, ['python']);
      });
    });

    it('names the modules the python cannot import (torch missing)', async () => {
      await withEnv({ FAKE_PYTHON_MISSING: 'torch,transformers' }, async () => {
        const error = await rejectsWith(checkPython({ python: fakePython }), 'EDGEINFER_BACKEND_UNAVAILABLE', /cannot import torch, transformers,/);
        assert.match(error.message, /pip install torch transformers onnx numpy/);
        assert.deepEqual(error.detail?.missing, ['torch', 'transformers']);
      });
    });

    it('refuses a Python older than 3.10', async () => {
      await withEnv({ FAKE_PYTHON_VERSION: '3.8.10' }, async () => {
        await rejectsWith(checkPython({ python: fakePython }), 'EDGEINFER_BACKEND_UNAVAILABLE', /is Python 3\.8\.10; the factory needs Python >= 3\.10/);
      });
    });

    it('accepts a python that imports everything, and distill() fails the same way before doing anything when torch is missing', async () => {
      const env = await checkPython({ python: fakePython });
      assert.equal(env.version, '3.11.0');
      assert.equal(env.modules.torch, '0-fake');
      const out = path.join(dir, 'missing-torch');
      await withEnv({ FAKE_PYTHON_MISSING: 'torch' }, async () => {
        await rejectsWith(distill({ experiment: 'text' }, { python: fakePython, out }), 'EDGEINFER_BACKEND_UNAVAILABLE', /cannot import torch/);
      });
      assert.ok(!fs.existsSync(path.join(out, 'config.json')), 'nothing ran');
    });
  });

  describe('the JSON-lines protocol', () => {
    it('parses each event and reports malformed lines with the reason', () => {
      const ok = parseEventLine('{"event":"epoch","stage":"teacher","epoch":2,"epochs":5,"train_loss":0.5,"val_loss":null,"val_accuracy":0.9,"lr":0.001,"seconds":1.5,"extra":1}');
      assert.ok(ok.ok);
      assert.equal(ok.event.event, 'epoch');
      assert.equal(ok.event.extra, 1, 'fields beyond the protocol are kept');
      const noLr = parseEventLine('{"event":"epoch","stage":"s","epoch":1,"epochs":1,"train_loss":1}');
      assert.ok(noLr.ok && noLr.event.lr === null && noLr.event.val_loss === null, 'absent optional numbers become null');
      const cases: [string, RegExp][] = [
        ['not json at all', /not JSON/],
        ['[1, 2]', /not a JSON object/],
        ['{"event":"bogus"}', /unknown event "bogus"/],
        ['{"stage":"x"}', /unknown event undefined/],
        ['{"event":"epoch","stage":"teacher"}', /epoch event with a missing or mistyped epoch \(number\), epochs \(number\)/],
        ['{"event":"result","stage":"s","model":"m","params":"12","accuracy":0.5}', /params \(number\)/],
        ['{"event":"export","stage":"s","onnx":"a.onnx","inputs":[],"torch_outputs":"t.npy"}', /inputs/],
        ['{"event":"error"}', /message \(string\)/],
      ];
      for (const [line, reason] of cases) {
        const parsed = parseEventLine(line);
        assert.ok(!parsed.ok, line);
        assert.match(parsed.reason, reason, line);
      }
      assert.ok(parseEventLine('{"event":"export","stage":"s","onnx":"a.onnx","inputs":{"input_ids":"i.npy"},"torch_outputs":"t.npy"}').ok);
      assert.ok(parseEventLine('{"event":"done","report":{"sweep":[]}}').ok);
    });

    it('splits lines across chunk boundaries, multi-byte characters included', () => {
      const splitter = new LineSplitter();
      const text = Buffer.from('{"event":"stage","stage":"é"}\n{"event":"st', 'utf8');
      const cut = text.indexOf(0xc3) + 1; // in the middle of é
      assert.deepEqual(splitter.push(text.subarray(0, cut)), []);
      assert.deepEqual(splitter.push(text.subarray(cut)), ['{"event":"stage","stage":"é"}']);
      assert.deepEqual(splitter.push('age","stage":"b"}\r\n\n'), ['{"event":"stage","stage":"b"}']);
      assert.deepEqual(splitter.push('{"event":"done","report":null}'), []);
      assert.deepEqual(splitter.end(), ['{"event":"done","report":null}']);
    });
  });

  describe('runFactory', () => {
    const python = { python: fakePython, env: { ...process.env } };
    const configFile = () => {
      const file = path.join(dir, 'config.json');
      fs.writeFileSync(file, JSON.stringify({ experiment: 'text' }));
      return file;
    };

    it('an error event fails the run with its message and the log tail, after the events before it', async () => {
      const events: string[] = [];
      const malformed: string[] = [];
      const error = await rejectsWith(
        runFactory('edgeinfer_distill.run', ['--config', configFile(), '--out', path.join(dir, 'run-error')], {
          python: { python: fakePython, env: { ...process.env, FAKE_FACTORY_MODE: 'error' } },
          onEvent: (e) => events.push(e.event),
          onMalformed: (_line, reason) => malformed.push(reason),
        }),
        'EDGEINFER_INTERNAL',
        /failed: fake failure in stage teacher/,
      );
      assert.match(error.message, /fake factory: about to fail/, 'the tail of stderr is quoted');
      assert.deepEqual(events, ['start', 'stage', 'step', 'step', 'epoch', 'step', 'step', 'epoch', 'error']);
      assert.equal(malformed.length, 4, malformed.join('; '));
    });

    it('a crash (non-zero exit, no error event) quotes its traceback', async () => {
      const error = await rejectsWith(
        runFactory('edgeinfer_distill.run', ['--config', configFile(), '--out', path.join(dir, 'run-crash')], { python: { python: fakePython, env: { ...process.env, FAKE_FACTORY_MODE: 'crash' } } }),
        'EDGEINFER_INTERNAL',
        /exited with code 3/,
      );
      assert.match(error.message, /RuntimeError: fake crash/);
      assert.equal(error.detail?.exitCode, 3);
    });

    it('an exit without a done event is a failure', async () => {
      await rejectsWith(
        runFactory('edgeinfer_distill.run', ['--config', configFile(), '--out', path.join(dir, 'run-nodone')], { python: { python: fakePython, env: { ...process.env, FAKE_FACTORY_MODE: 'nodone' } } }),
        'EDGEINFER_INTERNAL',
        /without a "done" event \(1 events, 0 malformed lines\)/,
      );
    });

    it('abort kills the factory and the processes it started', async () => {
      const pidFile = path.join(dir, 'grandchild.pid');
      const controller = new AbortController();
      const started = performance.now();
      const run = runFactory('edgeinfer_distill.run', ['--config', configFile(), '--out', path.join(dir, 'run-hang')], {
        python: { python: fakePython, env: { ...process.env, FAKE_FACTORY_MODE: 'hang', FAKE_FACTORY_PIDFILE: pidFile } },
        signal: controller.signal,
        onEvent: (e) => {
          if (e.event === 'stage') controller.abort();
        },
      });
      await rejectsWith(run, 'EDGEINFER_ABORTED', /aborted/);
      assert.ok(performance.now() - started < 30000, 'did not wait for the factory to finish');
      const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
      let alive = true;
      for (let i = 0; i < 50 && alive; i++) {
        try {
          process.kill(grandchild, 0);
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          alive = false;
        }
      }
      assert.ok(!alive, `the grandchild ${grandchild} was killed with the process group`);
      void python;
    });

    it('rejects at once when the signal was already aborted', async () => {
      await rejectsWith(runFactory('edgeinfer_distill.run', [], { python, signal: AbortSignal.abort() }), 'EDGEINFER_ABORTED', /before/);
    });
  });

  describe('distill() end to end with the fake factory', () => {
    const n = 300;
    const d = 16;
    const c = 4;
    let assets: string;
    let expected: Record<string, { accuracy: number; macroF1: number; predictions: Int32Array }>;

    before(() => {
      assets = path.join(dir, 'assets');
      fs.mkdirSync(assets);
      const random = rng(7);
      const x = Float32Array.from({ length: n * d }, () => random() * 2 - 1);
      const wTrue = Float32Array.from({ length: d * c }, () => random() * 2 - 1);
      const zero = new Float32Array(c);
      const labels = argmaxRows(logitsOf(x, wTrue, zero, n, d, c), c);
      const noisy = (scale: number) => Float32Array.from(wTrue, (v) => v + scale * (random() * 2 - 1));
      const models: Record<string, Float32Array> = { teacher: wTrue, student_fp32: noisy(0.3), student_hard_fp32: noisy(0.9), student_int8_qat: noisy(0.3) };
      expected = {};
      for (const [name, w] of Object.entries(models)) {
        fs.writeFileSync(path.join(assets, `${name}.onnx`), linearModel(w, zero, d, c));
        const logits = logitsOf(x, w, zero, n, d, c);
        fs.writeFileSync(path.join(assets, `${name}.torch_outputs.npy`), writeNpy({ type: 'float32', dims: [n, c], data: logits }));
        const predictions = argmaxRows(logits, c);
        expected[name] = { accuracy: accuracy(predictions, labels), macroF1: macroF1(predictions, labels), predictions };
      }
      fs.writeFileSync(path.join(assets, 'test_inputs.npy'), writeNpy({ type: 'float32', dims: [n, d], data: x }));
      fs.writeFileSync(path.join(assets, 'test_labels.npy'), writeNpy({ type: 'int64', dims: [n], data: BigInt64Array.from(labels, (v) => BigInt(v)) }));
      fs.writeFileSync(path.join(assets, 'calibration_inputs.npy'), writeNpy({ type: 'float32', dims: [64, d], data: x.slice(0, 64 * d) }));
    });

    it('measures every export on our Engine, quantizes the student (PTQ), and writes the report with the sweep', async () => {
      const out = path.join(dir, 'run-ok');
      const seen: DistillProgress[] = [];
      // Features as makeVoiceFeatures writes them: the test split's labels (the same as the factory's) and kinds.
      const features = path.join(dir, 'features-given');
      fs.mkdirSync(features);
      fs.copyFileSync(path.join(assets, 'test_labels.npy'), path.join(features, 'test.labels.npy'));
      fs.writeFileSync(path.join(features, 'test.meta.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ kind: i % 3 === 0 ? 'cut' : 'command' })).join('\n') + '\n');
      const report = await withEnv({ FAKE_FACTORY_MODE: 'ok', FAKE_FACTORY_ASSETS: assets }, () =>
        distill({ experiment: 'voice', seed: 3, teacher: { layers: 2 }, evaluation: { warmup: 2 } }, { python: fakePython, out, quick: true, features, onProgress: (p) => seen.push(p) }),
      );
      // The factory got the config (its own sections untouched) and the flags.
      const args = JSON.parse(fs.readFileSync(path.join(out, 'fake-args.json'), 'utf8')) as string[];
      assert.deepEqual(args, ['--config', path.join(out, 'config.json'), '--out', out, '--quick', '--features', features]);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).teacher, { layers: 2 });
      // Progress: phases, the factory's events in order, the malformed lines reported (not fatal).
      const kinds = seen.map((p) => p.event);
      assert.equal(kinds.filter((k) => k === 'malformed').length, 4);
      assert.ok(kinds.indexOf('start') < kinds.indexOf('epoch') && kinds.indexOf('epoch') < kinds.indexOf('done'));
      assert.equal(report.epochs.length, 2);

      const row = (role: string) => report.rows.find((r) => r.role === role)!;
      assert.deepEqual(report.rows.map((r) => r.role), ['teacher', 'distilled', 'hard', 'ptq', 'qat']);
      const byFile: Record<string, string> = { teacher: 'teacher', distilled: 'student_fp32', hard: 'student_hard_fp32', qat: 'student_int8_qat' };
      for (const [role, name] of Object.entries(byFile)) {
        const r = row(role);
        // Our Engine's float sums may break a near-tie differently from the JS reference: one sample at most.
        assert.ok(Math.abs(r.accuracy! - expected[name].accuracy) <= 1 / n, `${role}: accuracy ${r.accuracy} vs ${expected[name].accuracy}`);
        assert.ok(Math.abs(r.macroF1! - expected[name].macroF1) <= 0.01, `${role}: macro-F1 ${r.macroF1} vs ${expected[name].macroF1}`);
        assert.ok(r.agreement!.value >= 1 - 1 / n, `${role}: agreement ${r.agreement!.value}`);
        assert.equal(r.sizeBytes, fs.statSync(path.join(out, `${name}.onnx`)).size);
        assert.ok(r.latencyMs! > 0 && r.latencyMs! < 50);
        assert.equal(r.torch!.accuracy, 0.9, 'what PyTorch reported is kept beside');
      }
      assert.equal(row('teacher').accuracy, 1);
      // Accuracy by kind of example: its parts add up to the whole.
      for (const r of report.rows) {
        const byKind = r.byKind!;
        assert.deepEqual(Object.keys(byKind).sort(), ['command', 'cut']);
        assert.equal(byKind.cut.count, 100);
        assert.ok(Math.abs((byKind.cut.accuracy * 100 + byKind.command.accuracy * 200) / n - r.accuracy!) < 1e-12, r.label);
      }
      assert.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /## Accuracy by kind of test example[\s\S]*\| model \| command \(200\) \| cut \(100\) \|/);
      assert.ok(row('hard').accuracy! < row('distilled').accuracy!, 'the noisier student is worse');
      assert.equal(row('qat').agreement!.reference, 'fake-quantized PyTorch');
      // PTQ with our quantizer: a QDQ file next to the others, close to the FP32 student.
      const ptq = row('ptq');
      assert.ok(fs.existsSync(path.join(out, 'student_int8_ptq.onnx')));
      assert.ok(Math.abs(ptq.accuracy! - row('distilled').accuracy!) < 0.05, `PTQ ${ptq.accuracy} vs FP32 ${row('distilled').accuracy}`);
      assert.match(ptq.note!, /our quantizer \(method mse, 64 calibration samples/);
      assert.ok(Math.abs(report.drops.ptq! - (row('distilled').accuracy! - ptq.accuracy!)) < 1e-12);
      assert.ok(Math.abs(report.drops.qat! - (row('distilled').accuracy! - row('qat').accuracy!)) < 1e-12);
      // The sweep: distillation wins at 1000 and 300 parameters, not at 100.
      assert.equal(report.sweep!.crossoverParams, 300);
      assert.match(report.sweep!.sentence, /stops helping below about 300 parameters/);
      const svg = fs.readFileSync(path.join(out, 'sweep.svg'), 'utf8');
      assert.match(svg, /<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /hard labels only/);
      const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
      assert.match(md, /\| teacher \| 1\.0k \| 100\.0 % \|/);
      assert.match(md, /!\[accuracy vs student parameters\]\(sweep\.svg\)/);
      assert.match(md, /PTQ costs -?\d+\.\d\d points/);
      const json = JSON.parse(fs.readFileSync(path.join(out, 'edgeinfer-report.json'), 'utf8'));
      assert.equal(json.rows.length, 5);
      // Acceptance, computed from the measurements: the teacher is 100 %, the students are not within 2 points.
      const check = report.acceptance.find((a) => a.name.startsWith('distilled student >= teacher'))!;
      assert.equal(check.pass, row('distilled').accuracy! >= 0.98);
    });

    it('edgeinfer distill: --json prints the events and the report as JSON lines; the text form has the tables', () => {
      const config = path.join(dir, 'cli-config.json');
      fs.writeFileSync(config, JSON.stringify({ experiment: 'text', evaluation: { warmup: 1 } }));
      const env = { ...process.env, FAKE_FACTORY_MODE: 'ok', FAKE_FACTORY_ASSETS: assets };
      const json = cli(['distill', '--config', config, '--out', path.join(dir, 'cli-json'), '--python', fakePython, '--json'], env);
      assert.equal(json.status, 0, json.stderr);
      const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines[0].event, 'phase');
      assert.ok(lines.some((l) => l.event === 'epoch' && l.stage === 'teacher'));
      assert.equal(lines.filter((l) => l.event === 'malformed').length, 4);
      const report = lines[lines.length - 1];
      assert.equal(report.event, 'report');
      // The text experiment: PTQ with the seed preset (QAT's plan) and, beside it, every layer INT8.
      assert.deepEqual(report.rows.map((r: { role: string }) => r.role), ['teacher', 'distilled', 'hard', 'ptq', 'qat', 'other']);
      assert.match(report.rows[3].note, /mixed precision preset 'seed'/);
      assert.equal(report.rows[5].label, 'student INT8 after PTQ, every layer INT8');
      const text = cli(['distill', '--config', config, '--out', path.join(dir, 'cli-text'), '--python', fakePython], env);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /teacher\nepoch  train loss  val loss  val acc %  lr       s\n/);
      assert.match(text.stdout, /1\/2 +1\.0000 +- +60\.00 +1\.00e-3 +0\.0\n2\/2 +0\.5000/);
      assert.match(text.stdout, /model +params +accuracy +macro-F1 % +size +latency \(ours\) +latency \(ORT\) +argmax = PyTorch/);
      assert.match(text.stdout, /student INT8 after PTQ \(our quantizer\) +100 /);
      assert.match(text.stdout, /Distillation stops helping below about 300 parameters/);
      assert.match(text.stderr, /ignored a factory stdout line \(not JSON\): a stray print/);
    });

    it('edgeinfer distill exit codes: 1 for a factory failure or a bad config, 2 for a usage error', () => {
      const config = path.join(dir, 'cli-config.json');
      const failed = cli(['distill', '--config', config, '--out', path.join(dir, 'cli-fail'), '--python', fakePython], { ...process.env, FAKE_FACTORY_MODE: 'error' });
      assert.equal(failed.status, 1);
      assert.match(failed.stderr, /edgeinfer: the distillation factory \(edgeinfer_distill\.run\) failed: fake failure in stage teacher[\s\S]*\(EDGEINFER_INTERNAL\)/);
      const bad = path.join(dir, 'cli-bad.json');
      fs.writeFileSync(bad, JSON.stringify({ experiment: 'video' }));
      const invalid = cli(['distill', '--config', bad, '--python', fakePython], process.env);
      assert.equal(invalid.status, 1);
      assert.match(invalid.stderr, /config\.experiment must be one of voice, text, got "video" \(EDGEINFER_INVALID_ARGUMENT\)/);
      const missingTorch = cli(['distill', '--config', config, '--python', fakePython], { ...process.env, FAKE_PYTHON_MISSING: 'torch' });
      assert.equal(missingTorch.status, 1);
      assert.match(missingTorch.stderr, /cannot import torch, which the distillation factory needs.*\(EDGEINFER_BACKEND_UNAVAILABLE\)/s);
      const usage = cli(['distill'], process.env);
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /required option '-c, --config <file>' not specified/);
      const device = cli(['distill', '--config', config, '--device', 'gpu', '--python', fakePython], process.env);
      assert.equal(device.status, 2);
      assert.match(device.stderr, /--device <device>' argument 'gpu' is invalid\. auto, cpu, cuda or cuda:N/);
      const threads = cli(['distill', '--config', config, '--threads', '0', '--python', fakePython], process.env);
      assert.equal(threads.status, 2);
      assert.match(threads.stderr, /--threads <n>' argument '0' is invalid\. an integer in \[1, 256\]/);
      const workers = cli(['distill', '--config', config, '--workers', 'two', '--python', fakePython], process.env);
      assert.equal(workers.status, 2);
      assert.match(workers.stderr, /--workers <n>' argument 'two' is invalid\. an integer in \[1, 256\]/);
      // The flags reach the factory (it wrote its arguments before failing on purpose).
      const out = path.join(dir, 'cli-flags');
      const flagged = cli(['distill', '--config', config, '--out', out, '--device', 'cpu', '--threads', '2', '--workers', '2', '--resume', '--python', fakePython], { ...process.env, FAKE_FACTORY_MODE: 'error' });
      assert.equal(flagged.status, 1);
      const args = JSON.parse(fs.readFileSync(path.join(out, 'fake-args.json'), 'utf8')) as string[];
      assert.deepEqual(args.slice(4), ['--device', 'cpu', '--threads', '2', '--workers', '2', '--resume']);
    });

    it('device / threads / workers / resume: passed to the factory as flags; bad values are EDGEINFER_INVALID_ARGUMENT before anything runs', async () => {
      const config = { experiment: 'text' as const };
      for (const [options, pattern] of [
        [{ device: 'gpu' }, /device must be auto, cpu, cuda or cuda:N, got "gpu"/],
        [{ threads: 0 }, /threads must be an integer in \[1, 256\], got 0/],
        [{ threads: 1.5 }, /threads must be an integer/],
        [{ workers: 0 }, /workers must be an integer in \[1, 256\], got 0/],
        [{ workers: '2' }, /workers must be an integer in \[1, 256\], got "2"/],
        [{ resume: 'yes' }, /resume must be a boolean, got "yes"/],
      ] as const) {
        const out = path.join(dir, `bad-flags-${Object.keys(options)[0]}`);
        await rejectsWith(distill(config, { python: fakePython, out, ...(options as object) }), 'EDGEINFER_INVALID_ARGUMENT', pattern);
        assert.ok(!fs.existsSync(out), 'nothing ran');
      }
      const out = path.join(dir, 'flags');
      await rejectsWith(
        withEnv({ FAKE_FACTORY_MODE: 'error' }, () => distill(config, { python: fakePython, out, device: 'cuda', threads: 3, workers: 3, resume: false })),
        'EDGEINFER_INTERNAL',
        /fake failure/,
      );
      const args = JSON.parse(fs.readFileSync(path.join(out, 'fake-args.json'), 'utf8')) as string[];
      assert.deepEqual(args, ['--config', path.join(out, 'config.json'), '--out', out, '--device', 'cuda', '--threads', '3', '--workers', '3']);
      // A GPU asked for (by the option or the config) where PyTorch sees none: refused before the factory starts.
      for (const [given, options] of [[config, { device: 'cuda' as const }], [{ ...config, device: 'cuda:1' }, {}]] as const) {
        const noGpu = path.join(dir, `no-gpu-${JSON.stringify(options).length}`);
        await rejectsWith(
          withEnv({ FAKE_FACTORY_MODE: 'error', FAKE_PYTHON_CUDA: '0' }, () => distill(given as never, { python: fakePython, out: noGpu, ...options })),
          'EDGEINFER_BACKEND_UNAVAILABLE',
          /device 'cuda(:1)?' was asked for, but PyTorch 0-fake in .* sees no CUDA GPU/,
        );
        assert.ok(!fs.existsSync(path.join(noGpu, 'fake-args.json')), 'the factory did not start');
      }
      const withGpu = path.join(dir, 'gpu');
      await rejectsWith(
        withEnv({ FAKE_FACTORY_MODE: 'error', FAKE_PYTHON_CUDA: '1' }, () => distill(config, { python: fakePython, out: withGpu, device: 'cuda' })),
        'EDGEINFER_INTERNAL',
        /fake failure/,
      );
    });

    it('a PTQ that fails is reported in its row; the run still completes', async () => {
      const broken = path.join(dir, 'assets-broken');
      fs.cpSync(assets, broken, { recursive: true });
      // Calibration samples of the wrong width: the quantizer refuses them.
      fs.writeFileSync(path.join(broken, 'calibration_inputs.npy'), writeNpy({ type: 'float32', dims: [8, 5], data: new Float32Array(40) }));
      const report = await withEnv({ FAKE_FACTORY_MODE: 'ok', FAKE_FACTORY_ASSETS: broken }, () =>
        distill({ experiment: 'voice', evaluation: { warmup: 0, baseline: false } }, { python: fakePython, out: path.join(dir, 'run-ptq-fails'), features: path.join(dir, 'no-features') }),
      );
      const ptq = report.rows.find((r) => r.role === 'ptq')!;
      assert.equal(ptq.accuracy, null);
      assert.match(ptq.note!, /^our quantizer failed: /);
      assert.equal(report.drops.ptq, null);
      assert.ok(report.drops.qat !== null);
      assert.equal(report.rows.find((r) => r.role === 'qat')!.onnxruntime, null, 'baseline: false measures ours alone');
      assert.match(fs.readFileSync(report.files.markdown, 'utf8'), /\| student INT8 after PTQ \(our quantizer\) \| 100 \| - \|/);
    });

    it('a config error is reported before anything runs, every problem at once', async () => {
      const error = await rejectsWith(
        distill({ experiment: 'speech', seed: -1, voice: { frames: 0 }, device: 'gpu', threads: 0, workers: 1.5, report_workers: 0 } as never, { python: fakePython, out: path.join(dir, 'bad') }),
        'EDGEINFER_INVALID_ARGUMENT',
        /7 problems[\s\S]*config\.device must be auto, cpu, cuda or cuda:N, got "gpu"[\s\S]*config\.threads must be an integer in \[1, 256\][\s\S]*config\.workers must be an integer[\s\S]*config\.report_workers must be an integer/,
      );
      assert.equal((error.detail?.problems as string[]).length, 7);
      assert.ok(!fs.existsSync(path.join(dir, 'bad')));
    });
  });
});
