/**
 * `edgeinfer serve <model>`: the gRPC inference server (lib/serve) until SIGINT / SIGTERM, then a graceful
 * shutdown (calls in flight finish within --grace-ms). Prints the bound address (one JSON line with --json,
 * for scripts that start it on port 0).
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Command } from 'commander';

import type { EngineOptions } from '../engine';
import { EdgeInferError } from '../errors';
import { createServer, type ServerOptions } from '../serve';
import { isCommandScoreBy } from '../wakeword/command-stage';

interface ServeCliOptions {
  host: string;
  port: string;
  metricsPort?: string;
  adminTokenFile?: string;
  wakeWordDir?: string;
  wakeWords?: string;
  commandModel?: string;
  commandName: string;
  commandThreshold?: string;
  commandScoreBy?: string;
  commandConfirmChunks?: string;
  backend: string;
  maxBatch?: string;
  maxQueue?: string;
  maxMessageBytes?: string;
  graceMs: string;
  json?: boolean;
}

const bad = (message: string) => new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message);

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`${flag} must be an integer in [${min}, ${max}], got '${value}'`);
  return n;
}

/** The admin token: from --admin-token-file, else EDGEINFER_ADMIN_TOKEN (never a flag: argv is visible in ps). */
function adminToken(file: string | undefined): string | undefined {
  if (file === undefined) return process.env.EDGEINFER_ADMIN_TOKEN?.trim() || undefined;
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw bad(`cannot read --admin-token-file ${file}: ${(error as Error).message}`);
  }
}

/**
 * openWakeWord models in a folder: melspectrogram.onnx, embedding_model.onnx, and every other .onnx as a head
 * named by its file without the version suffix (hey_jarvis_v0.1.onnx -> hey_jarvis); `only` picks heads.
 */
export function wakeWordModels(dir: string, only?: string[], skip: string[] = []): NonNullable<ServerOptions['wakeWord']> {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((file) => file.endsWith('.onnx'));
  } catch (error) {
    throw bad(`cannot read --wake-word-dir ${dir}: ${(error as Error).message}`);
  }
  for (const needed of ['melspectrogram.onnx', 'embedding_model.onnx']) {
    if (!files.includes(needed)) throw bad(`--wake-word-dir ${dir} has no ${needed} (openWakeWord's feature models are needed beside the heads)`);
  }
  const heads: Record<string, string> = {};
  for (const file of files) {
    if (file === 'melspectrogram.onnx' || file === 'embedding_model.onnx') continue;
    if (skip.some((other) => path.resolve(other) === path.resolve(dir, file))) continue;  // the command model is no head
    const name = file.replace(/\.onnx$/, '').replace(/_v\d+(\.\d+)*$/, '');
    if (only === undefined || only.includes(name)) heads[name] = path.join(dir, file);
  }
  const missing = only?.filter((name) => heads[name] === undefined) ?? [];
  if (missing.length > 0) throw bad(`--wake-words: no model for ${missing.join(', ')} in ${dir}`);
  if (Object.keys(heads).length === 0) throw bad(`--wake-word-dir ${dir} has no wake-word head model (e.g. hey_jarvis_v0.1.onnx)`);
  return { melspectrogram: path.join(dir, 'melspectrogram.onnx'), embedding: path.join(dir, 'embedding_model.onnx'), heads };
}

/** --wake-word-dir's models and, with --command-model, the command stage (that file is then not a head). */
function wakeWordWithCommand(options: ServeCliOptions): NonNullable<ServerOptions['wakeWord']> {
  const only = options.wakeWords?.split(',').map((name) => name.trim()).filter(Boolean);
  const models = wakeWordModels(options.wakeWordDir!, only, options.commandModel === undefined ? [] : [options.commandModel]);
  if (options.commandModel === undefined) {
    if (options.commandThreshold !== undefined) throw bad('--command-threshold needs --command-model');
    if (options.commandScoreBy !== undefined) throw bad('--command-score-by needs --command-model');
    if (options.commandConfirmChunks !== undefined) throw bad('--command-confirm-chunks needs --command-model');
    return models;
  }
  if (!fs.existsSync(options.commandModel)) throw bad(`--command-model ${options.commandModel} does not exist`);
  const threshold = options.commandThreshold === undefined ? undefined : Number(options.commandThreshold);
  if (threshold !== undefined && !(threshold > 0 && threshold <= 1)) throw bad(`--command-threshold must be in (0, 1], got '${options.commandThreshold}'`);
  const scoreBy = options.commandScoreBy;
  if (scoreBy !== undefined && !isCommandScoreBy(scoreBy)) throw bad(`--command-score-by must be command or intent, got '${scoreBy}'`);
  const confirmChunks = options.commandConfirmChunks === undefined ? undefined : Number(options.commandConfirmChunks);
  if (confirmChunks !== undefined && !(Number.isInteger(confirmChunks) && confirmChunks >= 1)) throw bad(`--command-confirm-chunks must be a positive integer, got '${options.commandConfirmChunks}'`);
  return {
    ...models,
    command: { model: options.commandModel, name: options.commandName, ...(threshold === undefined ? {} : { threshold }), ...(scoreBy === undefined ? {} : { scoreBy }), ...(confirmChunks === undefined ? {} : { confirmChunks }) },
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over gRPC (Infer, InferStream, ModelInfo, SwapModel, health) until SIGINT / SIGTERM')
    .argument('<model>', 'ONNX model file Infer serves')
    .option('--host <host>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--port <port>', 'port to bind (0: any free port)', '50051')
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics')
    .option('--admin-token-file <file>', 'file holding the SwapModel token (default: $EDGEINFER_ADMIN_TOKEN; none: SwapModel disabled)')
    .option('--wake-word-dir <dir>', 'openWakeWord models for InferStream (melspectrogram.onnx, embedding_model.onnx, heads)')
    .option('--wake-words <names>', 'comma-separated heads to load from --wake-word-dir (default: all)')
    .option('--command-model <file>', 'a command stage after each wake word: [1, frames, 96] embeddings in, class probabilities out (openWakeWord timer head, or a distilled command model)')
    .option('--command-name <name>', 'the command stage name in CommandEvents', 'command')
    .option('--command-threshold <p>', 'score at which a command fires (default 0.5)')
    .option('--command-score-by <what>', "the score: 'command' = 1 - P(no command) (default), 'intent' = the likeliest intent's probability (a distilled command model)")
    .option('--command-confirm-chunks <n>', 'consecutive 80 ms chunks one intent must hold the threshold before it fires (default 1)')
    .option('--backend <backend>', 'auto, native or onnxruntime', 'auto')
    .option('--max-batch <n>', 'largest batch the scheduler forms (default 8)')
    .option('--max-queue <n>', 'queued requests beyond which Infer answers RESOURCE_EXHAUSTED (default 1024)')
    .option('--max-message-bytes <n>', 'largest request message; larger ones get RESOURCE_EXHAUSTED (default 4194304)')
    .option('--grace-ms <ms>', 'on SIGINT / SIGTERM, how long calls in flight may take to finish', '10000')
    .option('--json', 'print the bound address as one JSON line')
    .action(async (model: string, options: ServeCliOptions) => {
      if (!['auto', 'native', 'onnxruntime'].includes(options.backend)) throw bad(`--backend must be auto, native or onnxruntime, got '${options.backend}'`);
      if (!fs.existsSync(model)) throw bad(`cannot read ${model}: no such file`);
      const graceMs = integer(options.graceMs, '--grace-ms', 0, 3_600_000);
      const server = createServer({
        model,
        engineOptions: { backend: options.backend as EngineOptions['backend'] },
        scheduler: {
          ...(options.maxBatch === undefined ? {} : { maxBatchSize: integer(options.maxBatch, '--max-batch', 1, 65536) }),
          ...(options.maxQueue === undefined ? {} : { maxQueueSize: integer(options.maxQueue, '--max-queue', 1, 2 ** 31) }),
        },
        ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: integer(options.maxMessageBytes, '--max-message-bytes', 1024, 2 ** 31 - 1) }),
        host: options.host,
        port: integer(options.port, '--port', 0, 65535),
        ...(options.metricsPort === undefined ? {} : { metricsPort: integer(options.metricsPort, '--metrics-port', 0, 65535) }),
        adminToken: adminToken(options.adminTokenFile),
        ...(options.wakeWordDir === undefined ? {} : { wakeWord: wakeWordWithCommand(options) }),
      });
      const bound = await server.start();
      const info = server.engine!.info();
      const address = server.address!;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ address, port: bound.port, metricsPort: bound.metricsPort, modelVersion: info.modelVersion, backend: info.backend })}\n`);
      } else {
        process.stdout.write(`edgeinfer serve: listening on ${address} (model ${info.modelVersion} on ${info.backend})\n`);
        if (bound.metricsPort !== undefined) process.stdout.write(`metrics on http://127.0.0.1:${bound.metricsPort}/metrics\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.stderr.write(`edgeinfer serve: ${signal}, shutting down (calls in flight get ${graceMs} ms; ${signal} again to exit now)\n`);
          // A second signal exits at once (what a user pressing Ctrl-C twice means).
          process.once(signal, () => process.exit(130));
          server.shutdown({ graceMs }).then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
