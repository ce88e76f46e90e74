/**
 * The gRPC inference service (proto/edgeinfer.proto): createServer() and what it takes and returns.
 * grpc-js, proto-loader, grpc-health-check and prom-client load on the first createServer() call, not with
 * `require('edgeinfer')` (~100 ms an application that never serves should not pay).
 */
import type { ServerOptions } from './config';
import type { InferenceServer } from './server';

export type { InferenceServer, ServerAddress, ShutdownOptions } from './server';
export type { CommandServeOptions, ServerOptions, WakeWordServeOptions } from './config';
export { protoPath, protoLoaderOptions, inferenceServiceName } from './proto';

/** A server for one model (see ServerOptions); call start() to bind and serve. Bad options throw EDGEINFER_INVALID_ARGUMENT. */
export function createServer(options: ServerOptions): InferenceServer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./server') as typeof import('./server')).createServer(options);
}
