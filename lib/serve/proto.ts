/**
 * Where the service definition (proto/edgeinfer.proto) is and how it is loaded: @grpc/proto-loader options
 * the server's handlers are written against (snake_case fields, int64 as numbers, enums as names), which JS
 * clients can use too. Type-only imports of grpc: this module is part of the light `require('edgeinfer')` path.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Options } from '@grpc/proto-loader';

/**
 * proto/ sits at the package root: two levels above lib/serve/ and dist/serve/, three above a compiled copy
 * of lib/ in a subfolder (the arm64 test run's build-js/lib/serve/). The nearest one going up.
 */
function findProto(): string {
  for (let dir = path.join(__dirname, '..', '..'), up = 0; up < 3; dir = path.dirname(dir), up++) {
    const file = path.join(dir, 'proto', 'edgeinfer.proto');
    if (fs.existsSync(file)) return file;
  }
  return path.join(__dirname, '..', '..', 'proto', 'edgeinfer.proto'); // the load then says it is missing
}

export const protoPath = findProto();

export const protoLoaderOptions: Options = {
  keepCase: true,
  // int64 shapes and times as numbers: the codec bounds every dim, so none comes near 2^53.
  longs: Number,
  enums: String,
  // Absent fields read as their proto3 defaults (empty bytes, 0, ''), so handlers see one form of "missing".
  defaults: true,
  oneofs: true,
};

/** The fully qualified service name (for the health service and metrics). */
export const inferenceServiceName = 'edgeinfer.v1.Inference';
