/**
 * The model zoo (../shared/zoo): the manifest's models filled with seeded weights by scripts/fill-zoo.js
 * (cached in .cache/zoo/), and feeds made from the manifest's input specs (symbolic dims fixed, int64 ids
 * drawn from each input's valid range).
 */
import fs from 'node:fs';
import path from 'node:path';

import type { Tensor } from '../../lib';
import { rng } from './random';
import { repoRoot } from './repo';

export interface ZooInput {
  name: string;
  dtype: 'float32' | 'int64';
  shape: (number | string)[];
  range?: [number, number];
}

export interface ZooModel {
  name: string;
  file: string;
  bytes: number;
  inputs: ZooInput[];
  exporter: string;
  note: string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const filler = require(path.join(repoRoot, 'scripts', 'fill-zoo.js')) as { zooDir: string; zooModels(): ZooModel[]; fillModel(name: string): string };

export const zooAvailable = fs.existsSync(path.join(filler.zooDir, 'manifest.json'));

export function zooModels(): ZooModel[] {
  return filler.zooModels();
}

/** The complete model's path (filled once, then cached). */
export function zooModelPath(name: string): string {
  return filler.fillModel(name);
}

/** Values for symbolic dims: batch 1, sequences 16 (the zoo's models take any length up to their maximum). */
const symbolic: Record<string, number> = { batch: 1, sequence: 16 };

export function zooFeeds(model: ZooModel, seed = 1, dims: Record<string, number> = {}): Record<string, Tensor> {
  const next = rng(seed);
  const feeds: Record<string, Tensor> = {};
  for (const input of model.inputs) {
    const shape = input.shape.map((d) => (typeof d === 'number' ? d : (dims[d] ?? symbolic[d] ?? 1)));
    const count = shape.reduce((a, b) => a * b, 1);
    if (input.dtype === 'int64') {
      const [low, high] = input.range ?? [0, 2];
      feeds[input.name] = { type: 'int64', data: BigInt64Array.from({ length: count }, () => BigInt(low + Math.floor(next() * (high - low)))), dims: shape };
    } else {
      feeds[input.name] = { type: 'float32', data: Float32Array.from({ length: count }, () => next() * 2 - 1), dims: shape };
    }
  }
  return feeds;
}
