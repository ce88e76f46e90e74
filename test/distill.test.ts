// The Node side of the distillation factory, its parts that need no Python: config validation, the metrics
// (hand-computed values, through .npy files as the factory writes them), the audio helpers, the command-stage
// model rewrite, and the voice features through our Engine on a few espeak-ng utterances (shape, labels,
// determinism, cache).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CommandStage, EdgeInferError, Engine, WakeWordPipeline, readWav16 } from '../lib';
import { parseWav, resample, Rng, speechBounds } from '../lib/distill/audio';
import { commandOutputName, toCommandStageModel } from '../lib/distill/command-model';
import { DEFAULT_VOICE, mergeQuick, readConfig, resolveVoiceSettings, validateConfig, voiceSizes } from '../lib/distill/config';
import { splitAtSilences } from '../lib/distill/espeak';
import { expandContractions, spokenForm } from '../lib/distill/spoken-form';
import { labelsOf, loadNpy } from '../lib/distill/evaluate';
import { accuracy, agreement, argmaxRows, macroF1, median } from '../lib/distill/metrics';
import { accuracyByKind, analyzeSweep, extractSweep, roleOf } from '../lib/distill/report';
import { embedClip, makeVoiceFeatures } from '../lib/distill/voice-features';
import { readNpy, writeNpy } from '../lib/io/npy';
import type { Model } from '../lib/onnx/ir';
import { readModel } from '../lib/onnx/reader';
import { writeModel } from '../lib/onnx/writer';
import { emulated } from './helpers/node-child';
import { fetchModels, speechDir } from './helpers/repo';

function invalidConfig(config: unknown, pattern: RegExp): string[] {
  try {
    validateConfig(config);
  } catch (error) {
    assert.ok(error instanceof EdgeInferError);
    assert.equal(error.code, 'EDGEINFER_INVALID_ARGUMENT');
    assert.match(error.message, pattern);
    return error.detail?.problems as string[];
  }
  assert.fail(`expected ${pattern} for ${JSON.stringify(config)}`);
}

const espeakInstalled = spawnSync('espeak-ng', ['--version']).status === 0;

describe('distill (Node side)', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-distill-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('config', () => {
    it('accepts a minimal config and passes the factory\'s sections through untouched', () => {
      const config = { experiment: 'text', teacher: { model: { hidden: 128 } }, anything: [1, 2] };
      assert.equal(validateConfig(config), config);
      assert.deepEqual(validateConfig({ experiment: 'voice', voice: { frames: 24, voices: { train: ['en-us'], test: ['en-gb'] } } }).voice?.frames, 24);
    });

    it('names each problem, all at once', () => {
      invalidConfig(null, /must be a JSON object/);
      invalidConfig([], /got an array/);
      invalidConfig({}, /config\.experiment is required: one of voice, text/);
      invalidConfig({ experiment: 'vision' }, /config\.experiment must be one of voice, text, got "vision"/);
      invalidConfig({ experiment: 'voice', seed: 1.5 }, /config\.seed must be an integer/);
      invalidConfig({ experiment: 'voice', voice: { frames: 0 } }, /config\.voice\.frames must be an integer in \[1, 256\], got 0/);
      invalidConfig({ experiment: 'voice', voice: { frame: 32 } }, /config\.voice\.frame is not a setting \(known: frames,/);
      invalidConfig({ experiment: 'voice', voice: { voices: { train: ['en-us', 'en-gb'], test: ['en-gb', 'en-us-nyc'] } } }, /must hold voices out of training; shared with voices\.train: en-gb/);
      invalidConfig({ experiment: 'voice', voice: { speeds: { train: [200, 100] } } }, /speeds\.train must be \[low, high\]/);
      invalidConfig({ experiment: 'voice', voice: { noise: { probability: 2 } } }, /noise\.probability must be a number in \[0, 1\]/);
      invalidConfig({ experiment: 'voice', voice: { fullForms: -0.1 } }, /config\.voice\.fullForms must be a number in \[0, 1\], got -0\.1/);
      invalidConfig({ experiment: 'voice', voice: { utterances: { training: 5 } } }, /utterances\.training is not a setting/);
      invalidConfig({ experiment: 'voice', evaluation: { ptq: { method: 'kl' } } }, /ptq\.method must be one of minmax, percentile, entropy, mse/);
      invalidConfig({ experiment: 'text', voice: {} }, /config\.voice is only read by the 'voice' experiment/);
      invalidConfig({ experiment: 'voice', quick: { voice: { frames: -1 } } }, /config\.quick\.voice\.frames must be/);
      const problems = invalidConfig({ experiment: 'x', seed: 'a', voice: { frames: 1.5, gainDb: 3 } }, /4 problems:/);
      assert.equal(problems.length, 4);
    });

    it('reads a file: bad JSON and a missing file are clear; model paths resolve against the file', () => {
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, '{"experiment": "voice",}');
      assert.throws(() => readConfig(bad), /bad\.json is not valid JSON/);
      assert.throws(() => readConfig(path.join(dir, 'none.json')), /cannot read the config/);
      const good = path.join(dir, 'good.json');
      fs.writeFileSync(good, JSON.stringify({ experiment: 'voice', voice: { models: { melspectrogram: 'm/mel.onnx', embedding: '/abs/emb.onnx' } } }));
      const config = readConfig(good);
      assert.equal(config.voice?.models?.melspectrogram, path.join(dir, 'm', 'mel.onnx'));
      assert.equal(config.voice?.models?.embedding, '/abs/emb.onnx');
    });

    it('--quick merges the "quick" section over the rest; defaults fill the voice settings', () => {
      const merged = mergeQuick({ experiment: 'voice', voice: { frames: 24, noise: { probability: 0.5 } }, teacher: { epochs: 9, width: 2 }, quick: { voice: { noise: { snrDb: [0, 10] } }, teacher: { epochs: 1 } } });
      assert.deepEqual(merged, { experiment: 'voice', voice: { frames: 24, noise: { probability: 0.5, snrDb: [0, 10] } }, teacher: { epochs: 1, width: 2 } });
      const resolved = resolveVoiceSettings({ frames: 20, none: { cut: 0 } });
      assert.equal(resolved.frames, 20);
      assert.deepEqual(resolved.none, { ...DEFAULT_VOICE.none, cut: 0 });
      assert.deepEqual(resolved.voices, DEFAULT_VOICE.voices);
      assert.ok(!DEFAULT_VOICE.voices.test.some((v) => DEFAULT_VOICE.voices.train.includes(v)), 'the default test voices are held out');
    });

    it('voice sizes: defaults, then the config\'s data section, then voice.utterances (quick ones under --quick)', () => {
      assert.deepEqual(voiceSizes({ experiment: 'voice' }, false), DEFAULT_VOICE.utterances);
      assert.deepEqual(voiceSizes({ experiment: 'voice' }, true), DEFAULT_VOICE.quickUtterances);
      const config = { experiment: 'voice' as const, data: { labelled: 100, transfer: 1000, length: 24 }, voice: { utterances: { transfer: 500 }, quickUtterances: { test: 7 } } };
      assert.deepEqual(voiceSizes(config, false), { ...DEFAULT_VOICE.utterances, labelled: 100, transfer: 500 });
      assert.deepEqual(voiceSizes(mergeQuick({ ...config, quick: { data: { labelled: 20 } } }), true), { ...DEFAULT_VOICE.quickUtterances, labelled: 20, transfer: 500, test: 7 });
    });
  });

  describe('metrics', () => {
    it('accuracy, macro-F1 (scikit-learn\'s definition) and agreement on hand-computed cases', () => {
      const labels = [0, 1, 1, 2, 1, 2, 0];
      const predictions = [0, 1, 2, 2, 1, 0, 1];
      assert.equal(accuracy(predictions, labels), 4 / 7);
      // F1 per class: 0: 2·1/(2+1+1) = 0.5; 1: 4/(4+1+1) = 2/3; 2: 2/(2+1+1) = 0.5.
      assert.ok(Math.abs(macroF1(predictions, labels) - (0.5 + 2 / 3 + 0.5) / 3) < 1e-12);
      // A class only predicted counts (F1 0), as in f1_score(average='macro').
      assert.equal(macroF1([3, 0], [0, 0]), (2 / 3 + 0) / 2);
      assert.equal(macroF1([1, 1], [1, 1]), 1);
      assert.equal(agreement([1, 2, 0], [1, 2, 1]), 2 / 3);
      assert.equal(median([5, 1, 3]), 3);
      assert.equal(median([4, 1, 3, 2]), 2.5);
      assert.throws(() => accuracy([1], [1, 2]), /1 predictions vs 2 references/);
      assert.throws(() => accuracy([], []), /no samples/);
    });

    it('argmax of .npy outputs as the factory writes them: first index on ties, NaN never wins, int64 labels', () => {
      const file = path.join(dir, 'out.npy');
      fs.writeFileSync(file, writeNpy({ type: 'float32', dims: [4, 3], data: Float32Array.of(0.1, 0.9, 0, 2, 1, 3, 5, 5, 1, NaN, -1, -2) }));
      const logits = loadNpy(file);
      assert.deepEqual(logits.dims, [4, 3]);
      const predictions = argmaxRows(logits.data as Float32Array, 3);
      assert.deepEqual([...predictions], [1, 2, 0, 1]);
      const labelFile = path.join(dir, 'labels.npy');
      fs.writeFileSync(labelFile, writeNpy({ type: 'int64', dims: [4], data: BigInt64Array.of(1n, 2n, 1n, 1n) }));
      const labels = labelsOf(loadNpy(labelFile));
      assert.deepEqual([...labels], [1, 2, 1, 1]);
      assert.equal(accuracy(predictions, labels), 3 / 4);
      assert.equal(agreement(predictions, Int32Array.of(1, 2, 0, 0)), 3 / 4);
      assert.throws(() => argmaxRows(new Float32Array(5), 3), /5 values are not rows of 3 classes/);
      assert.throws(() => loadNpy(path.join(dir, 'missing.npy')), /cannot read/);
    });
  });

  describe('report helpers', () => {
    it('maps the factory\'s stage and model names to roles', () => {
      assert.equal(roleOf('export', 'teacher'), 'teacher');
      assert.equal(roleOf('student_distilled', 'student_fp32'), 'distilled');
      assert.equal(roleOf('export', 'student_hard'), 'hard');
      assert.equal(roleOf('student_qat_int8', 'student_qat_int8'), 'qat');
      assert.equal(roleOf('sweep_h16_distilled', 'student_h16_distilled'), 'other');
      assert.equal(roleOf('data', 'x'), 'other');
    });

    it('finds where distillation stops helping, or says that it did not', () => {
      const sweep = (rows: [number, number, number][]) => rows.map(([params, distilled, hard]) => ({ params, distilled, hard }));
      const clean = analyzeSweep(sweep([[100, 0.5, 0.6], [1000, 0.8, 0.7], [300, 0.7, 0.72], [3000, 0.9, 0.8]]));
      assert.equal(clean.crossoverParams, 1000);
      assert.match(clean.sentence, /stops helping below about 1\.0k parameters: at 1\.0k parameters \(distilled 80\.0 % vs hard labels 70\.0 %\) it still wins, at 300 parameters/);
      const always = analyzeSweep(sweep([[100, 0.6, 0.5], [1000, 0.8, 0.7]]));
      assert.equal(always.crossoverParams, null);
      assert.match(always.sentence, /beat training on hard labels at every student size tried \(100 to 1\.0k parameters\): no size below which it stops helping was found in this range/);
      assert.match(analyzeSweep(sweep([[100, 0.5, 0.5]])).sentence, /did not beat training on hard labels at any student size/);
      assert.match(analyzeSweep(sweep([[100, 0.6, 0.5], [300, 0.6, 0.7], [1000, 0.8, 0.7]])).sentence, /No clean size threshold in 100 to 1\.0k parameters: distillation beat training on hard labels only at 1\.0k parameters \(distilled 80\.0 % vs hard labels 70\.0 %\); 100 parameters \(.*\); not at the other size \(300 parameters\)\./);
      assert.match(analyzeSweep([]).sentence, /No student-size sweep/);
      // The factory's sweep rows (pipelines/common.py sweep_row).
      const rows = extractSweep({ sweep: [{ width: 16, params: 900, distilled: { accuracy: 0.8, macro_f1: 0.7 }, hard: { accuracy: 0.75, macro_f1: 0.6 } }, { params: 'x' }] });
      assert.deepEqual(rows, [{ params: 900, width: 16, distilled: 0.8, hard: 0.75 }]);
    });

    it('accuracy by kind of example', () => {
      assert.deepEqual(accuracyByKind([1, 0, 2, 0], [1, 1, 2, 0], ['command', 'command', 'command', 'cut']), { command: { accuracy: 2 / 3, count: 3 }, cut: { accuracy: 1, count: 1 } });
    });
  });

  describe('audio', () => {
    it('the seeded random source repeats per seed and differs between seeds', () => {
      const a = new Rng(1, 'x');
      const b = new Rng(1, 'x');
      const c = new Rng(2, 'x');
      const draws = (r: Rng) => Array.from({ length: 5 }, () => r.next());
      const da = draws(a);
      assert.deepEqual(da, draws(b));
      assert.notDeepEqual(da, draws(c));
      assert.ok(da.every((x) => x >= 0 && x < 1));
      const r = new Rng(3);
      const ints = Array.from({ length: 1000 }, () => r.int(2, 4));
      assert.deepEqual([...new Set(ints)].sort(), [2, 3, 4]);
    });

    it('resamples 22050 -> 16000 Hz keeping a tone\'s frequency and level, removing what the new rate cannot hold', () => {
      const tone = (f: number, rate: number, n: number) => Float32Array.from({ length: n }, (_, i) => 1000 * Math.sin((2 * Math.PI * f * i) / rate));
      const out = resample(tone(1000, 22050, 22050), 22050, 16000);
      assert.equal(out.length, 16000);
      const expected = tone(1000, 16000, 16000);
      let err = 0;
      for (let i = 200; i < 15800; i++) err = Math.max(err, Math.abs(out[i] - expected[i]));
      assert.ok(err < 2, `max error ${err} of 1000`);
      // 9 kHz is above the new Nyquist (8 kHz): it must not fold back into the band.
      const alias = resample(tone(9000, 22050, 22050), 22050, 16000);
      let peak = 0;
      for (let i = 200; i < 15800; i++) peak = Math.max(peak, Math.abs(alias[i]));
      assert.ok(peak < 5, `aliased peak ${peak}`);
    });

    it('reads espeak-ng\'s streamed WAV header and finds speech between silences', () => {
      const header = new Uint8Array(44);
      const view = new DataView(header.buffer);
      header.set(Buffer.from('RIFF'), 0);
      view.setUint32(4, 0x7fffffff, true);
      header.set(Buffer.from('WAVEfmt '), 8);
      view.setUint32(16, 16, true);
      view.setUint16(20, 1, true);
      view.setUint16(22, 1, true);
      view.setUint32(24, 22050, true);
      view.setUint16(34, 16, true);
      header.set(Buffer.from('data'), 36);
      view.setUint32(40, 0x7fffffff, true);
      const samples = new Int16Array(22050);
      // 10 ms frames at 22050 Hz are 221 samples: speech in frames 10-19 and 50-59, a 300 ms gap between.
      for (let i = 2210; i < 4420; i++) samples[i] = 5000;
      for (let i = 11050; i < 13260; i++) samples[i] = -4000;
      const wav = new Uint8Array(44 + samples.byteLength);
      wav.set(header);
      wav.set(new Uint8Array(samples.buffer), 44);
      const parsed = parseWav(wav);
      assert.equal(parsed.sampleRate, 22050);
      assert.equal(parsed.samples.length, 22050);
      const segments = splitAtSilences(parsed.samples, 22050, 200);
      assert.deepEqual(segments.map((s) => s.length), [2210, 2210]);
      assert.equal(segments[1][0], -4000);
      assert.equal(splitAtSilences(parsed.samples, 22050, 400).length, 1, 'a 300 ms gap does not split at 400 ms');
      assert.deepEqual(speechBounds(Float32Array.from(parsed.samples), 22050), [2210, 13260]);
      assert.throws(() => parseWav(new Uint8Array(8)), /not a RIFF\/WAVE stream/);
    });
  });

  describe('spoken form', () => {
    it('says contractions in full, only the unambiguous ones, and only words (not parts of words)', () => {
      assert.equal(expandContractions("what's the weather like today"), 'what is the weather like today');
      assert.equal(expandContractions("uh it's too loud i can't hear it don't stop"), 'uh it is too loud i cannot hear it do not stop');
      assert.equal(expandContractions("he's home, i'm out of eggs"), "he's home, i am out of eggs");
      assert.equal(expandContractions('whats the time'), 'whats the time');
      assert.equal(expandContractions('turn on the lights'), 'turn on the lights');
    });

    it('draws the full form with the configured probability from the utterance\'s own stream', () => {
      const text = "what's the time";
      const said = Array.from({ length: 2000 }, (_, i) => spokenForm(text, new Rng('u', i), 0.4));
      const full = said.filter((t) => t === 'what is the time').length;
      assert.equal(full + said.filter((t) => t === text).length, said.length);
      assert.ok(full > 700 && full < 900, `${full} of 2000 in full at p = 0.4`);
      assert.deepEqual(said.slice(0, 50), Array.from({ length: 50 }, (_, i) => spokenForm(text, new Rng('u', i), 0.4)), 'seeded: the same on a rerun');
      assert.ok(Array.from({ length: 200 }, (_, i) => spokenForm(text, new Rng('v', i), 0)).every((t) => t === text), 'probability 0: as written');
      assert.ok(Array.from({ length: 200 }, (_, i) => spokenForm(text, new Rng('v', i), 1)).every((t) => t === 'what is the time'), 'probability 1: always in full');
    });
  });

  describe('command-stage model', () => {
    const classifier = (softmax: boolean): Uint8Array => {
      const frames = 4;
      const w = Float32Array.from({ length: frames * 96 * 3 }, (_, i) => Math.sin(i) * 0.1);
      const model: Model = {
        irVersion: 8,
        opsets: new Map([['', 13]]),
        producerName: 't',
        producerVersion: '0',
        metadata: {},
        graph: {
          name: 'g',
          nodes: [
            { name: 'flat', opType: 'Flatten', domain: '', inputs: ['x'], outputs: ['f'], attributes: { axis: { type: 'int', value: 1 } } },
            { name: 'mm', opType: 'MatMul', domain: '', inputs: ['f', 'W'], outputs: [softmax ? 'logits' : 'out'], attributes: {} },
            ...(softmax ? [{ name: 'sm', opType: 'Softmax', domain: '', inputs: ['logits'], outputs: ['out'], attributes: { axis: { type: 'int' as const, value: -1 } } }] : []),
          ],
          inputs: [{ name: 'x', dtype: 'float32', shape: [1, frames, 96] }],
          outputs: [{ name: 'out', dtype: 'float32', shape: [1, 3] }],
          initializers: new Map([['W', { dtype: 'float32', dims: [frames * 96, 3], data: w }]]),
          valueInfo: new Map(),
        },
      };
      return writeModel(model);
    };

    for (const softmax of [false, true]) {
      it(`names the output after the intents and ends in probabilities (model ${softmax ? 'with' : 'without'} a Softmax)`, async () => {
        const labels = ['none', 'lights_on', 'set_timer'];
        assert.equal(commandOutputName(labels), '{"1":"lights_on","2":"set_timer"}');
        const bytes = toCommandStageModel(classifier(softmax), labels);
        const model = readModel(bytes);
        assert.equal(model.graph.nodes.filter((n) => n.opType === 'Softmax').length, 1);
        assert.equal(JSON.parse(model.metadata['edgeinfer.labels'])[2], 'set_timer');
        const engine = await Engine.load(bytes, { backend: 'native' });
        try {
          const out = await engine.infer({ x: { type: 'float32', data: new Float32Array(4 * 96).fill(0.5), dims: [1, 4, 96] } });
          const probs = out[commandOutputName(labels)].data as Float32Array;
          assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-5);
          // CommandStage reads frames and labels from the model alone.
          const stage = new CommandStage({ name: 'command', model: engine, threshold: 0.01 });
          assert.equal(stage.frames, 4);
          const embedding = new Float32Array(96).fill(0.5);
          let event;
          for (let i = 0; i < 4 && !event; i++) event = await stage.push({ scores: {}, embedding }, i === 0 ? { wakeWord: 'alexa' } : {});
          assert.ok(event && ['lights_on', 'set_timer'].includes(event.intent), JSON.stringify(event));
        } finally {
          await engine.dispose();
        }
      });
    }

    it('refuses a model that does not fit the contract', () => {
      assert.throws(() => toCommandStageModel(classifier(false), ['none', 'a']), /scores 3 classes, the labels name 2/);
      assert.throws(() => commandOutputName(['a', 'none']), /labels\[0\] must be 'none'/);
    });
  });

  describe('voice features through our Engine', function () {
    let models: Record<string, string>;
    before(function () {
      // Minutes per utterance batch under qemu (the arm64 run): the x64 run covers this TypeScript; the
      // pipeline's kernels have their own arm64 specs.
      if (emulated) this.skip();
      if (!espeakInstalled) {
        console.log('    (skipped: espeak-ng is not installed; apt-get install espeak-ng)');
        this.skip();
      }
      models = fetchModels();
    });

    it('streams a clip exactly as WakeWordPipeline does (same embeddings per chunk)', async () => {
      const mel = await Engine.load(models['melspectrogram.onnx'], { backend: 'native', threads: 1 });
      const emb = await Engine.load(models['embedding_model.onnx'], { backend: 'native', threads: 1 });
      try {
        const { samples } = readWav16(new Uint8Array(fs.readFileSync(path.join(speechDir, 'commands', 'alexa_timer_gb.wav'))));
        const audio = Float32Array.from(samples.subarray(0, Math.floor(samples.length / 1280) * 1280));
        const ours = await embedClip({ melspectrogram: mel, embedding: emb }, audio, () => true);
        const runner = (e: Engine) => ({ inputs: e.inputs, outputs: e.outputs, infer: (f: Parameters<Engine['infer']>[0]) => e.infer(f) });
        const { chunks } = await new WakeWordPipeline({ melspectrogram: runner(mel), embedding: runner(emb), heads: {} }).processClip(audio);
        assert.equal(ours.length, chunks.length);
        // Every chunk, the first nine (whose mel windows still hold the pipeline's initial ones) included.
        chunks.forEach((chunk, i) => assert.deepEqual([...ours[i]!], [...chunk.embedding!], `chunk ${i}`));
        const byDefault = await embedClip({ melspectrogram: mel, embedding: emb }, audio);
        byDefault.forEach((e, i) => assert.equal(e === undefined, i < 9, `chunk ${i}: by default from the first full real mel window on`));
        const sparse = await embedClip({ melspectrogram: mel, embedding: emb }, audio, (c) => c % 5 === 0);
        sparse.forEach((e, i) => {
          assert.equal(e === undefined, i % 5 !== 0);
          if (e) assert.deepEqual([...e], [...ours[i]!], 'the mel stream is the same when embeddings are skipped');
        });
      } finally {
        await mel.dispose();
        await emb.dispose();
      }
    });

    it('a few utterances: shapes, labels, held-out voices, determinism and the cache', async () => {
      const data = path.join(dir, 'data');
      fs.mkdirSync(path.join(data, 'commands'), { recursive: true });
      fs.writeFileSync(path.join(data, 'commands', 'intents.json'), JSON.stringify(['lights_on', 'set_timer']));
      const line = (text: string, intent: string) => JSON.stringify({ text, intent, slots: {} });
      fs.writeFileSync(path.join(data, 'commands', 'labelled.jsonl'), `${line('turn on the lights', 'lights_on')}\n${line('set a timer for two minutes', 'set_timer')}\n`);
      fs.writeFileSync(path.join(data, 'commands', 'transfer.jsonl'), `${line('switch the kitchen light on', 'lights_on')}\n`);
      fs.writeFileSync(path.join(data, 'commands', 'val.jsonl'), `${line('start a timer for ten minutes', 'set_timer')}\n`);
      fs.writeFileSync(path.join(data, 'commands', 'test.jsonl'), `${line('lights on in the bedroom', 'lights_on')}\n`);
      const settings = {
        frames: 16,
        voices: { train: ['en-us', 'en-gb+f3'], test: ['en-gb-scotland'] },
        windowsPerUtterance: { train: 2, eval: 1 },
        none: { speech: 0, noise: 1, wakeWordOnly: 0, cut: 1 },
        wakeWordPrefix: 1,
        streamStart: 0,
        models: { melspectrogram: models['melspectrogram.onnx'], embedding: models['embedding_model.onnx'] },
      };
      const cacheDir = path.join(dir, 'cache');
      const progress: number[] = [];
      const first = await makeVoiceFeatures({ dataDir: data, settings, seed: 5, cacheDir, onProgress: (p) => progress.push(p.doneAll) });
      assert.equal(first.cached, false);
      assert.deepEqual(first.labels, ['none', 'lights_on', 'set_timer']);
      // Per split: each command gives its windows (2 training / 1 eval) plus a cut one; one noise clip per command.
      assert.deepEqual(first.counts, { labelled: 2 * 3 + 2 * 2, transfer: 3 + 2, val: 3 + 2, test: 2 + 1 });
      assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const read = (name: string) => readNpy(fs.readFileSync(path.join(first.dir, name)));
      const labelled = read('labelled.features.npy');
      assert.deepEqual(labelled.dims, [10, 16, 96]);
      assert.ok((labelled.data as Float32Array).every(Number.isFinite));
      const labels = [...(read('labelled.labels.npy').data as BigInt64Array)].map(Number).sort();
      assert.deepEqual(labels, [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]);
      const meta = JSON.parse(fs.readFileSync(path.join(first.dir, 'meta.json'), 'utf8'));
      assert.equal(meta.frames, 16);
      assert.deepEqual(meta.voices.test, ['en-gb-scotland']);
      assert.deepEqual(meta.counts.labelled.perKind, { command: 4, cut: 2, noise: 4 });
      assert.equal(meta.embedding_windows_per_run, 16, 'the workers embedded spans of 16 windows (embedding-span.ts)');
      const rows = fs.readFileSync(path.join(first.dir, 'test.meta.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(rows.length, 3);
      assert.ok(rows.every((r) => r.voice === 'en-gb-scotland'), 'test utterances use the held-out voice');
      const trainRows = fs.readFileSync(path.join(first.dir, 'labelled.meta.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(trainRows.every((r) => ['en-us', 'en-gb+f3'].includes(r.voice)));
      // Cut windows end while the command is being said, at least two chunks before its command windows end.
      for (const cut of trainRows.filter((r) => r.kind === 'cut')) {
        const ends = trainRows.filter((r) => r.kind === 'command' && r.text === cut.text).map((r) => r.end_chunk);
        assert.equal(ends.length, 2);
        assert.ok(cut.end_chunk <= Math.min(...ends) - 2, `cut at ${cut.end_chunk}, command windows at ${ends}`);
        assert.equal(cut.label, 0);
      }
      const command = trainRows.find((r) => r.kind === 'command');
      assert.ok(command.wake_word !== null && command.label >= 1 && command.text.length > 0);
      // A command window holds speech at its end: its last embeddings differ from its first (background) ones.
      const at = trainRows.indexOf(command);
      const x = (labelled.data as Float32Array).subarray(at * 16 * 96, (at + 1) * 16 * 96);
      let diff = 0;
      for (let i = 0; i < 96; i++) diff += Math.abs(x[15 * 96 + i] - x[i]);
      assert.ok(diff > 1, `speech changes the embedding (${diff})`);

      const bytes = (d: string) => ['labelled', 'transfer', 'val', 'test'].flatMap((s) => [fs.readFileSync(path.join(d, `${s}.features.npy`)), fs.readFileSync(path.join(d, `${s}.labels.npy`))]);
      const firstBytes = bytes(first.dir);
      // The first run used the default workers (one per core: two worker threads here); this one the calling thread.
      const againProgress: number[] = [];
      const again = await makeVoiceFeatures({ dataDir: data, settings, seed: 5, cacheDir, force: true, workers: 1, onProgress: (p) => againProgress.push(p.doneAll) });
      assert.equal(again.dir, first.dir);
      bytes(again.dir).forEach((b, i) => assert.ok(b.equals(firstBytes[i]), `file ${i} is the same on a rerun on the calling thread`));
      assert.deepEqual(againProgress, progress);
      assert.equal(JSON.parse(fs.readFileSync(path.join(again.dir, 'meta.json'), 'utf8')).embedding_windows_per_run, 16, 'spans on the calling thread too');
      const three = await makeVoiceFeatures({ dataDir: data, settings, seed: 5, cacheDir, force: true, workers: 3 });
      bytes(three.dir).forEach((b, i) => assert.ok(b.equals(firstBytes[i]), `file ${i} is the same with three workers`));
      // Aborted from a progress event: EDGEINFER_ABORTED, the workers closed, nothing left in the cache.
      for (const workers of [1, 2]) {
        const abort = new AbortController();
        const seen: number[] = [];
        await assert.rejects(
          makeVoiceFeatures({ dataDir: data, settings, seed: 7, cacheDir, workers, signal: abort.signal, onProgress: (p) => (seen.push(p.doneAll), p.doneAll === 2 && abort.abort()) }),
          (e: EdgeInferError) => e.code === 'EDGEINFER_ABORTED',
        );
        assert.deepEqual(seen, [1, 2]);
        assert.deepEqual(fs.readdirSync(cacheDir).filter((d) => d.includes('.tmp-')), [], 'the unfinished folder is removed');
      }
      const cached = await makeVoiceFeatures({ dataDir: data, settings, seed: 5, cacheDir });
      assert.equal(cached.cached, true);
      assert.deepEqual(cached.counts, first.counts);
      const other = await makeVoiceFeatures({ dataDir: data, settings, seed: 6, cacheDir });
      assert.notEqual(other.dir, first.dir);
      assert.ok(!fs.readFileSync(path.join(other.dir, 'labelled.features.npy')).equals(firstBytes[0]), 'another seed, other features');
    });

    it('clips standing for a stream\'s start: no window before the stage holds `frames` embeddings', async () => {
      const data = path.join(dir, 'data');
      const settings = {
        frames: 16,
        voices: { train: ['en-us'], test: ['en-gb-scotland'] },
        none: { speech: 0, noise: 0, wakeWordOnly: 0, cut: 1 },
        streamStart: 1,
        models: { melspectrogram: models['melspectrogram.onnx'], embedding: models['embedding_model.onnx'] },
      };
      const made = await makeVoiceFeatures({ dataDir: data, settings, seed: 5, cacheDir: path.join(dir, 'cache') });
      const rows = fs.readFileSync(path.join(made.dir, 'labelled.meta.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(rows.length >= 2);
      for (const row of rows) {
        assert.equal(row.stream_start, true);
        assert.ok(row.end_chunk >= 15, `window ending at chunk ${row.end_chunk}`);
      }
    });

    it('refuses a voice espeak-ng does not have and data that does not fit', async () => {
      const data = path.join(dir, 'data');
      for (const workers of [0, 1.5, 65, Number.NaN]) {
        await assert.rejects(makeVoiceFeatures({ dataDir: data, workers, cacheDir: path.join(dir, 'cache'), force: true, settings: { models: { melspectrogram: models['melspectrogram.onnx'], embedding: models['embedding_model.onnx'] } } }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT' && /workers must be an integer in \[1, 64\]/.test(e.message));
      }
      // A front end the workers cannot load: each worker says why, and none is left running.
      const corrupt = path.join(dir, 'corrupt.onnx');
      fs.writeFileSync(corrupt, Buffer.from('not an onnx model'));
      for (const workers of [1, 2]) {
        await assert.rejects(makeVoiceFeatures({ dataDir: data, workers, cacheDir: path.join(dir, 'cache'), force: true, settings: { models: { melspectrogram: models['melspectrogram.onnx'], embedding: corrupt } } }), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID' && (workers === 1 || /voice feature worker could not load/.test(e.message)));
        assert.deepEqual(fs.readdirSync(path.join(dir, 'cache')).filter((d) => d.includes('.tmp-')), []);
      }
      await assert.rejects(makeVoiceFeatures({ dataDir: data, settings: { voices: { train: ['en-us', 'en-xx'], test: ['en-gb+nonesuch'] } } }), /voice\.voices\.train: espeak-ng has no voice 'en-xx'/);
      await assert.rejects(makeVoiceFeatures({ dataDir: path.join(dir, 'nothing') }), /intents\.json: missing/);
    });
  });
});
