/**
 * The gRPC service under load on loopback (issue 12's acceptance: 32 concurrent streams for 20 s, no errors,
 * no lost responses, p99 reported). The server (lib/serve: the openWakeWord pipeline with the demo's distilled
 * command stage behind InferStream, the embedding model behind Infer) and grpc-js clients run in this process.
 *   "InferStream": `streams` concurrent streams, each streaming the speech fixtures one after another in 80 ms
 *      chunks paced in real time (32 live microphones), until `duration` has passed (a clip under way is
 *      finished). Counted per clip stream: frames sent vs frames the server reports processed (chunk_stats),
 *      the status, and whether its wake-word / command events are the ones the clip gives alone (streamed once
 *      before the load). Latency: from sending the chunk an event is about to receiving the event (p50 / p99),
 *      and from the half-close to the final chunk_stats (how far behind real time the server ran).
 *   "Infer": `callers` closed-loop unary callers on the embedding model (batched by the server's scheduler),
 *      every response compared with Engine.infer's output for its input.
 * Every request is counted as sent and answered; a call with no answer when the drain time is up is "lost".
 * baseline: the 200 ms per-chunk budget of the voice pipeline (speedup = 200 ms / our p99).
 *   npx tsx bench/grpc-load.bench.ts [--json] [--duration S (20)] [--streams N (32)] [--callers N (32)]
 *                                    [--mode both|streams|unary] [--precision float32|int8]
 */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { createServer, Engine, readWav16, type InferenceServer } from '../lib';
import { protoLoaderOptions, protoPath } from '../lib/serve';
import { bundledModel, DEMO_COMMAND_MODEL, DEMO_WAKE_WORDS, demoClipsIn } from '../lib/wakeword/demo';
import { fetchModels, speechDir } from '../test/helpers/repo';

const BUDGET_US = 200_000;
const chunkBytes = 1280 * 2;

export interface GrpcLoadOptions {
  duration: number;
  streams: number;
  callers: number;
  mode: 'both' | 'streams' | 'unary';
  precision: 'float32' | 'int8';
  /** Extra time after `duration` for calls in flight to finish before they count as lost. */
  drainSeconds?: number;
  log?: (message: string) => void;
}

export interface GrpcLoadLine {
  bench: 'grpc-load';
  case: string;
  ours: number;
  baseline: string;
  baseline_value: number;
  unit: string;
  speedup: number;
  concurrency: number;
  seconds: number;
  sent: number;
  answered: number;
  errors: number;
  lost: number;
  wrong: number;
  p50_us: number;
  p99_us: number;
  rate: number;
  [key: string]: unknown;
}

interface StreamEventMessage {
  event: 'wake_word' | 'command' | 'chunk_stats';
  wake_word?: { name: string; score: number; time_ms: number };
  command?: { command: string; intent: string; score: number; time_ms: number; wake_word: string };
  chunk_stats?: { chunks: number; p50_ms: number; p99_ms: number };
}
type InferenceClient = grpc.Client & {
  InferStream(): grpc.ClientDuplexStream<unknown, StreamEventMessage>;
  Infer(request: unknown, callback: (error: grpc.ServiceError | null, response: { outputs: { name: string; shape: number[]; raw_data: Buffer }[] }) => void): grpc.ClientUnaryCall;
};

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface ClipStreamResult {
  framesSent: number;
  framesAnswered: number;
  events: string[];
  eventLatencyUs: number[];
  finishUs: number;
  serverP50Ms: number;
  serverP99Ms: number;
  status: grpc.status | 'lost';
  details: string;
}

/** One clip through one InferStream call, in real-time 80 ms chunks (or unpaced). Never rejects. */
async function streamClip(client: InferenceClient, pcm: Buffer, paced: boolean, drainMs: number): Promise<ClipStreamResult> {
  const result: ClipStreamResult = { framesSent: 0, framesAnswered: 0, events: [], eventLatencyUs: [], finishUs: NaN, serverP50Ms: NaN, serverP99Ms: NaN, status: 'lost', details: '' };
  const call = client.InferStream();
  const sentAt: number[] = [];
  let halfClosed = 0;
  call.on('data', (m: StreamEventMessage) => {
    const now = performance.now();
    const latency = (timeMs: number) => {
      const sent = sentAt[Math.round(timeMs / 80) - 1];
      if (sent !== undefined) result.eventLatencyUs.push((now - sent) * 1000);
    };
    if (m.event === 'wake_word' && m.wake_word) {
      result.events.push(`wake_word:${m.wake_word.name}`);
      latency(m.wake_word.time_ms);
    } else if (m.event === 'command' && m.command) {
      result.events.push(`command:${m.command.intent}`);
      latency(m.command.time_ms);
    } else if (m.event === 'chunk_stats' && m.chunk_stats) {
      result.framesAnswered = m.chunk_stats.chunks;
      result.serverP50Ms = m.chunk_stats.p50_ms;
      result.serverP99Ms = m.chunk_stats.p99_ms;
      result.finishUs = (now - halfClosed) * 1000;
    }
  });
  const done = new Promise<void>((resolve) => {
    call.on('status', (s: grpc.StatusObject) => {
      result.status = s.code;
      result.details = s.details;
      resolve();
    });
  });
  call.on('error', () => undefined); // the status event carries it
  const started = performance.now();
  try {
    for (let offset = 0, index = 0; offset + chunkBytes <= pcm.length; offset += chunkBytes, index++) {
      if (paced) {
        const wait = started + (index + 1) * 80 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sentAt[index] = performance.now();
      result.framesSent++;
      if (!call.write({ pcm: pcm.subarray(offset, offset + chunkBytes), sample_rate: 16000 })) await once(call, 'drain');
    }
    halfClosed = performance.now();
    call.end();
  } catch (error) {
    result.details = String(error);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)))]);
  clearTimeout(timer);
  if (result.status === 'lost') call.cancel();
  return result;
}

async function streamsPhase(clients: InferenceClient[], options: GrpcLoadOptions, log: (m: string) => void): Promise<GrpcLoadLine> {
  const clips = demoClipsIn(speechDir).map((file) => {
    const { samples } = readWav16(new Uint8Array(fs.readFileSync(file)));
    return { name: path.basename(file), pcm: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength) };
  });
  // What each clip gives alone (and a warm-up): the events every stream of it must give under load.
  const expected = new Map<string, string>();
  for (const clip of clips) {
    const alone = await streamClip(clients[0], clip.pcm, false, 30_000);
    if (alone.status !== grpc.status.OK) throw new Error(`${clip.name} alone: ${alone.details}`);
    expected.set(clip.name, alone.events.join(','));
  }
  log(`InferStream: ${options.streams} streams in real time for ${options.duration} s; expected events: ${[...expected].map(([c, e]) => `${c} [${e}]`).join(' ')}`);
  const results: (ClipStreamResult & { clip: string })[] = [];
  const end = performance.now() + options.duration * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.streams }, async (_, id) => {
      // Staggered starts (within one 80 ms chunk) and clips, as independent microphones would be.
      await new Promise((resolve) => setTimeout(resolve, (id * 80) / options.streams));
      for (let k = id; performance.now() < end; k++) {
        const clip = clips[k % clips.length];
        results.push({ ...(await streamClip(clients[id % clients.length], clip.pcm, true, (options.drainSeconds ?? 30) * 1000)), clip: clip.name });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const ok = results.filter((r) => r.status === grpc.status.OK);
  const errors = results.filter((r) => r.status !== grpc.status.OK && r.status !== 'lost');
  const lost = results.filter((r) => r.status === 'lost').length;
  const wrong = ok.filter((r) => r.events.join(',') !== expected.get(r.clip));
  const framesSent = results.reduce((n, r) => n + r.framesSent, 0);
  const framesAnswered = results.reduce((n, r) => n + r.framesAnswered, 0);
  const latencies = results.flatMap((r) => r.eventLatencyUs).sort((a, b) => a - b);
  const finish = ok.map((r) => r.finishUs).sort((a, b) => a - b);
  const serverP99 = ok.map((r) => r.serverP99Ms).sort((a, b) => a - b);
  for (const r of errors.slice(0, 5)) log(`  error: ${r.clip}: ${grpc.status[r.status as grpc.status]} ${r.details}`);
  for (const r of wrong.slice(0, 5)) log(`  wrong events: ${r.clip}: [${r.events.join(',')}] vs [${expected.get(r.clip)}]`);
  const p99 = quantile(latencies, 0.99);
  return {
    bench: 'grpc-load',
    case: `InferStream,streams=${options.streams},real-time load`,
    ours: p99,
    baseline: '200 ms per-chunk budget',
    baseline_value: BUDGET_US,
    unit: 'us',
    speedup: BUDGET_US / p99,
    concurrency: options.streams,
    seconds,
    sent: results.length,
    answered: ok.length,
    errors: errors.length,
    lost,
    wrong: wrong.length,
    p50_us: quantile(latencies, 0.5),
    p99_us: p99,
    rate: framesAnswered / seconds,
    latency_is: 'chunk sent -> its wake-word / command event received',
    frames_sent: framesSent,
    frames_answered: framesAnswered,
    frames_lost: framesSent - framesAnswered,
    events: latencies.length,
    finish_p50_us: quantile(finish, 0.5),
    finish_p99_us: quantile(finish, 0.99),
    server_frame_p99_ms_median: quantile(serverP99, 0.5),
    server_frame_p99_ms_max: serverP99[serverP99.length - 1] ?? NaN,
    precision: options.precision,
  };
}

async function unaryPhase(clients: InferenceClient[], embeddingPath: string, options: GrpcLoadOptions, log: (m: string) => void): Promise<GrpcLoadLine> {
  // 8 distinct inputs; their expected outputs from Engine.infer on a separate engine (batch 1).
  const reference = await Engine.load(embeddingPath, { threads: 1, precision: options.precision });
  let state = 12345;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 4 - 2;
  const inputs = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const data = Float32Array.from({ length: 76 * 32 }, next);
      const out = await reference.infer({ input_1: { type: 'float32', data, dims: [1, 76, 32, 1] } });
      const expected = Object.values(out)[0].data as Float32Array;
      return { request: { inputs: [{ name: 'input_1', dtype: 'DATA_TYPE_FLOAT32', shape: [1, 76, 32, 1], raw_data: Buffer.from(data.buffer) }] }, expected, scale: Math.max(...expected.map(Math.abs)) };
    }),
  );
  await reference.dispose();
  const latencies: number[] = [];
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let wrong = 0;
  const errorKinds = new Map<string, number>();
  const outstanding = new Set<grpc.ClientUnaryCall>();
  const end = performance.now() + options.duration * 1000;
  const started = performance.now();
  const call = (client: InferenceClient, k: number) =>
    new Promise<void>((resolve) => {
      const input = inputs[k % inputs.length];
      const t0 = performance.now();
      sent++;
      const c = client.Infer(input.request, (error, response) => {
        outstanding.delete(c);
        if (error) {
          errors++;
          errorKinds.set(`${grpc.status[error.code]}: ${error.details}`, (errorKinds.get(`${grpc.status[error.code]}: ${error.details}`) ?? 0) + 1);
        } else {
          answered++;
          latencies.push((performance.now() - t0) * 1000);
          const raw = response.outputs[0]?.raw_data;
          const got = raw === undefined ? new Float32Array(0) : new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
          // Batched with other callers' requests: the same values up to float rounding.
          if (got.length !== input.expected.length || got.some((v, i) => !(Math.abs(v - input.expected[i]) <= 1e-4 * input.scale + 1e-6))) wrong++;
        }
        resolve();
      });
      outstanding.add(c);
    });
  const drain = new Promise<void>((resolve) => setTimeout(resolve, (options.duration + (options.drainSeconds ?? 30)) * 1000).unref());
  await Promise.race([
    Promise.all(
      Array.from({ length: options.callers }, async (_, id) => {
        for (let k = id; performance.now() < end; k += options.callers) await call(clients[id % clients.length], k);
      }),
    ),
    drain,
  ]);
  const seconds = (performance.now() - started) / 1000;
  const lost = outstanding.size;
  for (const c of outstanding) c.cancel();
  for (const [kind, n] of errorKinds) log(`  Infer error x${n}: ${kind}`);
  latencies.sort((a, b) => a - b);
  const p99 = quantile(latencies, 0.99);
  return {
    bench: 'grpc-load',
    case: `Infer,callers=${options.callers},embedding_model load`,
    ours: p99,
    baseline: '200 ms per-chunk budget',
    baseline_value: BUDGET_US,
    unit: 'us',
    speedup: BUDGET_US / p99,
    concurrency: options.callers,
    seconds,
    sent,
    answered,
    errors,
    lost,
    wrong,
    p50_us: quantile(latencies, 0.5),
    p99_us: p99,
    rate: answered / seconds,
    latency_is: 'unary call, client side',
    precision: options.precision,
  };
}

/** Starts the server, runs the phases, shuts the server down; the result lines. */
export async function runGrpcLoad(options: GrpcLoadOptions): Promise<GrpcLoadLine[]> {
  const log = options.log ?? ((m: string) => void process.stderr.write(`[bench] ${m}\n`));
  const models = fetchModels();
  const server: InferenceServer = createServer({
    model: models['embedding_model.onnx'],
    engineOptions: { threads: 1, precision: options.precision },
    scheduler: { maxBatchSize: 32, maxQueueDelayMicros: 1000 },
    wakeWord: {
      melspectrogram: models['melspectrogram.onnx'],
      embedding: models['embedding_model.onnx'],
      heads: Object.fromEntries(Object.entries(DEMO_WAKE_WORDS).map(([name, file]) => [name, models[file]])),
      command: { model: bundledModel(DEMO_COMMAND_MODEL.file), name: DEMO_COMMAND_MODEL.name, scoreBy: DEMO_COMMAND_MODEL.scoreBy },
      engineOptions: { threads: 1, precision: options.precision },
    },
    port: 0,
  });
  await server.start();
  // The machine's load while measuring: on a shared machine it explains much of a run's latency.
  const load = () => Number(os.loadavg()[0].toFixed(2));
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, protoLoaderOptions));
  const Inference = ((pkg.edgeinfer as grpc.GrpcObject).v1 as grpc.GrpcObject).Inference as grpc.ServiceClientConstructor;
  // Four channels (HTTP/2 connections), streams and callers spread over them, as separate clients would be.
  const clients = Array.from({ length: 4 }, () => new Inference(server.address!, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as InferenceClient);
  const lines: GrpcLoadLine[] = [];
  try {
    const measured = async (phase: () => Promise<GrpcLoadLine>) => {
      const before = load();
      const line = await phase();
      lines.push({ ...line, loadavg_1m_before: before, loadavg_1m_after: load(), cpus: os.availableParallelism?.() ?? os.cpus().length });
    };
    if (options.mode !== 'unary') await measured(() => streamsPhase(clients, options, log));
    if (options.mode !== 'streams') await measured(() => unaryPhase(clients, models['embedding_model.onnx'], options, log));
  } finally {
    for (const c of clients) c.close();
    await server.shutdown({ graceMs: 5000 });
  }
  return lines;
}

function parse(argv: string[]): GrpcLoadOptions & { json: boolean } {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const positive = (flag: string, fallback: number) => {
    const raw = value(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} must be a positive number, got ${raw}`);
    return n;
  };
  const mode = (value('--mode') ?? 'both') as GrpcLoadOptions['mode'];
  if (!['both', 'streams', 'unary'].includes(mode)) throw new Error(`--mode must be both, streams or unary, got ${mode}`);
  const precision = (value('--precision') ?? 'float32') as GrpcLoadOptions['precision'];
  if (!['float32', 'int8'].includes(precision)) throw new Error(`--precision must be float32 or int8, got ${precision}`);
  return { json: argv.includes('--json'), duration: positive('--duration', 20), streams: Math.round(positive('--streams', 32)), callers: Math.round(positive('--callers', 32)), mode, precision };
}

if (require.main === module) {
  // --seconds (the other benches' per-case time, passed by scripts/bench.js) does not apply: --duration does.
  const options = parse(process.argv.slice(2));
  runGrpcLoad(options).then(
    (lines) => {
      for (const line of lines) {
        if (options.json) {
          process.stdout.write(`${JSON.stringify(line)}\n`);
          continue;
        }
        const ms = (us: number) => (us / 1000).toFixed(2);
        process.stdout.write(
          `${line.case}: ${line.concurrency} concurrent for ${line.seconds.toFixed(1)} s: ${line.answered}/${line.sent} answered, ${line.errors} errors, ${line.lost} lost, ${line.wrong} wrong; ` +
            `p50 ${ms(line.p50_us)} ms, p99 ${ms(line.p99_us)} ms (${line.latency_is}); ${line.rate.toFixed(0)}/s${line.frames_sent === undefined ? '' : `; frames ${line.frames_answered}/${line.frames_sent}`}; ` +
            `load average ${line.loadavg_1m_before} -> ${line.loadavg_1m_after} on ${line.cpus} CPUs\n`,
        );
      }
      const failed = lines.some((l) => l.errors + l.lost + l.wrong > 0 || (typeof l.frames_lost === 'number' && l.frames_lost > 0));
      process.exit(failed ? 1 : 0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
