// The smart-speaker demo (`npm run demo`, examples/wake-word.js) in its short mode, run as a user runs it (a
// child process), its JSON lines asserted: the wake words, the commands after them, nothing on the negative
// clips, the per-chunk latency. And the two stages it adds to the pipeline, on stand-in models.
import assert from 'node:assert/strict';
import path from 'node:path';

import { CommandStage, EdgeInferError, EnergyVoiceActivity, readWav16, type ChunkResult, type Tensor } from '../lib';
import { spawnNode } from './helpers/node-child';
import { repoRoot } from './helpers/repo';

// Through repoRoot, so that the compiled copy in build-js/ finds it too.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { demoEventProblems } = require(path.join(repoRoot, 'scripts', 'demo-events-check.js')) as { demoEventProblems(stdout: string): string[] };

const runningTypeScript = __filename.endsWith('.ts');

type Line = Record<string, unknown> & { type: string; clip?: string };

describe('npm run demo --short --json', function () {
  this.timeout(120000);
  let lines: Line[];
  const events = (clip: string) => lines.filter((l) => l.clip === clip && (l.type === 'wake_word' || l.type === 'command'));
  const summary = (clip: string) => {
    const found = lines.find((l) => l.type === 'clip' && l.clip === clip);
    assert.ok(found, `no summary line for ${clip}: the demo did not stream it`);
    return found as Line & { chunks: number; max_command_score: number | null; max_scores: Record<string, number> };
  };

  before(function () {
    // The compiled arm64 run (build-js/, under qemu) has no dist/ for `require('..')` and no tsx for the arm64
    // Node to load lib/ with: the demo cannot load the library there. x64 runs it.
    if (!runningTypeScript) this.skip();
    const run = spawnNode([path.join(repoRoot, 'examples', 'wake-word.js'), '--short', '--json'], { cwd: repoRoot, timeout: 100000 });
    assert.equal(run.status, 0, `demo failed (${run.signal ?? run.status}): ${run.stderr}`);
    lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Line);
  });

  it('detects each wake word on its clip', () => {
    assert.deepEqual(events('hey_jarvis.wav').map((e) => `${e.type}:${e.name}`), ['wake_word:hey_jarvis']);
    assert.deepEqual(events('alexa.wav').map((e) => `${e.type}:${e.name}`), ['wake_word:alexa']);
  });

  it('fires nothing on the negative sentence, silence, or a command without a wake word', () => {
    for (const clip of ['negative.wav', 'silence.wav', 'timer.wav']) {
      assert.ok(summary(clip).chunks > 20, `${clip} streamed`);
      assert.deepEqual(events(clip), [], `${clip}: ${JSON.stringify(events(clip))}`);
      // No wake word, so the command model never ran.
      assert.equal(summary(clip).max_command_score, null, clip);
    }
  });

  it('recognises the timer command after the wake word with the distilled INT8 student, in four voices', () => {
    // What the words say, as scripts/make-speech-fixtures.sh spoke them ("set a timer for five minutes").
    const clips: Record<string, string> = {
      'hey_jarvis_timer_us.wav': 'hey_jarvis',
      'hey_jarvis_timer_f3.wav': 'hey_jarvis',
      'alexa_timer_gb.wav': 'alexa',
      'alexa_timer_f3.wav': 'alexa',
    };
    for (const [clip, wakeWord] of Object.entries(clips)) {
      const [wake, command, ...rest] = events(clip) as (Line & { time_s: number; score: number })[];
      assert.equal(rest.length, 0, `${clip}: one wake word and one command: ${JSON.stringify(events(clip))}`);
      assert.equal(wake?.type, 'wake_word', clip);
      assert.equal(wake.name, wakeWord, clip);
      assert.equal(command?.type, 'command', `${clip}: no command after the wake word (best intent probability ${summary(clip).max_command_score})`);
      assert.equal(command.command, 'smart_home');
      assert.equal(command.intent, 'set_timer', clip);
      assert.equal(command.wake_word, wakeWord, clip);
      assert.ok(command.score >= 0.5 && command.time_s > wake.time_s, `${clip}: ${JSON.stringify(command)}`);
    }
  });

  it('recognises the weather question after the wake word', () => {
    const [wake, command, ...rest] = events('hey_jarvis_weather_gb.wav') as (Line & { time_s: number; score: number })[];
    assert.equal(`${wake?.type}:${wake?.name}`, 'wake_word:hey_jarvis');
    assert.equal(rest.length, 0, JSON.stringify(events('hey_jarvis_weather_gb.wav')));
    assert.equal(command?.type, 'command', `no command (best intent probability ${summary('hey_jarvis_weather_gb.wav').max_command_score})`);
    assert.equal(command.intent, 'weather');
    assert.ok(command.score >= 0.5 && command.time_s > wake.time_s, JSON.stringify(command));
  });

  it('names the command model and its scoring in the config line; a wake word alone is no command', () => {
    const config = lines.find((l) => l.type === 'config') as Line & { command_model: string; command_score_by: string; command_confirm_chunks: number };
    assert.deepEqual([config.command_model, config.command_score_by, config.command_confirm_chunks], ['voice-commands.int8.onnx', 'intent', 2]);
    for (const clip of ['hey_jarvis.wav', 'alexa.wav']) assert.deepEqual(events(clip).map((e) => e.type), ['wake_word'], clip);
  });

  it('keeps the per-chunk p99 under the 200 ms budget, every chunk measured', () => {
    const latency = lines.find((l) => l.type === 'latency' && l.variant === 'int8') as Line & { p99_ms: number; chunks: number };
    assert.ok(latency, 'no latency line');
    const chunks = lines.filter((l) => l.type === 'clip').reduce((n, l) => n + (l.chunks as number), 0);
    assert.equal(latency.chunks, chunks);
    assert.ok(latency.p99_ms > 0 && latency.p99_ms < 200, `p99 ${latency.p99_ms} ms`);
  });

  it('scripts/demo-events-check.js (check:tarball on the installed package) passes this output and fails it with one event changed or gone', () => {
    const stdout = (changed: Line[]) => changed.map((l) => JSON.stringify(l)).join('\n');
    assert.deepEqual(demoEventProblems(stdout(lines)), []);
    const command = lines.findIndex((l) => l.type === 'command' && l.clip === 'alexa_timer_gb.wav');
    const wrongIntent = lines.map((l, i) => (i === command ? { ...l, intent: 'cancel_timer' } : l));
    assert.match(demoEventProblems(stdout(wrongIntent)).join('; '), /alexa_timer_gb\.wav: expected wake_word:alexa command:set_timer, got wake_word:alexa command:cancel_timer/);
    assert.match(demoEventProblems(stdout(lines.filter((_, i) => i !== command))).join('; '), /alexa_timer_gb\.wav/);
    const falseWake = { type: 'wake_word', clip: 'negative.wav', name: 'alexa', score: 0.6, time_s: 1 };
    assert.match(demoEventProblems(stdout([...lines, falseWake])).join('; '), /negative\.wav: expected nothing, got wake_word:alexa/);
    const weather = lines.findIndex((l) => l.type === 'command' && l.clip === 'hey_jarvis_weather_gb.wav');
    const weatherWrong = lines.map((l, i) => (i === weather ? { ...l, intent: 'set_temperature' } : l));
    assert.match(demoEventProblems(stdout(weatherWrong)).join('; '), /hey_jarvis_weather_gb\.wav: expected wake_word:hey_jarvis command:weather/);
    assert.match(demoEventProblems(stdout(lines.filter((l) => l.clip !== 'silence.wav'))).join('; '), /silence\.wav: not streamed/);
  });

  it('holds the INT8 weights in under a third of the FP32 files; the command model ships as INT8 in under 64 KiB', () => {
    const sizes = lines.filter((l) => l.type === 'model_size' && l.int8_memory_bytes !== null) as (Line & { file_bytes: number; file_precision: string; int8_memory_bytes: number })[];
    assert.deepEqual(sizes.map((s) => `${s.model}:${s.file_precision}`).sort(), ['alexa:fp32', 'embedding:fp32', 'hey_jarvis:fp32', 'hey_mycroft:fp32', 'smart_home:int8']);
    for (const s of sizes) assert.ok(s.file_precision === 'int8' ? s.file_bytes < 65536 : s.int8_memory_bytes < s.file_bytes / 3, JSON.stringify(s));
  });
});

describe('edgeinfer demo (the CLI runs the same demo)', function () {
  this.timeout(120000);
  const cli = path.join(repoRoot, 'lib', 'cli', runningTypeScript ? 'main.ts' : 'main.js');
  const parse = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Line);
  const eventsOf = (lines: Line[]) => lines.filter((l) => l.type === 'wake_word' || l.type === 'command').map((l) => `${l.clip} ${l.type} ${l.name ?? l.intent} ${l.time_s}`);

  before(function () {
    // As the npm run demo spec: the compiled arm64 run leaves the demo to x64.
    if (!runningTypeScript) this.skip();
  });

  it('edgeinfer demo --quick --json prints the events npm run demo --short --json prints', () => {
    const viaCli = spawnNode([cli, 'demo', '--quick', '--json'], { cwd: repoRoot, timeout: 100000 });
    assert.equal(viaCli.status, 0, `edgeinfer demo failed: ${viaCli.stderr}`);
    const viaNpm = spawnNode([path.join(repoRoot, 'examples', 'wake-word.js'), '--quick', '--json'], { cwd: repoRoot, timeout: 100000 });
    assert.equal(viaNpm.status, 0, viaNpm.stderr);
    const cliEvents = eventsOf(parse(viaCli.stdout));
    assert.ok(cliEvents.some((e) => e.startsWith('hey_jarvis_timer_us.wav command set_timer')), cliEvents.join('\n'));
    assert.deepEqual(cliEvents, eventsOf(parse(viaNpm.stdout)));
  });

  it('edgeinfer demo --clips streams the clips of a folder', () => {
    const run = spawnNode([cli, 'demo', '--quick', '--json', '--clips', path.join(repoRoot, 'test', 'fixtures', 'speech', 'commands')], { cwd: repoRoot, timeout: 100000 });
    assert.equal(run.status, 0, run.stderr);
    const clips = parse(run.stdout).filter((l) => l.type === 'clip').map((l) => l.clip);
    assert.deepEqual(clips, ['alexa_timer_f3.wav', 'alexa_timer_gb.wav', 'hey_jarvis_timer_f3.wav', 'hey_jarvis_timer_us.wav', 'hey_jarvis_weather_gb.wav']);
  });

  it('edgeinfer demo --serve: a client streams a clip through the gRPC server and gets the wake word, then the command', () => {
    const run = spawnNode([cli, 'demo', '--serve', '--quick', '--json'], { cwd: repoRoot, timeout: 100000 });
    assert.equal(run.status, 0, `edgeinfer demo --serve failed: ${run.stderr}`);
    const lines = parse(run.stdout) as (Line & Record<string, unknown>)[];
    assert.equal(lines[0].type, 'server');
    assert.match(String(lines[0].address), /^127\.0\.0\.1:\d+$/);
    const events = lines.filter((l) => l.type === 'wake_word' || l.type === 'command');
    assert.deepEqual(events.map((e) => `${e.type}:${e.name ?? e.intent}`), ['wake_word:hey_jarvis', 'command:set_timer'], run.stdout);
    assert.equal(events[1].wake_word, 'hey_jarvis');
    const stats = lines.find((l) => l.type === 'chunk_stats') as Line & { chunks: number; p99_ms: number };
    assert.ok(stats && stats.chunks > 40 && stats.p99_ms > 0, run.stdout);
    assert.equal(lines.at(-1)!.type, 'shutdown', 'the server shut down cleanly');
  });

  it('refuses options that do not go together, with exit code 1 and a message', () => {
    const run = spawnNode([cli, 'demo', '--clip', 'x.wav'], { cwd: repoRoot, timeout: 30000 });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /--clip goes with --serve/);
    const models = spawnNode([cli, 'demo', '--quick', '--models', path.join(repoRoot, 'test')], { cwd: repoRoot, timeout: 30000 });
    assert.equal(models.status, 1);
    assert.match(models.stderr, /lacks melspectrogram\.onnx/);
  });
});

/** A stand-in command model: [1, frames, 96] in, class probabilities out, the "timer" share set by the test. */
function fakeModel(frames: number, outputName: string, timerShare: () => number) {
  const calls: number[] = [];
  return {
    calls,
    inputs: [{ name: 'x', dims: [1, frames, 96] }],
    outputs: [{ name: outputName }],
    async infer(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
      calls.push((feeds.x.data as Float32Array)[0]);
      const p = timerShare();
      return { [outputName]: { type: 'float32', data: Float32Array.from([1 - p, p * 0.25, p * 0.75]), dims: [1, 3] } };
    },
  };
}

const chunk = (i: number): ChunkResult => ({ scores: {}, embedding: new Float32Array(96).fill(i) });

describe('CommandStage', () => {
  it('runs only in the window after a wake word, fires once at the crossing with the likeliest intent', async () => {
    let share = 0.9;
    const model = fakeModel(4, JSON.stringify({ 1: 'one', 2: 'two' }), () => share);
    const stage = new CommandStage({ name: 'timer', model, windowChunks: 3 });
    assert.equal(stage.frames, 4);
    for (let i = 0; i < 6; i++) assert.equal(await stage.push(chunk(i)), undefined);
    assert.equal(model.calls.length, 0, 'no wake word: the model never runs');
    share = 0.2;
    assert.equal(await stage.push(chunk(6), { wakeWord: 'alexa' }), undefined);
    assert.equal(stage.last?.score.toFixed(2), '0.20');
    assert.deepEqual(model.calls, [3], 'the last 4 embeddings, oldest first');
    share = 0.9;
    const event = await stage.push(chunk(7));
    assert.deepEqual(event && { ...event, score: Number(event.score.toFixed(2)) }, { command: 'timer', intent: 'two', score: 0.9, timeMs: 640, wakeWord: 'alexa' });
    assert.equal(stage.listening, false, 'one command per wake word');
    assert.equal(await stage.push(chunk(8)), undefined);
    assert.equal(model.calls.length, 2);
  });

  it('closes the window after windowChunks and skips chunks without voice', async () => {
    const model = fakeModel(2, 'score', () => 0.1);
    const stage = new CommandStage({ name: 'timer', model, windowChunks: 3, labels: [null, 'a', 'b'] });
    await stage.push(chunk(0));
    await stage.push(chunk(1), { wakeWord: 'hey_jarvis' });
    await stage.push(chunk(2), { voiceActive: false });
    await stage.push(chunk(3));
    assert.equal(stage.listening, false);
    await stage.push(chunk(4));
    assert.deepEqual(model.calls, [0, 2], 'the window of 3 chunks, less the silent one');
  });

  it("scoreBy 'intent' waits until one intent, not the sum of them, reaches the threshold", async () => {
    // Classes: none, 'one', 'two'; 'two' holds 3/4 of the command share. Share 0.6: 1 - P(none) = 0.6 but 'two' only 0.45.
    let share = 0.6;
    const model = fakeModel(2, JSON.stringify({ 1: 'one', 2: 'two' }), () => share);
    const byCommand = new CommandStage({ name: 'c', model, windowChunks: 8 });
    const byIntent = new CommandStage({ name: 'c', model, windowChunks: 8, scoreBy: 'intent' });
    assert.equal(byIntent.scoreBy, 'intent');
    for (const stage of [byCommand, byIntent]) await stage.push(chunk(0));
    const first = await byCommand.push(chunk(1), { wakeWord: 'alexa' });
    assert.equal(first?.score.toFixed(2), '0.60', 'by command: 1 - P(none) crosses at once');
    assert.equal(await byIntent.push(chunk(1), { wakeWord: 'alexa' }), undefined);
    assert.equal(byIntent.last?.score.toFixed(2), '0.45');
    share = 0.8;
    const event = await byIntent.push(chunk(2));
    assert.deepEqual(event && { intent: event.intent, score: event.score.toFixed(2) }, { intent: 'two', score: '0.60' });
    assert.throws(() => new CommandStage({ name: 'c', model, scoreBy: 'best' as never }), (e: unknown) => e instanceof EdgeInferError && /scoreBy must be 'command' or 'intent'/.test(e.message));
  });

  it('confirmChunks: fires only when the same intent holds the threshold in that many consecutive chunks', async () => {
    // A model whose probabilities the test sets per call: none, 'set', 'cancel'.
    let probs = [1, 0, 0];
    const model = {
      inputs: [{ name: 'x', dims: [1, 2, 96] }],
      outputs: [{ name: JSON.stringify({ 1: 'set', 2: 'cancel' }) }],
      infer: async () => ({ [JSON.stringify({ 1: 'set', 2: 'cancel' })]: { type: 'float32' as const, data: Float32Array.from(probs), dims: [1, 3] } }),
    };
    const stage = new CommandStage({ name: 'c', model, windowChunks: 10, scoreBy: 'intent', confirmChunks: 2 });
    assert.equal(stage.confirmChunks, 2);
    await stage.push(chunk(0));
    probs = [0.4, 0.05, 0.55]; // 'cancel' for one chunk, said mid-command
    assert.equal(await stage.push(chunk(1), { wakeWord: 'alexa' }), undefined);
    probs = [0.2, 0.6, 0.2]; // another intent: the count starts again
    assert.equal(await stage.push(chunk(2)), undefined);
    assert.equal(await stage.push(chunk(3), { voiceActive: false }), undefined, 'a chunk the model skips breaks the run');
    assert.equal(await stage.push(chunk(4)), undefined);
    probs = [0.5, 0.45, 0.05]; // below the threshold: the count starts again
    assert.equal(await stage.push(chunk(5)), undefined);
    probs = [0.1, 0.85, 0.05];
    assert.equal(await stage.push(chunk(6)), undefined);
    const event = await stage.push(chunk(7));
    assert.deepEqual(event && { intent: event.intent, score: event.score.toFixed(2), timeMs: event.timeMs }, { intent: 'set', score: '0.85', timeMs: 640 });
    // A new wake word starts a fresh count; the default (1) fires at the first crossing.
    assert.equal(await stage.push(chunk(8), { wakeWord: 'alexa' }), undefined);
    const first = new CommandStage({ name: 'c', model, windowChunks: 10, scoreBy: 'intent' });
    await first.push(chunk(0));
    assert.equal((await first.push(chunk(1), { wakeWord: 'alexa' }))?.intent, 'set');
    for (const bad of [0, 1.5, 11]) {
      assert.throws(() => new CommandStage({ name: 'c', model, windowChunks: 10, confirmChunks: bad }), (e: unknown) => e instanceof EdgeInferError && /confirmChunks must be an integer from 1 to windowChunks \(10\)/.test(e.message));
    }
  });

  it('refuses a model whose input length it cannot know', () => {
    const model = { inputs: [{ name: 'x' }], outputs: [{ name: 'y' }], infer: async () => ({}) };
    assert.throws(() => new CommandStage({ name: 'c', model }), (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && /frames must be a positive integer/.test(e.message));
  });
});

describe('EnergyVoiceActivity', () => {
  it('opens on a loud chunk and stays open for the hangover', () => {
    const vad = new EnergyVoiceActivity({ thresholdDbfs: -40, hangoverChunks: 2 });
    const quiet = new Float32Array(1280).fill(50); // -56 dBFS
    const loud = new Float32Array(1280).fill(3000); // -21 dBFS
    assert.equal(vad.push(quiet).active, false);
    const voiced = vad.push(loud);
    assert.ok(voiced.voiced && voiced.active && Math.abs(voiced.levelDbfs - 20 * Math.log10(3000 / 32768)) < 1e-9);
    assert.deepEqual([vad.push(quiet).active, vad.push(quiet).active, vad.push(quiet).active], [true, true, false]);
    assert.equal(vad.push(new Float32Array(1280)).levelDbfs, -Infinity);
  });
});

describe('readWav16', () => {
  it('reads the samples of a WAV held in a Node Buffer that is a view into a larger ArrayBuffer', () => {
    const samples = Int16Array.from({ length: 100 }, (_, i) => (i * 331) % 30000 - 15000);
    const header = Buffer.alloc(44);
    header.write('RIFF', 0);
    header.writeUInt32LE(36 + samples.byteLength, 4);
    header.write('WAVEfmt ', 8);
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20); // PCM
    header.writeUInt16LE(1, 22); // mono
    header.writeUInt32LE(16000, 24);
    header.writeUInt32LE(32000, 28);
    header.writeUInt16LE(2, 32);
    header.writeUInt16LE(16, 34);
    header.write('data', 36);
    header.writeUInt32LE(samples.byteLength, 40);
    // A Buffer at a non-zero offset of a bigger ArrayBuffer (as Node's pool and fs reads can give).
    const backing = new ArrayBuffer(8 + 44 + samples.byteLength);
    const file = Buffer.from(backing, 8, 44 + samples.byteLength);
    header.copy(file, 0);
    Buffer.from(samples.buffer).copy(file, 44);
    const read = readWav16(file);
    assert.equal(read.sampleRate, 16000);
    assert.deepEqual(Array.from(read.samples), Array.from(samples));
  });
});
