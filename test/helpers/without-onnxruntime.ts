/**
 * Preloaded (mocha --require) where onnxruntime-node cannot be loaded at all: its arm64 build crashes the
 * process at load under some qemu-user builds (scripts/test-arm64.js probes it first). Resolving the module
 * then fails like an uninstalled optional peer dependency, so the engine's 'auto' backend behaves as on a
 * device without onnxruntime-node instead of taking the emulated process down.
 */
import Module from 'node:module';

const moduleInternals = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request: string, ...rest: unknown[]): string {
  if (request === 'onnxruntime-node' || request.startsWith('onnxruntime-node/')) {
    const error = new Error(`Cannot find module '${request}' (hidden: it crashes at load under this emulator)`) as Error & { code: string };
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
