#!/usr/bin/env node
// End-to-end check of a voice command model as the smart speaker runs it: the first N commands of a split
// (a run's data/commands/<split>.jsonl) spoken as "hey jarvis, <command>" by espeak-ng in the held-out test voices
// (lib/distill/config.ts; speeds cycling through the test range) and padded as the demo's clips are
// (scripts/make-speech-fixtures.sh), then streamed through the demo's pipeline (streamCommandClips: energy
// voice activity, melspectrogram, embedding and wake-word head, the command stage at each threshold asked;
// native INT8 as the demo runs). Per threshold: of the clips where the wake word fired, how many commands the
// stage named right, named wrong, or missed. The per-window accuracy of the factory's report scores windows
// placed after each command; this scores what a user of the demo would see.
// Needs espeak-ng and sox. Usage (from the repository root):
//   node distill/tools/stream_check.cjs MODEL COMMANDS.jsonl [--count 210] [--thresholds 0.3,0.4,0.5,0.6] [--confirm 1,2] [--keep DIR]
// (--confirm: the command stage's confirmChunks values to try; default the demo's.)
'use strict';
require('tsx/cjs');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const root = path.join(__dirname, '..', '..');
const { streamCommandClips } = require(path.join(root, 'lib', 'distill'));
const { DEFAULT_VOICE } = require(path.join(root, 'lib', 'distill', 'config'));
const { DEMO_COMMAND_MODEL } = require(path.join(root, 'lib', 'wakeword', 'demo'));
const { fetchModels } = require(path.join(root, 'scripts', 'fetch-models.js'));

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

function run(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.error ? r.error.message : r.stderr.trim()}`);
}

async function main() {
  const [model, commandsFile] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  if (!model || !commandsFile) throw new Error('usage: node distill/tools/stream_check.cjs MODEL COMMANDS.jsonl [--count N] [--thresholds a,b] [--confirm 1,2] [--keep DIR]');
  const count = Number(flag('--count', '210'));
  const thresholds = flag('--thresholds', '0.3,0.4,0.5,0.6').split(',').map(Number);
  const confirms = flag('--confirm', String(DEMO_COMMAND_MODEL.confirmChunks)).split(',').map(Number);
  const commands = fs.readFileSync(commandsFile, 'utf8').split('\n').filter((l) => l.trim()).slice(0, count).map((l) => JSON.parse(l));
  const dir = flag('--keep') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-stream-check-'));
  fs.mkdirSync(dir, { recursive: true });
  const voices = DEFAULT_VOICE.voices.test;
  const [slow, fast] = DEFAULT_VOICE.speeds.test;
  const clips = [];
  const raw = path.join(dir, 'raw.wav');
  commands.forEach((c, i) => {
    const clip = path.join(dir, `${String(i).padStart(4, '0')}.wav`);
    const speed = slow + ((i * 13) % (fast - slow + 1));
    run('espeak-ng', ['-v', voices[i % voices.length], '-s', String(speed), '-w', raw, `hey jarvis, ${c.text}`]);
    run('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', clip, 'pad', '0.5', '0.8']);
    clips.push({ clip, intent: c.intent });
  });
  fs.rmSync(raw, { force: true });
  const models = fetchModels();
  for (const confirmChunks of confirms) for (const threshold of thresholds) {
    const checks = await streamCommandClips({
      commandModel: model,
      clips: clips.map((c) => c.clip),
      melspectrogram: models['melspectrogram.onnx'],
      embedding: models['embedding_model.onnx'],
      heads: { hey_jarvis: models['hey_jarvis_v0.1.onnx'] },
      commandThreshold: threshold,
      confirmChunks,
    });
    const tally = { clips: clips.length, woke: 0, right: 0, wrong: 0, missed: 0 };
    checks.forEach((check, i) => {
      if (!check.events.some((e) => e.type === 'wake_word')) return;
      tally.woke++;
      const command = check.events.find((e) => e.type === 'command');
      if (command === undefined) tally.missed++;
      else if (command.name === clips[i].intent) tally.right++;
      else tally.wrong++;
    });
    console.log(JSON.stringify({ model: path.basename(model), threshold, confirm_chunks: confirmChunks, ...tally, right_pct: Number(((100 * tally.right) / tally.woke).toFixed(1)), wrong_pct: Number(((100 * tally.wrong) / tally.woke).toFixed(1)) }));
  }
  if (flag('--keep') === undefined) fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
