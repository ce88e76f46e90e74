#!/usr/bin/env node
// npm run demo: a smart speaker on the native engine. Every committed speech clip (test/fixtures/speech:
// espeak-ng wake words, a negative sentence, silence; commands/: wake word + command in three voices) is
// streamed in 80 ms chunks, all clips at once like the streams of a server, through one BatchScheduler per
// model: energy voice activity -> melspectrogram -> embedding -> the wake-word heads -> after a wake word,
// the command stage (openWakeWord's timer head on the embeddings that follow). Prints each event with its
// time in the clip, the per-chunk latency against the 200 ms budget, the model sizes, and how native INT8,
// native FP32 and ONNX Runtime FP32 agree (ONNX Runtime when onnxruntime-node, a dev dependency, is there).
// The models come from npm (scripts/fetch-models.js: sha256-pinned, cached in .cache/models).
//   node examples/wake-word.js [--short] [--json] [clip.wav ...]
//     --short  native INT8 only (no comparison): about a second, for the test
//     --json   one JSON object per line: events, clip summaries, latency, sizes, agreement
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The library. In a source checkout: its TypeScript through tsx (a dev dependency), so the demo runs the lib/
// beside it, not a dist/ left over from an older build. Otherwise the compiled package, as an app would.
function loadLibrary() {
  const source = path.join(__dirname, '..', 'lib', 'index.ts');
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
  return require('..');
}

const { BatchScheduler, CommandStage, Engine, EnergyVoiceActivity, WakeWordPipeline, readWav16, simdInfo } = loadLibrary();
const { fetchModels } = require('../scripts/fetch-models');

const args = process.argv.slice(2);
const flag = (name) => {
  const at = args.indexOf(name);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
};
const short = flag('--short');
const json = flag('--json');
const unknown = args.find((a) => a.startsWith('--'));
if (unknown) {
  console.error(`unknown option ${unknown}\nusage: node examples/wake-word.js [--short] [--json] [clip.wav ...]`);
  process.exit(2);
}
const speechDir = path.join(__dirname, '..', 'test', 'fixtures', 'speech');
// The wake-word clips and the wake word + command sentences (commands/), by name.
const wavs = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.wav')).map((f) => path.join(dir, f));
const clips = args.length > 0 ? args : [...wavs(speechDir), ...wavs(path.join(speechDir, 'commands'))].sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : 1));

const wakeWords = { hey_jarvis: 'hey_jarvis_v0.1.onnx', alexa: 'alexa_v0.1.onnx', hey_mycroft: 'hey_mycroft_v0.1.onnx' };
const commandModel = { name: 'timer', file: 'timer_v0.1.onnx' };
const wakeThreshold = 0.5;
// After firing, a wake word fires again only once its score has dropped below the threshold and its head's
// 16 embeddings (1.28 s) have moved past the audio that fired it: a dip and rise inside them is the same words.
const refractoryChunks = 16;
const chunkSamples = 1280;
const chunkSeconds = chunkSamples / 16000;
const budgetMs = 200;

const variants = [
  { key: 'int8', label: 'native INT8', backend: 'native', precision: 'int8' },
  { key: 'fp32', label: 'native FP32', backend: 'native', precision: 'float32' },
  { key: 'ort', label: 'ORT FP32', backend: 'onnxruntime', precision: 'float32' },
];

const out = (line) => process.stdout.write(`${line}\n`);
// Piped into `head`: stop quietly when the reader has gone.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
const emit = (object) => json && out(JSON.stringify(object));
const say = (line = '') => !json && out(line);
const round = (x, digits = 4) => Number(x.toFixed(digits));
const diff = (x) => (x < 1e-3 ? x.toExponential(1) : x.toFixed(4));
const mib = (bytes) => `${(bytes / 1048576).toFixed(2)} MiB`;

/** A variant's models, each an Engine behind its own BatchScheduler, shared by every stream. */
async function loadVariant(variant, files) {
  const engines = [];
  const schedulers = {};
  const runner = async (role, file, precision, batch, rowDims) => {
    // One thread per model: a smart speaker's small core, and the streams run side by side anyway. A plan
    // per batch size the scheduler can form, so none is rebuilt while streaming.
    const engine = await Engine.load(files[file], { backend: variant.backend, threads: 1, ...(variant.backend === 'native' ? { precision, maxPlans: batch } : {}) });
    engines.push({ role, file, engine });
    const scheduler = new BatchScheduler(engine, { maxBatchSize: batch });
    schedulers[role] = scheduler;
    // Warm-up, as a device does at boot: the first run of each shape builds its plan (tens of ms).
    rowDims ??= engine.inputs[0].dims.slice(1);
    for (let rows = 1; rows <= (scheduler.info().batching ? batch : 1); rows++) {
      const dims = [rows, ...rowDims];
      await engine.infer({ [engine.inputs[0].name]: { type: 'float32', data: new Float32Array(dims.reduce((x, y) => x * y, 1)), dims } });
    }
    return { inputs: engine.inputs, outputs: engine.outputs, infer: (feeds) => scheduler.infer(feeds) };
  };
  // Streams share a batch only where a row's result does not depend on its batch-mates. Not the melspectrogram:
  // it clips to 80 dB below the largest value of its whole input (a ReduceMax over every axis), so one stream's
  // loud chunk would raise the others' floor. Not native INT8 either: its activations are quantized with one
  // scale per call, taken over the whole batch, so a louder batch-mate would change a stream's embedding and scores.
  const batch = variant.backend === 'native' && variant.precision === 'int8' ? 1 : 8;
  // Its input: an 80 ms chunk plus 480 samples of STFT context, as the pipeline feeds it. FP32 in every
  // variant (its STFT conv is not accurate in INT8).
  const melspectrogram = await runner('melspectrogram', 'melspectrogram.onnx', 'float32', 1, [chunkSamples + 480]);
  const embedding = await runner('embedding', 'embedding_model.onnx', variant.precision, batch);
  const heads = {};
  for (const [name, file] of Object.entries(wakeWords)) heads[name] = await runner(name, file, variant.precision, batch);
  const command = await runner(commandModel.name, commandModel.file, variant.precision, batch);
  return { variant, engines, schedulers, models: { melspectrogram, embedding, heads }, command };
}

/** One clip as one stream: every chunk through VAD, the pipeline and the command stage, in order. */
async function streamClip(loaded, clip) {
  // A copy into a plain Uint8Array: readWav16 given a Buffer reads the 44-byte header as the first samples
  // (Buffer#slice is a view, and it takes the data from offset 0 of the view's ArrayBuffer).
  const { samples } = readWav16(new Uint8Array(fs.readFileSync(clip)));
  const vad = new EnergyVoiceActivity();
  const pipeline = new WakeWordPipeline(loaded.models);
  const stage = new CommandStage({ name: commandModel.name, model: loaded.command });
  const firedAt = {}; // chunk index of each wake word's last event, until it re-arms
  const events = [];
  const chunks = [];
  const latenciesMs = [];
  for (let start = 0, index = 0; start + chunkSamples <= samples.length; start += chunkSamples, index++) {
    const chunk = Float32Array.from(samples.subarray(start, start + chunkSamples));
    const t0 = performance.now();
    const voice = vad.push(chunk);
    const result = await pipeline.push(chunk);
    const time = (index + 1) * chunkSeconds;
    let fired;
    for (const [name, score] of Object.entries(result.scores)) {
      if (name in firedAt) {
        if (score < wakeThreshold && index - firedAt[name] >= refractoryChunks) delete firedAt[name];
      } else if (score >= wakeThreshold && voice.active) {
        firedAt[name] = index;
        events.push({ type: 'wake_word', name, score, time });
        if (fired === undefined || score > result.scores[fired]) fired = name;
      }
    }
    const command = await stage.push(result, { wakeWord: fired, voiceActive: voice.active });
    latenciesMs.push(performance.now() - t0);
    if (command) events.push({ type: 'command', command: command.command, intent: command.intent, score: command.score, time: command.timeMs / 1000, wakeWord: command.wakeWord });
    chunks.push({ scores: result.scores, command: stage.last?.score, voice: voice.active });
  }
  return { clip: path.basename(clip), events, chunks, latenciesMs };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runVariant(loaded) {
  const started = performance.now();
  // Every clip at once: where a model may batch (see loadVariant), the streams' calls meet in its scheduler.
  const streams = await Promise.all(clips.map((clip) => streamClip(loaded, clip)));
  const wallMs = performance.now() - started;
  const key = loaded.variant.key;
  say(`${loaded.variant.label}: ${streams.length} clips streamed at once`);
  for (const s of streams) {
    const best = {};
    let bestCommand;
    for (const c of s.chunks) {
      for (const [name, score] of Object.entries(c.scores)) best[name] = Math.max(best[name] ?? 0, score);
      if (c.command !== undefined) bestCommand = Math.max(bestCommand ?? 0, c.command);
    }
    for (const e of s.events) {
      if (e.type === 'wake_word') emit({ type: 'wake_word', variant: key, clip: s.clip, name: e.name, score: round(e.score), time_s: round(e.time, 2) });
      else emit({ type: 'command', variant: key, clip: s.clip, command: e.command, intent: e.intent, score: round(e.score), time_s: round(e.time, 2), wake_word: e.wakeWord });
    }
    emit({ type: 'clip', variant: key, clip: s.clip, chunks: s.chunks.length, voice_chunks: s.chunks.filter((c) => c.voice).length, max_scores: Object.fromEntries(Object.entries(best).map(([n, v]) => [n, round(v)])), max_command_score: bestCommand === undefined ? null : round(bestCommand) });
    say(`  ${s.clip}`);
    for (const e of s.events) {
      say(e.type === 'wake_word'
        ? `    ${e.time.toFixed(2).padStart(5)} s  wake word ${e.name} (${e.score.toFixed(2)})`
        : `    ${e.time.toFixed(2).padStart(5)} s  command ${e.command}: ${e.intent} (${e.score.toFixed(2)}) after ${e.wakeWord}`);
    }
    const bestText = Object.entries(best).map(([n, v]) => `${n} ${v.toFixed(2)}`).join(', ');
    if (s.events.length === 0) say(`             nothing fired (best scores: ${bestText || 'none yet'})`);
    else if (!s.events.some((e) => e.type === 'command')) say(`             no command (best ${commandModel.name} score in the window: ${bestCommand === undefined ? 'not run' : bestCommand.toFixed(2)})`);
  }
  const latencies = streams.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  const latency = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], chunks: latencies.length };
  const audioSeconds = latency.chunks * chunkSeconds;
  emit({ type: 'latency', variant: key, streams: streams.length, chunks: latency.chunks, p50_ms: round(latency.p50, 3), p99_ms: round(latency.p99, 3), max_ms: round(latency.max, 3), budget_ms: budgetMs, real_time_factor: round(wallMs / 1000 / audioSeconds, 4) });
  const batching = Object.entries(loaded.schedulers).map(([model, scheduler]) => {
    const stats = scheduler.stats();
    emit({ type: 'batching', variant: key, model, max_batch_size: scheduler.info().batching ? scheduler.info().maxBatchSize : 1, requests: stats.completed, batches: stats.batches, mean_batch: round(stats.completed / Math.max(1, stats.batches), 2) });
    return `${model} ${(stats.completed / Math.max(1, stats.batches)).toFixed(1)}`;
  });
  say(`  requests per batch: ${batching.join(', ')} (heads: batch fixed at 1 in their files)`);
  const open = streams.reduce((n, s) => n + s.chunks.filter((c) => c.voice).length, 0);
  say(`  voice activity gate open on ${open} of ${latency.chunks} chunks; ${audioSeconds.toFixed(1)} s of audio in ${(wallMs / 1000).toFixed(2)} s\n`);
  return { key, label: loaded.variant.label, streams, latency };
}

async function main() {
  const files = fetchModels();
  const ortAvailable = Engine.backends().some((b) => b.name === 'onnxruntime' && b.available);
  const chosen = variants.filter((v) => (short ? v.key === 'int8' : v.backend === 'native' || ortAvailable));
  const info = simdInfo();
  say(`CPU ${info.arch}, kernels ${info.kernels.gemmF32.kernel} / ${info.kernels.gemmS8.kernel}; one thread per model`);
  if (!short && !ortAvailable) say('(onnxruntime-node is not installed: no ONNX Runtime comparison)');

  const results = [];
  const sizes = {};
  for (const variant of chosen) {
    const loaded = await loadVariant(variant, files);
    if (results.length === 0) describe(loaded);
    for (const { role, file, engine } of loaded.engines) {
      sizes[role] ??= { file, fileBytes: fs.statSync(files[file]).size };
      if (variant.backend === 'native') sizes[role][engine.info().precision === 'int8' ? 'int8' : 'fp32'] = engine.stats().weightBytes;
    }
    results.push(await runVariant(loaded));
    for (const scheduler of Object.values(loaded.schedulers)) await scheduler.close();
    for (const { engine } of loaded.engines) await engine.dispose();
  }

  say(`per-chunk latency (80 ms of audio per chunk, ${clips.length} streams at once; budget ${budgetMs} ms)`);
  for (const r of results) {
    say(`  ${r.label.padEnd(12)} p50 ${r.latency.p50.toFixed(2).padStart(6)} ms   p99 ${r.latency.p99.toFixed(2).padStart(6)} ms   max ${r.latency.max.toFixed(2).padStart(6)} ms   over ${r.latency.chunks} chunks: ${r.latency.p99 < budgetMs ? 'within' : 'OVER'} budget`);
  }
  say('');

  say(`model sizes        FP32 file   FP32 in memory   INT8 in memory (weights as the engine holds them)`);
  for (const [role, s] of Object.entries(sizes)) {
    emit({ type: 'model_size', model: role, file: s.file, fp32_file_bytes: s.fileBytes, fp32_memory_bytes: s.fp32 ?? null, int8_memory_bytes: s.int8 ?? null });
    const int8 = role === 'melspectrogram' ? 'FP32 (front end)' : s.int8 === undefined ? '-' : mib(s.int8);
    say(`  ${role.padEnd(15)} ${mib(s.fileBytes).padStart(10)}   ${(s.fp32 === undefined ? '-' : mib(s.fp32)).padStart(14)}   ${int8.padStart(14)}`);
  }
  say('');

  if (results.length > 1) {
    say('agreement: same events (clip, kind, name, intent) and the largest score differences over every chunk');
    for (let i = 0; i < results.length; i++) {
      for (let j = i + 1; j < results.length; j++) {
        const a = compare(results[i], results[j]);
        emit({ type: 'agreement', a: results[i].key, b: results[j].key, same_events: a.sameEvents, max_time_diff_s: round(a.timeDiff, 2), max_wake_score_diff: round(a.wakeDiff, 5), max_clip_best_diff: round(a.bestDiff, 5), max_command_score_diff: round(a.commandDiff, 5) });
        say(`  ${`${results[i].label} vs ${results[j].label}`.padEnd(28)} same events: ${a.sameEvents ? `yes, times within ${a.timeDiff.toFixed(2)} s` : 'NO'};  max |diff| wake-word scores ${diff(a.wakeDiff)} (clip maxima ${diff(a.bestDiff)}), ${commandModel.name} scores ${diff(a.commandDiff)}`);
      }
    }
  }
}

/** The pipeline's parameters, as the stages were built with them. */
function describe(loaded) {
  const vad = new EnergyVoiceActivity();
  const stage = new CommandStage({ name: commandModel.name, model: loaded.command });
  emit({ type: 'config', vad_threshold_dbfs: vad.thresholdDbfs, vad_hangover_s: vad.hangoverChunks * chunkSeconds, wake_threshold: wakeThreshold, command_model: commandModel.name, command_frames: stage.frames, command_window_s: round(stage.windowChunks * chunkSeconds, 2), command_threshold: stage.threshold, streams: clips.length });
  say(`pipeline: energy VAD (${vad.thresholdDbfs} dBFS; open until ${(vad.hangoverChunks * chunkSeconds).toFixed(2)} s after speech) -> melspectrogram (FP32) -> embedding`);
  say(`  -> wake-word heads ${Object.keys(wakeWords).join(', ')} (fire at ${wakeThreshold})`);
  say(`  -> command stage: the ${commandModel.name} head on the latest ${stage.frames} embeddings (${(stage.frames * chunkSeconds).toFixed(2)} s), run for ${(stage.windowChunks * chunkSeconds).toFixed(2)} s after`);
  say(`     a wake word; a command fires at 1 - P(no ${commandModel.name}) >= ${stage.threshold}`);
  say('');
}

/** Events and per-chunk scores of two variants over the same clips. */
function compare(a, b) {
  let sameEvents = true;
  let timeDiff = 0;
  let wakeDiff = 0;
  let commandDiff = 0;
  let bestDiff = 0;
  a.streams.forEach((sa, i) => {
    const sb = b.streams[i];
    const id = (e) => `${e.type}:${e.name ?? e.intent}`;
    if (sa.events.map(id).join() !== sb.events.map(id).join()) sameEvents = false;
    else sa.events.forEach((e, k) => (timeDiff = Math.max(timeDiff, Math.abs(e.time - sb.events[k].time))));
    const best = (s, name) => Math.max(0, ...s.chunks.map((c) => c.scores[name] ?? 0));
    for (const name of Object.keys(wakeWords)) bestDiff = Math.max(bestDiff, Math.abs(best(sa, name) - best(sb, name)));
    sa.chunks.forEach((ca, k) => {
      const cb = sb.chunks[k];
      for (const [name, score] of Object.entries(ca.scores)) wakeDiff = Math.max(wakeDiff, Math.abs(score - cb.scores[name]));
      if (ca.command !== undefined && cb.command !== undefined) commandDiff = Math.max(commandDiff, Math.abs(ca.command - cb.command));
    });
  });
  return { sameEvents, timeDiff, wakeDiff, bestDiff, commandDiff };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
