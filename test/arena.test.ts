import assert from 'node:assert/strict';
import path from 'node:path';

import { Arena, EdgeInferError, type ArenaDataType } from '../lib';
import { native } from '../lib/native';
import { spawnNode } from './helpers/node-child';

const libPath = JSON.stringify(path.join(__dirname, '..', 'lib'));
const isCode = (code: string) => (e: unknown) => (e as EdgeInferError).code === code;
const invalidArgument = isCode('EDGEINFER_INVALID_ARGUMENT');
const dataTypes: [ArenaDataType, number][] = [
  ['int8', 1], ['uint8', 1], ['int16', 2], ['uint16', 2], ['int32', 4], ['uint32', 4],
  ['float32', 4], ['float64', 8], ['int64', 8], ['uint64', 8],
];

// Runs in a child (a crash there fails the test instead of the whole run): the block sizes just past the
// largest ArrayBuffer of this runtime must be refused before anything is reserved. Allocates nothing.
const boundaryScript = `
  const { Arena } = require(${libPath});
  const { constants } = require('node:buffer');
  const codeOf = (call) => { try { call(); return 'allocated'; } catch (e) { return e.code || e.name; } };
  const arena = new Arena({ capacity: 2 ** 46 });
  const refused = {};
  for (const [type, size] of ${JSON.stringify(dataTypes)}) {
    refused[type] = codeOf(() => arena.alloc(type, Math.floor(constants.MAX_LENGTH / size) + 1));
  }
  // The reported call: 4 GiB + 64 bytes in an 8 GiB arena. Only where the runtime cannot make such a
  // buffer (Node < 22): elsewhere it would really allocate 4 GiB.
  const hostile = 2 ** 32 + 64 > constants.MAX_LENGTH
    ? codeOf(() => new Arena({ capacity: 2 ** 33 }).alloc('float32', 2 ** 30 + 16)) : 'EDGEINFER_INVALID_ARGUMENT';
  const small = arena.alloc('uint64', 3);
  small[2] = 7n;
  console.log(JSON.stringify({ refused, hostile, stats: arena.stats(), last: String(small[2]) }));
`;

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

  it('refuses blocks past the largest ArrayBuffer before allocating, for every type (4 GiB + 64 bytes crashed)', () => {
    for (const env of [process.env, { ...process.env, EDGEINFER_NO_EXTERNAL_BUFFERS: '1' }]) {
      const result = spawnNode(['-e', boundaryScript], { env });
      assert.equal(result.status, 0, `exit ${result.status} signal ${result.signal}: ${result.stderr}`);
      const out = JSON.parse(result.stdout.trim().split('\n').pop() as string);
      for (const [type] of dataTypes) assert.equal(out.refused[type], 'EDGEINFER_INVALID_ARGUMENT', type);
      assert.equal(out.hostile, 'EDGEINFER_INVALID_ARGUMENT');
      assert.equal(out.stats.allocations, 1, 'only the small block was allocated');
      assert.equal(out.stats.used, 64);
      assert.ok(out.stats.reserved <= 2 ** 20, `refused blocks reserved memory: ${out.stats.reserved}`);
      assert.equal(out.last, '7');
    }
  });

  it('checks sizes natively too, in 64 bits, for a caller that bypasses the library', () => {
    const raw = new native.NativeArena(2 ** 33, 2 ** 20, 0); // no maxBlockBytes: the binding assumes 2^32
    assert.throws(() => raw.alloc(2 ** 30 + 16, 4), invalidArgument); // 4 GiB + 64: refused, not truncated
    assert.throws(() => raw.alloc(2 ** 53 - 1, 8), invalidArgument); // 2^56 bytes: exact, refused
    assert.throws(() => raw.alloc(1, 16), invalidArgument);
    assert.throws(() => raw.alloc(0, 4), invalidArgument);
    assert.throws(() => new native.NativeArena(8, 8, 0), invalidArgument); // less than one 64-byte block
    assert.deepEqual([raw.stats().reserved, raw.stats().used], [0, 0]);
    assert.equal(raw.alloc(3, 8).byteLength, 24);
    raw.dispose();
  });

  it('refuses a block past the capacity with EDGEINFER_OUT_OF_MEMORY before reserving', () => {
    const arena = new Arena({ capacity: 1 << 20 });
    assert.throws(() => arena.alloc('float64', 2 ** 28), isCode('EDGEINFER_OUT_OF_MEMORY'));
    assert.throws(() => arena.alloc('uint8', 2 ** 53), invalidArgument); // not a safe integer
    assert.equal(arena.stats().reserved, 0);
  });

  it('hands out every type, 64-byte aligned, and refuses 0 elements', () => {
    const arena = new Arena({ capacity: 1 << 20, chunkSize: 4096 });
    for (const [type, size] of dataTypes) {
      const before = arena.stats().used;
      const view = arena.alloc(type, 5);
      assert.equal(view.length, 5);
      assert.equal(view.BYTES_PER_ELEMENT, size);
      assert.equal(view.byteOffset, 0);
      assert.equal(arena.stats().used, before + 64, `${type}: one 64-byte block`);
      if (view instanceof BigInt64Array || view instanceof BigUint64Array) {
        view[4] = 2n ** 40n;
        assert.equal(view[4], 2n ** 40n);
      } else {
        (view as Float64Array)[4] = 9;
        assert.equal(view[4], 9);
      }
      assert.throws(() => arena.alloc(type, 0), invalidArgument);
    }
  });

  it('resets only to valid marks: arbitrary, mid-block and stale values are refused', () => {
    const arena = new Arena({ capacity: 1 << 20, chunkSize: 4096 });
    arena.alloc('uint8', 100); // [0, 128)
    const a = arena.mark();
    arena.alloc('float64', 25); // [128, 384)
    const b = arena.mark();
    for (const bad of [3, 64, 192, b + 64, 2 ** 40]) {
      assert.throws(() => arena.reset(bad), invalidArgument, String(bad));
      assert.equal(arena.mark(), b, 'a refused reset changes nothing');
    }
    arena.alloc('uint8', 1);
    assert.equal(arena.stats().used % 64, 0, 'blocks stay 64-byte aligned');
    arena.reset(b);
    assert.equal(arena.mark(), b);
    arena.reset(a); // b is stale from here on
    arena.alloc('uint8', 1000); // [128, 1152): b lies inside this block
    assert.throws(() => arena.reset(b), invalidArgument);
    assert.equal(arena.mark(), 1152);
    arena.reset(a);
    assert.equal(arena.mark(), a);
    arena.reset();
    assert.equal(arena.mark(), 0);
  });

  it('scope() returns the body\'s result and throws its error even when the body reset below the mark', () => {
    const arena = new Arena({ capacity: 1 << 20, chunkSize: 4096 });
    arena.alloc('uint8', 64);
    assert.equal(
      arena.scope((scoped) => {
        scoped.alloc('uint8', 10);
        scoped.reset();
        return 42;
      }),
      42,
    );
    assert.equal(arena.mark(), 0, 'left where the body put it');
    const boom = new Error('boom');
    arena.alloc('uint8', 64);
    assert.throws(
      () =>
        arena.scope((scoped) => {
          scoped.reset();
          throw boom;
        }),
      (e) => e === boom,
    );
    arena.alloc('uint8', 64);
    // The body resets below the scope's mark and allocates past it: the mark now lies inside a block.
    const result = arena.scope((scoped) => {
      scoped.reset();
      scoped.alloc('uint8', 1000);
      return 'kept';
    });
    assert.equal(result, 'kept');
    assert.equal(arena.mark(), 1024);
    // An ordinary scope still frees what it allocated, nested too; a body that disposes is fine.
    const mark = arena.mark();
    arena.scope((outer) => {
      outer.alloc('float32', 10);
      outer.scope((inner) => inner.alloc('float32', 10));
      assert.equal(outer.mark(), mark + 64);
    });
    assert.equal(arena.mark(), mark);
    assert.equal(arena.scope((scoped) => (scoped.dispose(), 'disposed')), 'disposed');
  });

  it('accepts every capacity of at least one block and uses it to the end', () => {
    assert.throws(() => new Arena({ capacity: 63 }), invalidArgument);
    for (const bad of [0.5, NaN, Infinity, 2 ** 46 + 1]) assert.throws(() => new Arena({ capacity: bad }), invalidArgument);
    assert.throws(() => new Arena({ chunkSize: 0 }), invalidArgument);
    // initialSize <= capacity but over it once rounded to a chunk: the constructor threw OUT_OF_MEMORY.
    const odd = new Arena({ capacity: 3000, chunkSize: 2048, initialSize: 2500 });
    assert.equal(odd.stats().reserved, 2944);
    assert.equal(odd.alloc('uint8', 2900).length, 2900);
    const tiny = new Arena({ capacity: 100 }); // a 1 MiB chunk cannot fit: the chunk is cut to the capacity
    assert.equal(tiny.alloc('float32', 16).length, 16);
    assert.throws(() => tiny.alloc('uint8', 1), isCode('EDGEINFER_OUT_OF_MEMORY'));
    const wide = new Arena({ capacity: 4096, chunkSize: 1 << 20 });
    assert.equal(wide.alloc('uint8', 4096).length, 4096);
    assert.equal(wide.stats().reserved, 4096);
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
      const { Arena } = require(${libPath});
      const arena = new Arena();
      const view = arena.alloc('float32', 8);
      view.fill(2);
      const { zeroCopy } = arena.stats();
      const mark = arena.mark();
      const big = arena.alloc('int64', 3);
      big[2] = -5n;
      let badReset;
      try { arena.reset(3); } catch (e) { badReset = e.code; }
      arena.reset(mark);
      arena.dispose();
      view[0] = 4; // a copy outlives the arena
      console.log(JSON.stringify({ zeroCopy, length: view.length, sum: view.reduce((a, b) => a + b), big: String(big[2]), badReset }));
    `;
    const result = spawnNode(['-e', script], { env: { ...process.env, EDGEINFER_NO_EXTERNAL_BUFFERS: '1' } });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { zeroCopy: false, length: 8, sum: 18, big: '-5', badReset: 'EDGEINFER_INVALID_ARGUMENT' });
  });
});
