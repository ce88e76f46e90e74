/**
 * Prometheus metrics of one server, in its own prom-client Registry (never the global one: two servers in a
 * process, or the host application's own metrics, must not collide). Served as text on GET /metrics by a
 * small HTTP server bound to loopback unless told otherwise.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsSources {
  /** Requests waiting in the Infer scheduler's queue. */
  queueDepth(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'code'>;
  readonly #latency: Histogram<'method'>;
  readonly #modelInfo: Gauge<'model_version' | 'backend'>;
  readonly #streams: Gauge;
  readonly #wakeWords: Counter<'name'>;
  readonly #commands: Counter<'command' | 'intent'>;
  readonly #chunkSeconds: Histogram;
  #http: http.Server | undefined;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.#requests = new Counter({ name: 'edgeinfer_requests_total', help: 'RPCs answered, by method and gRPC status code', labelNames: ['method', 'code'], registers });
    this.#latency = new Histogram({
      name: 'edgeinfer_request_duration_seconds',
      help: 'Time from receiving an RPC to sending its status (InferStream: per call)',
      labelNames: ['method'],
      // 100 µs .. 10 s: wake-word heads answer in well under a millisecond, large models in seconds.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    new Gauge({
      name: 'edgeinfer_queue_depth',
      help: 'Infer requests waiting in the batch scheduler',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    this.#modelInfo = new Gauge({ name: 'edgeinfer_model_info', help: 'The model serving Infer (value 1)', labelNames: ['model_version', 'backend'], registers });
    this.#streams = new Gauge({ name: 'edgeinfer_streams_active', help: 'InferStream calls open', registers });
    this.#wakeWords = new Counter({ name: 'edgeinfer_wake_words_total', help: 'Wake-word events sent, by head', labelNames: ['name'], registers });
    this.#commands = new Counter({ name: 'edgeinfer_commands_total', help: 'Command events sent, by command stage and intent', labelNames: ['command', 'intent'], registers });
    this.#chunkSeconds = new Histogram({
      name: 'edgeinfer_stream_chunk_seconds',
      help: 'Processing time of one 80 ms audio frame in InferStream (budget 0.2 s)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
      registers,
    });
    // Process RSS, CPU, event-loop lag, heap: what a fleet's dashboards need beside the request counters.
    collectDefaultMetrics({ register: this.registry });
  }

  request(method: string, code: string, seconds: number): void {
    this.#requests.inc({ method, code });
    this.#latency.observe({ method }, seconds);
  }

  model(modelVersion: string, backend: string): void {
    this.#modelInfo.reset();
    this.#modelInfo.set({ model_version: modelVersion, backend }, 1);
  }

  streamOpened(): void {
    this.#streams.inc();
  }

  streamClosed(): void {
    this.#streams.dec();
  }

  wakeWord(name: string): void {
    this.#wakeWords.inc({ name });
  }

  command(command: string, intent: string): void {
    this.#commands.inc({ command, intent });
  }

  chunk(seconds: number): void {
    this.#chunkSeconds.observe(seconds);
  }

  /** Serves GET /metrics on host:port (0: ephemeral); resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n'),
      );
    });
    this.#http = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    const server = this.#http;
    this.#http = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
