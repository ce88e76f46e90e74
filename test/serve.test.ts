// The gRPC inference server (lib/serve) in-process on loopback, driven by a real grpc-js client built from
// proto/edgeinfer.proto: unary Infer against Engine.infer, health, ModelInfo, InferStream on the speech clips,
// SwapModel (auth, verification, under load), bad requests and their status codes, deadlines, metrics, 500
// malformed requests (RSS), a short load run, and shutdown with calls in flight.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';

import { createServer, EdgeInferError, Engine, readWav16, type InferenceServer } from '../lib';
import { protoLoaderOptions, protoPath } from '../lib/serve';
import { childNodeFlags, emulated } from './helpers/node-child';
import { fetchModels, speechDir } from './helpers/repo';

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall;
type InferenceClient = grpc.Client & {
  Infer: UnaryMethod;
  ModelInfo: UnaryMethod;
  SwapModel: UnaryMethod;
  InferStream(): grpc.ClientDuplexStream<unknown, StreamEvent>;
};
type HealthClient = grpc.Client & {
  check: UnaryMethod;
  watch(request: unknown): grpc.ClientReadableStream<{ status: string }>;
};

interface WireTensor {
  name: string;
  dtype: string;
  shape: number[];
  raw_data: Buffer;
}
interface InferResponse {
  outputs: WireTensor[];
  model_version: string;
  backend: string;
}
interface StreamEvent {
  event: 'wake_word' | 'command' | 'chunk_stats';
  wake_word?: { name: string; score: number; time_ms: number };
  command?: { command: string; intent: string; score: number; time_ms: number; wake_word: string };
  chunk_stats?: { chunks: number; p50_ms: number; p99_ms: number };
}

const definition = protoLoader.loadSync(protoPath, protoLoaderOptions);
const Inference = ((grpc.loadPackageDefinition(definition).edgeinfer as grpc.GrpcObject).v1 as grpc.GrpcObject).Inference as grpc.ServiceClientConstructor;
const Health = grpc.makeGenericClientConstructor(healthService as grpc.ServiceDefinition, 'Health');

const adminToken = 'test-admin-token-0123456789';
const cliEntry = path.join(__dirname, '..', 'lib', 'cli', __filename.endsWith('.ts') ? 'main.ts' : 'main.js');
// As test/helpers/node-child.ts starts children (tsx, and the emulator of the arm64 run).
const nodeCommand = [...(process.env.EDGEINFER_NODE_LAUNCHER ?? '').split(' ').filter(Boolean), process.execPath, ...childNodeFlags()];
const bearer = () => {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${adminToken}`);
  return metadata;
};

/** A unary call as a promise; rejects with the grpc-js ServiceError (code, details). */
function unary<T>(client: InferenceClient | HealthClient, method: string, request: unknown, options: { metadata?: grpc.Metadata; deadlineMs?: number } = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
    (client as unknown as Record<string, UnaryMethod>)[method](request, options.metadata ?? new grpc.Metadata(), callOptions, (error, response) => (error ? reject(error) : resolve(response as T)));
  });
}

/** The status a call ended with: OK, or its error's code and details. */
async function statusOf(call: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await call;
    return { code: grpc.status.OK, details: 'OK' };
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.equal(typeof e.code, 'number', `not a gRPC status: ${String(error)}`);
    return { code: e.code, details: e.details };
  }
}

async function expectStatus(call: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<string> {
  const got = await statusOf(call);
  assert.equal(grpc.status[got.code], grpc.status[code], `expected ${grpc.status[code]}, got ${grpc.status[got.code]}: ${got.details}`);
  if (details !== undefined) assert.match(got.details, details);
  return got.details;
}

function f32(name: string, shape: number[], values: Float32Array): WireTensor {
  return { name, dtype: 'DATA_TYPE_FLOAT32', shape, raw_data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
}

/** Deterministic pseudo-random floats (no test depends on Math.random's sequence). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomFloats(count: number, seed: number): Float32Array {
  const next = seeded(seed);
  return Float32Array.from({ length: count }, () => next() * 2 - 1);
}

/** Streams a clip's PCM in chunks of the sizes `size` gives (odd byte counts included); events and the final status. */
async function streamClip(client: InferenceClient, samples: Int16Array, size: () => number, sampleRate = 16000) {
  const call = client.InferStream();
  const events: StreamEvent[] = [];
  call.on('data', (event: StreamEvent) => events.push(event));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const ended = new Promise<void>((resolve) => {
    call.on('end', resolve);
    call.on('error', () => resolve());
  });
  const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  for (let offset = 0; offset < bytes.length; ) {
    const n = Math.min(size(), bytes.length - offset);
    if (!call.write({ pcm: bytes.subarray(offset, offset + n), sample_rate: sampleRate })) await once(call, 'drain');
    offset += n;
  }
  call.end();
  const [final] = await Promise.all([status, ended]);
  return { events, status: final };
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

describe('gRPC server (edgeinfer serve)', function () {
  this.timeout(60000);
  const models = fetchModels();
  const headPath = models['hey_jarvis_v0.1.onnx'];
  const headBytes = new Uint8Array(fs.readFileSync(headPath));
  let server: InferenceServer;
  let client: InferenceClient;
  let health: HealthClient;
  let reference: Engine;
  let metricsPort: number;
  const input = randomFloats(16 * 96, 7);

  const infer = (inputs: WireTensor[], options: { deadlineMs?: number } = {}) => unary<InferResponse>(client, 'Infer', { inputs }, options);

  before(async () => {
    reference = await Engine.load(headPath);
    server = createServer({
      model: headPath,
      wakeWord: {
        melspectrogram: models['melspectrogram.onnx'],
        embedding: models['embedding_model.onnx'],
        heads: { hey_jarvis: headPath },
        // The command stage after a wake word: openWakeWord's timer head (a distilled command model replaces it here).
        command: { model: models['timer_v0.1.onnx'], name: 'timer' },
      },
      adminToken,
      port: 0,
      metricsPort: 0,
      maxMessageBytes: 2 * 1024 * 1024,
      onInternalError: () => undefined,
    });
    const bound = await server.start();
    assert.ok(bound.port > 0);
    metricsPort = bound.metricsPort!;
    assert.equal(server.address, `127.0.0.1:${bound.port}`);
    client = new Inference(server.address!, grpc.credentials.createInsecure()) as unknown as InferenceClient;
    health = new Health(server.address!, grpc.credentials.createInsecure()) as unknown as HealthClient;
  });

  after(async () => {
    client?.close();
    health?.close();
    await server?.shutdown({ graceMs: 1000 });
    await reference?.dispose();
  });

  it('refuses bad server options with EDGEINFER_INVALID_ARGUMENT', () => {
    const invalid = (options: unknown) =>
      assert.throws(
        () => createServer(options as Parameters<typeof createServer>[0]),
        (error: unknown) => error instanceof EdgeInferError && error.code === 'EDGEINFER_INVALID_ARGUMENT',
      );
    invalid(undefined);
    invalid({});
    invalid({ model: headPath, engine: reference });
    invalid({ model: headPath, port: 70000 });
    invalid({ model: headPath, adminToken: 'short' });
    invalid({ model: headPath, host: 'http://0.0.0.0' });
    invalid({ model: headPath, maxMessageBytes: 10 });
    invalid({ model: headPath, wakeWord: { melspectrogram: 'a', embedding: 'b', heads: {} } });
    invalid({ model: headPath, prot: 1 });
  });

  it('Infer answers what Engine.infer computes, with the model version and backend', async () => {
    const expected = await reference.infer({ 'x.1': { type: 'float32', data: input, dims: [1, 16, 96] } });
    const response = await infer([f32('x.1', [1, 16, 96], input)]);
    assert.equal(response.outputs.length, 1);
    const [out] = response.outputs;
    const name = Object.keys(expected)[0];
    assert.equal(out.name, name);
    assert.equal(out.dtype, 'DATA_TYPE_FLOAT32');
    assert.deepEqual(out.shape, [...expected[name].dims]);
    const got = new Float32Array(new Uint8Array(out.raw_data).buffer);
    assert.deepEqual(got, expected[name].data);
    assert.equal(response.model_version, reference.info().modelVersion);
    assert.equal(response.backend, reference.info().backend);
  });

  it('health reports SERVING for the server and the Inference service', async () => {
    for (const service of ['', 'edgeinfer.v1.Inference']) {
      const response = await unary<{ status: string }>(health, 'check', { service });
      assert.equal(response.status, 'SERVING');
    }
  });

  it('ModelInfo describes the model, its batching and the wake words', async () => {
    const info = await unary<Record<string, unknown>>(client, 'ModelInfo', {});
    assert.equal(info.model_version, reference.info().modelVersion);
    assert.equal(info.backend, 'native');
    assert.deepEqual(info.inputs, [{ name: 'x.1', dtype: 'DATA_TYPE_FLOAT32', shape: [1, 16, 96], dim_names: ['', '', ''] }]);
    assert.deepEqual(info.wake_words, ['hey_jarvis']);
    assert.equal(info.batching, false); // the head's batch dim is fixed at 1
  });

  it('InferStream: hey_jarvis.wav in uneven chunks fires hey_jarvis; negative.wav fires nothing', async () => {
    const clip = (name: string) => readWav16(fs.readFileSync(path.join(speechDir, name))).samples;
    const jarvis = clip('hey_jarvis.wav');
    const negative = clip('negative.wav');
    const sizes = seeded(3);
    // Both streams at once: they share the wake-word models' schedulers.
    const [positive, quiet] = await Promise.all([streamClip(client, jarvis, () => 1 + Math.floor(sizes() * 5000)), streamClip(client, negative, () => 2560 * 3 + 1)]);
    for (const result of [positive, quiet]) assert.equal(result.status.code, grpc.status.OK, result.status.details);

    const fired = positive.events.filter((e) => e.event === 'wake_word');
    assert.ok(fired.length >= 1, `no wake_word event: ${JSON.stringify(positive.events)}`);
    assert.equal(fired[0].wake_word!.name, 'hey_jarvis');
    assert.ok(fired[0].wake_word!.score >= 0.5);
    assert.ok(fired[0].wake_word!.time_ms > 0 && fired[0].wake_word!.time_ms <= (jarvis.length / 16000) * 1000 + 80);
    assert.deepEqual(quiet.events.filter((e) => e.event === 'wake_word'), []);

    for (const [result, samples] of [[positive, jarvis], [quiet, negative]] as const) {
      const stats = result.events.at(-1)!;
      assert.equal(stats.event, 'chunk_stats');
      assert.equal(stats.chunk_stats!.chunks, Math.floor(samples.length / 1280));
      // The 200 ms budget is a real-time figure: under the emulator (arm64 run) only that it was measured.
      assert.ok(stats.chunk_stats!.p99_ms > 0 && (emulated || stats.chunk_stats!.p99_ms < 200));
    }
    console.log(`      InferStream per 80 ms frame: p50 ${positive.events.at(-1)!.chunk_stats!.p50_ms.toFixed(2)} ms, p99 ${positive.events.at(-1)!.chunk_stats!.p99_ms.toFixed(2)} ms`);
  });

  it('InferStream command stage: a wake word then a command event with its intent; none without a wake word or a command', async function () {
    // Four whole clips through melspectrogram, embedding, heads and the command model: minutes under qemu. The
    // x64 run covers this TypeScript; the arm64 run streams the wake-word spec above.
    if (emulated) this.skip();
    const clip = (name: string) => readWav16(fs.readFileSync(path.join(speechDir, name))).samples;
    const timer = clip('commands/hey_jarvis_timer_us.wav');
    // Without a command: the wake word and another sentence; a command without a wake word; no speech.
    const negatives = ['commands/hey_jarvis_weather_gb.wav', 'timer.wav', 'negative.wav'];
    const [positive, ...rest] = await Promise.all([streamClip(client, timer, () => 2560), ...negatives.map((name) => streamClip(client, clip(name), () => 4000))]);
    for (const result of [positive, ...rest]) assert.equal(result.status.code, grpc.status.OK, result.status.details);

    const kinds = positive.events.filter((e) => e.event !== 'chunk_stats');
    assert.deepEqual(kinds.map((e) => e.event), ['wake_word', 'command'], JSON.stringify(positive.events));
    const [wake, command] = kinds;
    assert.equal(wake.wake_word!.name, 'hey_jarvis');
    // "hey jarvis, set a timer for five minutes" (scripts/make-speech-fixtures.sh).
    assert.equal(command.command!.intent, '5_minute_timer');
    assert.equal(command.command!.command, 'timer');
    assert.equal(command.command!.wake_word, 'hey_jarvis');
    assert.ok(command.command!.score >= 0.5, String(command.command!.score));
    assert.ok(command.command!.time_ms > wake.wake_word!.time_ms && command.command!.time_ms <= (timer.length / 16000) * 1000 + 80, JSON.stringify(kinds));

    rest.forEach((result, i) => assert.deepEqual(result.events.filter((e) => e.event === 'command'), [], `${negatives[i]}: ${JSON.stringify(result.events)}`));
    // The weather sentence did open a window (its wake word fired): the stage ran and stayed below threshold.
    assert.deepEqual(rest[0].events.filter((e) => e.event === 'wake_word').map((e) => e.wake_word!.name), ['hey_jarvis']);
    const info = await unary<{ command: string }>(client, 'ModelInfo', {});
    assert.equal(info.command, 'timer');
    const metrics = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.match(metrics.body, /edgeinfer_commands_total\{command="timer",intent="5_minute_timer"\} [1-9]/);
  });

  it('refuses a bad command stage configuration with EDGEINFER_INVALID_ARGUMENT', () => {
    const base = { melspectrogram: 'a.onnx', embedding: 'b.onnx', heads: { h: 'c.onnx' } };
    const refused = (command: unknown, pattern: RegExp) =>
      assert.throws(() => createServer({ model: headPath, wakeWord: { ...base, command } as never }), (e: unknown) => e instanceof EdgeInferError && e.code === 'EDGEINFER_INVALID_ARGUMENT' && pattern.test(e.message));
    refused({}, /wakeWord.command.model must be a model path/);
    refused({ model: 'x.onnx', threshold: 2 }, /wakeWord.command.threshold must be in \(0, 1\]/);
    refused({ model: 'x.onnx', name: 'a b' }, /wakeWord.command.name/);
    refused({ model: 'x.onnx', labels: [1] }, /labels must be an array of intent names/);
    refused({ model: 'x.onnx', window: 3 }, /'window' is not an option of wakeWord.command/);
    refused({ model: 'x.onnx', confirmChunks: 0 }, /wakeWord.command.confirmChunks/);
    refused({ model: 'x.onnx', scoreBy: 'best' }, /wakeWord.command.scoreBy must be 'command' or 'intent'/);
  });

  it('InferStream refuses audio at another sample rate', async () => {
    const result = await streamClip(client, new Int16Array(4000), () => 2000, 8000);
    assert.equal(result.status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(result.status.details, /sample_rate is 8000/);
  });

  it('bad requests get INVALID_ARGUMENT (or RESOURCE_EXHAUSTED when oversized) with a message naming the problem', async () => {
    const ok = f32('x.1', [1, 16, 96], input);
    await expectStatus(infer([]), grpc.status.INVALID_ARGUMENT, /no inputs/);
    await expectStatus(infer([{ ...ok, name: 'nope' }]), grpc.status.INVALID_ARGUMENT, /'nope' is not an input/);
    await expectStatus(infer([ok, { ...ok, name: 'extra' }]), grpc.status.INVALID_ARGUMENT, /'extra' is not an input/);
    await expectStatus(infer([{ ...ok, name: '' }]), grpc.status.INVALID_ARGUMENT, /inputs\[0\] has no name/);
    await expectStatus(infer([ok, ok]), grpc.status.INVALID_ARGUMENT, /'x.1' is given twice/);
    await expectStatus(infer([{ ...ok, dtype: 'DATA_TYPE_INT32' }]), grpc.status.INVALID_ARGUMENT, /'x.1' must be of type float32, got int32/);
    await expectStatus(infer([{ ...ok, dtype: 'DATA_TYPE_UNSPECIFIED' }]), grpc.status.INVALID_ARGUMENT, /'x.1' has no dtype/);
    await expectStatus(infer([{ ...ok, raw_data: ok.raw_data.subarray(0, 6000) }]), grpc.status.INVALID_ARGUMENT, /shape \[1, 16, 96\], 1536 float32 elements = 6144 bytes, but raw_data holds 6000 bytes/);
    await expectStatus(infer([{ ...ok, shape: [] }]), grpc.status.INVALID_ARGUMENT, /'x.1' has no shape .* raw_data holds 6144 bytes/);
    await expectStatus(infer([{ ...ok, shape: [1, 16, -96] }]), grpc.status.INVALID_ARGUMENT, /shape\[2\] is -96/);
    await expectStatus(infer([f32('x.1', [1, 32, 48], input)]), grpc.status.INVALID_ARGUMENT, /'x.1' has dims \[1,32,48\], the model expects \[1,16,96\]/);
    await expectStatus(infer([{ ...ok, dtype: 'DATA_TYPE_BOOL', raw_data: Buffer.alloc(1536, 2) }]), grpc.status.INVALID_ARGUMENT, /bool but byte 0 of raw_data is 2/);
    const nan = input.slice();
    nan[100] = NaN;
    await expectStatus(infer([f32('x.1', [1, 16, 96], nan)]), grpc.status.INVALID_ARGUMENT, /'x.1' contains NaN at index 100/);
    await expectStatus(infer([f32('x.1', [1, 16, 96], Float32Array.from(input, (v, i) => (i === 5 ? Infinity : v)))]), grpc.status.INVALID_ARGUMENT, /contains Infinity at index 5/);
    const big = new Float32Array(700_000); // 2.8 MB, over the 2 MiB limit
    await expectStatus(infer([f32('x.1', [1, 16, 96], big)]), grpc.status.RESOURCE_EXHAUSTED);
    // The server is fine after all that.
    assert.equal((await infer([ok])).outputs.length, 1);
  });

  it('a request answered before it was fully sent (oversized) gets its stream reset, not left half-open', async () => {
    // grpc-js neither resets such a stream on the server nor on the client: each refused oversized message
    // would hold its stream (and memory on both sides) until the connection closes. A raw HTTP/2 client that
    // sends a length prefix over the limit and keeps its side open must see the status, then RST_STREAM(NO_ERROR).
    const session = http2.connect(`http://${server.address}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/edgeinfer.v1.Inference/Infer', 'content-type': 'application/grpc', te: 'trailers' });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(3_000_000, 1);
      stream.write(prefix);
      stream.write(Buffer.alloc(16384));
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      assert.equal(headers['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
      const closed = await Promise.race([once(stream, 'close').then(() => true), delay(2000).then(() => false)]);
      assert.ok(closed, 'the stream is still open 2 s after the status');
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.destroy();
    }
    assert.equal((await infer([f32('x.1', [1, 16, 96], input)])).outputs.length, 1);
  });

  it('a tiny deadline ends the call with DEADLINE_EXCEEDED', async () => {
    await expectStatus(infer([f32('x.1', [1, 16, 96], input)], { deadlineMs: 0 }), grpc.status.DEADLINE_EXCEEDED);
    await expectStatus(infer([f32('x.1', [1, 16, 96], input)], { deadlineMs: 1 }), grpc.status.DEADLINE_EXCEEDED);
  });

  it('SwapModel: no token UNAUTHENTICATED, wrong token PERMISSION_DENIED, wrong sha256 FAILED_PRECONDITION', async () => {
    await expectStatus(unary(client, 'SwapModel', { model: headBytes }), grpc.status.UNAUTHENTICATED, /admin token/);
    const wrong = new grpc.Metadata();
    wrong.set('authorization', 'Bearer not-the-token-at-all-123');
    await expectStatus(unary(client, 'SwapModel', { model: headBytes }, { metadata: wrong }), grpc.status.PERMISSION_DENIED, /not valid/);
    await expectStatus(unary(client, 'SwapModel', { model: headBytes, token: 'also-not-the-token-1234' }), grpc.status.PERMISSION_DENIED);
    await expectStatus(unary(client, 'SwapModel', { model: headBytes, sha256: '0'.repeat(64) }, { metadata: bearer() }), grpc.status.FAILED_PRECONDITION, /sha256/);
    await expectStatus(unary(client, 'SwapModel', {}, { metadata: bearer() }), grpc.status.INVALID_ARGUMENT, /needs the model/);
    await expectStatus(unary(client, 'SwapModel', { model: Buffer.from('not an onnx model') }, { metadata: bearer() }), grpc.status.INVALID_ARGUMENT);
    await expectStatus(unary(client, 'SwapModel', { model: headBytes, signature: Buffer.alloc(64) }, { metadata: bearer() }), grpc.status.INVALID_ARGUMENT, /no public key/);
    // Nothing changed.
    assert.equal((await infer([f32('x.1', [1, 16, 96], input)])).model_version, reference.info().modelVersion);
  });

  it('SwapModel with the token swaps while concurrent Infer loops keep running without an error', async () => {
    const before = reference.info().modelVersion;
    const seen = new Map<string, number>();
    const errors: unknown[] = [];
    let swapped = false;
    let calls = 0;
    // Bounded loops: each stops 20 calls after the swap, or after 3000 calls whatever happens.
    const loop = async () => {
      let after = 0;
      for (let i = 0; i < 3000 && after < 20; i++) {
        try {
          const response = await infer([f32('x.1', [1, 16, 96], input)]);
          seen.set(response.model_version, (seen.get(response.model_version) ?? 0) + 1);
          if (swapped) after++;
        } catch (error) {
          errors.push(error);
          if (swapped) after++;
        }
        calls++;
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    while (calls < 40) await delay(1);
    const sha256 = (await import('node:crypto')).createHash('sha256').update(headBytes).digest('hex');
    const result = await unary<Record<string, unknown>>(client, 'SwapModel', { model: headBytes, sha256, version: 'v2' }, { metadata: bearer() });
    swapped = true;
    await Promise.all(loops);
    assert.equal(result.from_version, before);
    assert.equal(result.to_version, 'v2');
    assert.equal(result.sha256, sha256);
    assert.deepEqual(errors, []);
    assert.ok((seen.get(before) ?? 0) >= 40, `calls on the old version: ${seen.get(before)}`);
    // Each loop's last 20 answers came after the swap, less the one call it had in flight at the switch.
    assert.ok((seen.get('v2') ?? 0) >= 4 * 19, `calls on the new version: ${seen.get('v2')}`);
    assert.equal((await infer([f32('x.1', [1, 16, 96], input)])).model_version, 'v2');
    // By path, with the token in the request instead of metadata.
    const byPath = await unary<Record<string, unknown>>(client, 'SwapModel', { path: headPath, token: adminToken, version: 'v3' });
    assert.equal(byPath.to_version, 'v3');
    assert.equal((await unary<Record<string, unknown>>(client, 'ModelInfo', {})).model_version, 'v3');
  });

  it('`edgeinfer serve --wake-word-dir D --command-model F`: F is the command stage (ModelInfo names it), not a wake-word head; bad flags are exit 1', async function () {
    const dir = path.dirname(models['timer_v0.1.onnx']);
    const serve = (...flags: string[]) =>
      spawn(nodeCommand[0], [...nodeCommand.slice(1), cliEntry, 'serve', headPath, '--port', '0', '--json', '--grace-ms', '500', '--wake-word-dir', dir, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = serve('--command-model', models['timer_v0.1.onnx'], '--command-name', 'timer');
    const exited = once(child, 'exit');
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const bound = JSON.parse(line.toString().split('\n')[0]) as { address: string };
      const remote = new Inference(bound.address, grpc.credentials.createInsecure()) as unknown as InferenceClient;
      const info = await unary<Record<string, unknown>>(remote, 'ModelInfo', {});
      assert.equal(info.command, 'timer');
      assert.ok(!(info.wake_words as string[]).includes('timer'), `timer is no wake word: ${String(info.wake_words)}`);
      remote.close();
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    for (const [flags, message] of [
      [['--command-threshold', '0.7'], /--command-threshold needs --command-model/],
      [['--command-score-by', 'intent'], /--command-score-by needs --command-model/],
      [['--command-confirm-chunks', '2'], /--command-confirm-chunks needs --command-model/],
      [['--command-model', path.join(dir, 'missing.onnx')], /does not exist/],
    ] as const) {
      const bad = serve(...flags);
      let stderr = '';
      bad.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(bad, 'exit')) as [number | null];
      assert.equal(code, 1, stderr);
      assert.match(stderr, message);
    }
  });

  it('500 malformed requests of mixed kinds to `edgeinfer serve`: each the right status, still healthy, RSS bounded', async function () {
    // The server runs as the CLI in its own process, so its RSS (read from its own metrics endpoint) is the
    // server's alone: the grpc-js client keeps the unsent part of each refused oversized message until its
    // channel closes (~2x the message, measured), which would swamp the number in one process.
    const child = spawn(nodeCommand[0], [...nodeCommand.slice(1), cliEntry, 'serve', headPath, '--port', '0', '--metrics-port', '0', '--max-message-bytes', String(2 * 1024 * 1024), '--json', '--grace-ms', '2000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const bound = JSON.parse(line.toString().split('\n')[0]) as { address: string; metricsPort: number; modelVersion: string };
      assert.equal(bound.modelVersion, reference.info().modelVersion);
      const remote = new Inference(bound.address, grpc.credentials.createInsecure()) as unknown as InferenceClient;
      const remoteHealth = new Health(bound.address, grpc.credentials.createInsecure()) as unknown as HealthClient;
      const rss = async () => Number(/^process_resident_memory_bytes (\d+)/m.exec((await httpGet(`http://127.0.0.1:${bound.metricsPort}/metrics`)).body)![1]);

      const ok = f32('x.1', [1, 16, 96], input);
      const nan = input.slice();
      nan[7] = NaN;
      const big = Buffer.alloc(2_200_000);
      const kinds: [unknown, grpc.status][] = [
        [{ inputs: [{ ...ok, name: 'nope' }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, dtype: 'DATA_TYPE_INT64', raw_data: Buffer.alloc(1536 * 8) }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, raw_data: ok.raw_data.subarray(1) }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, shape: [] }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [f32('x.1', [1, 16, 96], nan)] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, shape: [1, 16, 2 ** 40] }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, dtype: 'DATA_TYPE_FLOAT16', raw_data: ok.raw_data.subarray(0, 3072) }] }, grpc.status.INVALID_ARGUMENT],
        [{ inputs: [{ ...ok, raw_data: big }] }, grpc.status.RESOURCE_EXHAUSTED],
      ];
      const run = async (count: number) => {
        const wrong: string[] = [];
        let next = 0;
        // 8 callers at once, each taking the next request kind in turn (the oversized one every 9th).
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let i = next++; i < count; i = next++) {
              const [request, code] = kinds[i % kinds.length];
              const got = await statusOf(unary(remote, 'Infer', request));
              if (got.code !== code) wrong.push(`#${i}: expected ${grpc.status[code]}, got ${grpc.status[got.code]} (${got.details})`);
            }
          }),
        );
        return wrong;
      };
      // Warm up until the V8 heap and malloc arenas have grown to their working size (RSS within 2 MB over a
      // round of 500, at most 4000 requests; measured: flat from ~2000 on). A leak grows every round, so it
      // still shows in the measured round after.
      // Under the emulator: one round of 100 (statuses checked; RSS is qemu's, so only printed).
      const size = emulated ? 100 : 500;
      let warmup = 0;
      for (let last = await rss(), round = 0; round < (emulated ? 1 : 8); round++) {
        assert.deepEqual(await run(size), []);
        warmup += size;
        const now = await rss();
        if (Math.abs(now - last) < 2 * 1024 * 1024) break;
        last = now;
      }
      const before = await rss();
      assert.deepEqual(await run(size), []);
      const growth = ((await rss()) - before) / 1024 / 1024;
      console.log(`      server RSS growth over ${size} malformed requests (after ${warmup} to warm up): ${growth.toFixed(2)} MB`);
      if (!emulated) assert.ok(growth <= 5, `RSS grew ${growth.toFixed(2)} MB`);
      assert.equal((await unary<{ status: string }>(remoteHealth, 'check', { service: '' })).status, 'SERVING');
      assert.equal((await unary<InferResponse>(remote, 'Infer', { inputs: [ok] })).outputs.length, 1);
      remote.close();
      remoteHealth.close();
      // SIGTERM: a graceful shutdown, exit code 0.
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stderr, /SIGTERM, shutting down/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a short load run: concurrent callers, no errors, no lost responses (p99 printed)', async () => {
    const seconds = Number(process.env.EDGEINFER_SERVE_LOAD_S ?? 2);
    const callers = 32;
    const latencies: number[] = [];
    const errors: string[] = [];
    let sent = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < end) {
          sent++;
          const start = performance.now();
          try {
            const response = await infer([f32('x.1', [1, 16, 96], input)]);
            if (response.outputs.length !== 1) errors.push('no output');
            latencies.push(performance.now() - start);
          } catch (error) {
            errors.push((error as grpc.ServiceError).details ?? String(error));
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    console.log(
      `      load: ${callers} callers x ${seconds} s: ${latencies.length} calls (${(latencies.length / seconds).toFixed(0)}/s), p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, errors ${errors.length}`,
    );
    assert.deepEqual(errors.slice(0, 3), []);
    assert.equal(latencies.length, sent);
  });

  it('serves Prometheus metrics on the loopback metrics port', async () => {
    const { status, body } = await httpGet(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(status, 200);
    const counter = (labels: string) => Number(new RegExp(`^edgeinfer_requests_total\\{${labels}\\} (\\d+)`, 'm').exec(body)?.[1] ?? 0);
    assert.ok(counter('method="Infer",code="OK"') > 100);
    assert.ok(counter('method="Infer",code="INVALID_ARGUMENT"') >= 14);
    assert.ok(counter('method="Infer",code="DEADLINE_EXCEEDED"') >= 1);
    assert.ok(counter('method="SwapModel",code="UNAUTHENTICATED"') >= 1);
    assert.ok(counter('method="InferStream",code="OK"') >= 2);
    assert.match(body, /^edgeinfer_model_info\{model_version="v3",backend="native"\} 1$/m);
    assert.match(body, /^edgeinfer_queue_depth 0$/m);
    assert.match(body, /^edgeinfer_wake_words_total\{name="hey_jarvis"\} [1-9]/m);
    assert.match(body, /^edgeinfer_request_duration_seconds_bucket\{le="0.001",method="Infer"\} \d+/m);
    assert.match(body, /^process_resident_memory_bytes \d+/m);
    assert.equal((await httpGet(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  });

  describe('a slow model (embedding, batches of 32): deadlines, no wake-word models, shutdown', () => {
    const embeddingPath = models['embedding_model.onnx'];
    let engine: Engine;
    let slow: InferenceServer;
    let slowClient: InferenceClient;
    const batch = (rows: number) => f32('input_1', [rows, 76, 32, 1], randomFloats(rows * 76 * 32, rows));
    // A direct run that holds the engine (one run at a time) for longer than the calls below take to arrive:
    // 256 rows (~115 ms on x64), 32 under the emulator (already seconds there).
    const blockerRows = emulated ? 32 : 256;
    const blocker = (seed: number) => engine.infer({ input_1: { type: 'float32', data: randomFloats(blockerRows * 76 * 32, seed), dims: [blockerRows, 76, 32, 1] } });

    before(async () => {
      engine = await Engine.load(embeddingPath);
      slow = createServer({ engine, scheduler: { maxBatchSize: 32 }, onInternalError: () => undefined });
      await slow.start();
      slowClient = new Inference(slow.address!, grpc.credentials.createInsecure()) as unknown as InferenceClient;
    });
    after(async () => {
      slowClient?.close();
      await slow?.shutdown({ graceMs: 0 });
      await engine?.dispose();
    });

    it('InferStream without wake-word models is UNIMPLEMENTED; SwapModel without an admin token PERMISSION_DENIED', async () => {
      const result = await streamClip(slowClient, new Int16Array(1280), () => 2560);
      assert.equal(result.status.code, grpc.status.UNIMPLEMENTED);
      assert.match(result.status.details, /wake-word models/);
      await expectStatus(unary(slowClient, 'SwapModel', { path: embeddingPath, token: adminToken }), grpc.status.PERMISSION_DENIED, /disabled/);
    });

    it('the deadline bounds the time in the queue: late requests get DEADLINE_EXCEEDED and are never run', async () => {
      await unary(slowClient, 'Infer', { inputs: [batch(32)] }); // plan built
      const runsBefore = engine.stats().runs;
      // The blocker holds the engine, then 16 requests of ~10 ms of work each against a 150 ms deadline: most
      // expire queued, whatever the machine's speed.
      const blocking = blocker(98);
      const statuses = await Promise.all(Array.from({ length: 16 }, () => statusOf(unary(slowClient, 'Infer', { inputs: [batch(32)] }, { deadlineMs: 150 }))));
      await blocking;
      const codes = statuses.map((s) => grpc.status[s.code]);
      assert.ok(codes.filter((c) => c === 'DEADLINE_EXCEEDED').length >= 4, codes.join(' '));
      assert.deepEqual(codes.filter((c) => c !== 'OK' && c !== 'DEADLINE_EXCEEDED'), []);
      await delay(100);
      const ran = engine.stats().runs - runsBefore - 1; // less the blocker
      assert.ok(ran < 16, `${ran} of 16 requests ran: expired ones should have left the queue`);
      assert.equal(engine.stats().engine.queued, 0);
    });

    it('shutdown: calls in flight complete, health watchers see NOT_SERVING, new calls are refused', async function () {
      if (emulated) this.timeout(900000); // six batches of 32 embedding windows under qemu on a busy machine
      const watcher = new Health(slow.address!, grpc.credentials.createInsecure()) as unknown as HealthClient;
      const watch = watcher.watch({ service: '' });
      const statuses: string[] = [];
      watch.on('data', (message: { status: string }) => statuses.push(message.status));
      watch.on('error', () => undefined);
      while (statuses.length === 0) await delay(5);
      assert.deepEqual(statuses, ['SERVING']);

      // The blocker holds the engine while the six calls arrive: the first one's batch waits behind it, five wait
      // in the scheduler. Waiting for the batches alone raced their arrival: a batch of 32 rows (~10 ms on two
      // threads) could finish before the next call was decoded, and the queue never reached five.
      const blocking = blocker(99);
      const inflight = Array.from({ length: 6 }, () => unary<InferResponse>(slowClient, 'Infer', { inputs: [batch(32)] }));
      const queued = async () => ((await slow.metrics.registry.getSingleMetric('edgeinfer_queue_depth')!.get()).values[0]?.value ?? 0);
      for (let waited = 0; (await queued()) < 5 && waited < 10000; waited += 5) await delay(5);
      assert.equal(await queued(), 5, 'five calls queued behind the batch waiting for the engine');
      // Six batches of 32 embedding windows take seconds under the emulator: a grace that lets them finish there.
      const stopped = slow.shutdown({ graceMs: emulated ? 600000 : 10000 });
      while (!statuses.includes('NOT_SERVING')) await delay(5);
      watch.cancel(); // a watcher that got the news goes away; the shutdown does not wait for it any more
      const results = await Promise.all(inflight.map(statusOf));
      await blocking;
      assert.deepEqual(
        results.map((r) => grpc.status[r.code]),
        Array(6).fill('OK'),
      );
      await expectStatus(unary(slowClient, 'Infer', { inputs: [batch(1)] }, { deadlineMs: 2000 }), grpc.status.UNAVAILABLE);
      await stopped;
      watcher.close();
      assert.equal(engine.disposed, false); // an engine given to the server stays the caller's
    });
  });

  it('shutdown ends an open InferStream with UNAVAILABLE after the audio it received', async () => {
    const call = client.InferStream();
    const events: StreamEvent[] = [];
    call.on('data', (event: StreamEvent) => events.push(event));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.write({ pcm: Buffer.alloc(1280 * 2 * 3) });
    await delay(100);
    await server.shutdown({ graceMs: 5000 });
    const final = await status;
    assert.equal(final.code, grpc.status.UNAVAILABLE);
    assert.match(final.details, /shutting down/);
    assert.equal(events.at(-1)?.chunk_stats?.chunks, 3);
    await expectStatus(infer([f32('x.1', [1, 16, 96], input)], { deadlineMs: 2000 }), grpc.status.UNAVAILABLE);
  });
});
