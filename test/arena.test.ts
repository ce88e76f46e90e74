import assert from 'node:assert/strict';
import path from 'node:path';

import { Arena, EdgeInferError } from '../lib';
import { spawnNode } from './helpers/node-child';

describe('Arena', () => {
  it('hands out typed views into native memory and tracks stats', () => {
    const arena = new Arena({ capacity: 1 << 20, chunkSize: 4096 });
    const f = arena.alloc('float32', 100);
    const i8 = arena.alloc('int8', 3);
    const big = arena.alloc('int32', 5000);
    assert.ok(f instanceof Float32Array && f.length === 100);
    assert.ok(i8 instanceof Int8Array && big instanceof Int32Array);
    f.fill(1.5);
    big.fill(-1);
    assert.equal(f[99], 1.5);
    const stats = arena.stats();
    assert.equal(stats.allocations, 3);
    assert.equal(stats.used, 4096 + 20032, "the big block starts a new chunk; the tail of the first counts as used");
    assert.ok(stats.reserved >= stats.used && stats.chunks >= 2);
    assert.equal(stats.peak, stats.used);
    assert.equal(stats.zeroCopy, true);
    arena.dispose();
  });

  it('reuses memory after reset and scope, without growing', () => {
    const arena = new Arena({ capacity: 1 << 20, chunkSize: 1 << 16 });
    const first = arena.alloc('uint8', 256);
    first.fill(7);
    const mark = arena.mark();
    for (let i = 0; i < 1000; i++) {
      arena.scope((scoped) => {
        scoped.alloc('float32', 1000).fill(i);
        scoped.alloc('uint8', 10);
      });
    }
    assert.equal(arena.mark(), mark);
    assert.equal(arena.stats().chunks, 1);
    assert.ok(first.every((v) => v === 7), 'data before the mark survives');
    arena.reset();
    const again = arena.alloc('uint8', 256);
    assert.equal(again[0], 7, 'a reset hands the same memory out again');
  });

  it('throws EDGEINFER_OUT_OF_MEMORY past its capacity and stays usable', () => {
    const arena = new Arena({ capacity: 8192, chunkSize: 4096 });
    arena.alloc('float32', 2048);
    assert.throws(() => arena.alloc('uint8', 1), (e: EdgeInferError) => e.code === 'EDGEINFER_OUT_OF_MEMORY');
    arena.reset();
    assert.equal(arena.alloc('uint8', 4096).length, 4096);
    assert.equal(arena.alloc('float32', 1024).length, 1024);
    assert.equal(arena.stats().reserved, 8192);
  });

  it('rejects bad arguments and use after dispose', () => {
    assert.throws(() => new Arena({ capacity: -1 }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    assert.throws(() => new Arena({ capacity: 100, initialSize: 200 }), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    const arena = new Arena();
    assert.throws(() => arena.alloc('float16' as never, 4), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    assert.throws(() => arena.alloc('float32', 0), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    assert.throws(() => arena.alloc('float32', 1.5), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    assert.throws(() => arena.reset(arena.mark() + 64), (e: EdgeInferError) => e.code === 'EDGEINFER_INVALID_ARGUMENT');
    const view = arena.alloc('float64', 16);
    arena.dispose();
    assert.equal(arena.disposed, true);
    for (const call of [() => arena.alloc('float32', 1), () => arena.stats(), () => arena.mark(), () => arena.reset()]) {
      assert.throws(call, (e: EdgeInferError) => e.code === 'EDGEINFER_DISPOSED');
    }
    view.fill(3); // the view keeps the memory alive after dispose
    assert.equal(view[15], 3);
    arena.dispose();
  });

  it('frees arena memory once disposed and its views are collected', function () {
    const script = `
      const { Arena } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 40; i++) {
        const arena = new Arena({ capacity: 64 << 20, chunkSize: 16 << 20 });
        arena.alloc('uint8', 16 << 20).fill(1);
        arena.dispose();
      }
      global.gc(); global.gc();
      setTimeout(() => { global.gc(); console.log(JSON.stringify({ before, after: process.memoryUsage().arrayBuffers, rss: process.memoryUsage().rss })); }, 50);
    `;
    const result = spawnNode(['--expose-gc', '-e', script]);
    assert.equal(result.status, 0, result.stderr);
    const { rss } = JSON.parse(result.stdout.trim().split('\n').pop() as string) as { rss: number };
    assert.ok(rss < 400 * 2 ** 20, `40 x 16 MiB arenas were not released: rss ${rss}`);
  });

  it('falls back to copies where external buffers are refused', () => {
    const script = `
      const { Arena } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      const arena = new Arena();
      const view = arena.alloc('float32', 8);
      view.fill(2);
      console.log(JSON.stringify({ zeroCopy: arena.stats().zeroCopy, length: view.length, sum: view.reduce((a, b) => a + b) }));
    `;
    const result = spawnNode(['-e', script], { env: { ...process.env, EDGEINFER_NO_EXTERNAL_BUFFERS: '1' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { zeroCopy: false, length: 8, sum: 16 });
  });
});
