/**
 * The span form of openWakeWord's embedding model (lib/wakeword/embedding-span.ts): K consecutive windows in
 * one run give the embeddings the plain model gives window by window, so the voice features made with it are
 * the ones the streaming pipeline sees.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { EdgeInferError, Engine, readWav16 } from '../lib';
import { embedClip } from '../lib/distill/voice-examples';
import { readModel } from '../lib/onnx/reader';
import { loadEmbeddingSpan, spanEmbeddingMismatch, spanFrames, toSpanEmbeddingModel } from '../lib/wakeword/embedding-span';
import { emulated } from './helpers/node-child';
import { fetchModels, speechDir } from './helpers/repo';

describe('embedding model over a span of windows', function () {
  this.timeout(120_000);
  let models: Record<string, string>;
  let mel: Engine;
  let emb: Engine;
  before(async () => {
    models = fetchModels();
    mel = await Engine.load(models['melspectrogram.onnx'], { backend: 'native', threads: 1 });
    emb = await Engine.load(models['embedding_model.onnx'], { backend: 'native', threads: 1 });
  });
  after(async () => {
    await mel?.dispose();
    await emb?.dispose();
  });

  it('rewrites only the ends: [1, 76 + 8 (K - 1), 32, 1] in, [1, K, 1, 96] out', () => {
    const model = toSpanEmbeddingModel(readModel(new Uint8Array(fs.readFileSync(models['embedding_model.onnx']))), 5);
    assert.deepEqual(model.graph.inputs[0].shape, [1, spanFrames(5), 32, 1]);
    assert.equal(spanFrames(5), 108);
    assert.deepEqual(model.graph.outputs[0].shape, [1, 5, 1, 96]);
    assert.equal(model.graph.nodes.at(-1)!.opType, 'Transpose');
    assert.throws(() => toSpanEmbeddingModel(readModel(new Uint8Array(fs.readFileSync(models['embedding_model.onnx']))), 0), (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && /windows must be an integer/.test(e.message));
  });

  it('refuses a model of another layout (a wake-word head): no span, window by window', async () => {
    const head = models['hey_jarvis_v0.1.onnx'];
    assert.throws(() => toSpanEmbeddingModel(readModel(new Uint8Array(fs.readFileSync(head))), 4), (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && /not openWakeWord's embedding model layout/.test(e.message));
    assert.equal(await loadEmbeddingSpan(head, emb), undefined);
    await assert.rejects(loadEmbeddingSpan(models['embedding_model.onnx'], emb, { windows: 0 }), (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && /windows must be an integer/.test(e.message));
  });

  it('agrees with the plain model window by window, and is dropped when the check fails', async () => {
    const span = await loadEmbeddingSpan(models['embedding_model.onnx'], emb, { windows: 6 });
    assert.ok(span, 'the span form loads and checks out');
    try {
      const mismatch = await spanEmbeddingMismatch(span, emb);
      // Same multiply-adds per output in the same order: bit for bit on x64; within 1e-5 wherever it is used.
      if (process.arch === 'x64') assert.equal(mismatch, 0);
      assert.ok(mismatch <= 1e-5, `relative mismatch ${mismatch}`);
    } finally {
      await span.engine.dispose();
    }
    assert.equal(await loadEmbeddingSpan(models['embedding_model.onnx'], emb, { windows: 6, tolerance: -1 }), undefined, 'a span failing its check is not used');
  });

  it('embedClip with a span gives the embeddings of the window-by-window path, for any needed chunks and short clips', async function () {
    // ~200 model runs: minutes under qemu. The arm64 run checks the span against the plain model above (the
    // kernel-dependent part); this TypeScript is the same on every machine.
    if (emulated) this.skip();
    const span = await loadEmbeddingSpan(models['embedding_model.onnx'], emb, { windows: 8 });
    assert.ok(span);
    try {
      const { samples } = readWav16(new Uint8Array(fs.readFileSync(path.join(speechDir, 'commands', 'alexa_timer_gb.wav'))));
      const audio = Float32Array.from(samples.subarray(0, Math.floor(samples.length / 1280) * 1280));
      const chunks = audio.length / 1280;
      assert.ok(chunks > 20, `${chunks} chunks`);
      const patterns: [string, (c: number) => boolean][] = [
        ['every chunk', () => true],
        ['from the first real window', (c) => c >= 9],
        ['sparse', (c) => c % 5 === 0],
        ['two runs and the last chunk', (c) => (c >= 3 && c < 6) || (c >= 12 && c < 15) || c === chunks - 1],
      ];
      for (const [name, needed] of patterns) {
        const plain = await embedClip({ melspectrogram: mel, embedding: emb }, audio, needed);
        const spanned = await embedClip({ melspectrogram: mel, embedding: emb, embeddingSpan: span }, audio, needed);
        assert.equal(spanned.length, plain.length);
        plain.forEach((e, c) => {
          assert.equal(spanned[c] === undefined, e === undefined, `${name}: chunk ${c} present in both or neither`);
          if (e === undefined) return;
          const got = spanned[c]!;
          if (process.arch === 'x64') assert.deepEqual([...got], [...e], `${name}: chunk ${c}`);
          else e.forEach((v, i) => assert.ok(Math.abs(v - got[i]) <= 1e-5 * 64, `${name}: chunk ${c}[${i}]`));
        });
      }
      // Shorter than one span: embedded window by window.
      const short = audio.subarray(0, 1280 * 7);
      assert.deepEqual(await embedClip({ melspectrogram: mel, embedding: emb, embeddingSpan: span }, short, () => true), await embedClip({ melspectrogram: mel, embedding: emb }, short, () => true));
    } finally {
      await span.engine.dispose();
    }
  });
});
