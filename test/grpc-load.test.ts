// bench/grpc-load.bench.ts in a short run: the load harness itself (the 20 s / 32-stream figure is a benchmark,
// `npm run bench -- --only grpc-load`). Every clip stream and unary call must be answered, with the events and
// outputs the clip / input gives alone, and the frame counts must add up.
import assert from 'node:assert/strict';

import { runGrpcLoad } from '../bench/grpc-load.bench';
import { emulated } from './helpers/node-child';

describe('gRPC load harness (bench/grpc-load.bench.ts), short run', function () {
  this.timeout(120000);

  it('4 real-time streams and 4 Infer callers for 2 s: all answered, none lost or wrong, latencies measured', async function () {
    // Real-time pacing under the emulator (arm64 run) measures qemu, not the server: x64 runs it.
    if (emulated) this.skip();
    const logs: string[] = [];
    const [streams, unary] = await runGrpcLoad({ duration: 2, streams: 4, callers: 4, mode: 'both', precision: 'float32', log: (m) => logs.push(m) });
    assert.equal(streams.case, 'InferStream,streams=4,real-time load');
    assert.ok(streams.sent >= 4, `each stream streamed at least one clip: ${streams.sent}`);
    assert.deepEqual([streams.answered, streams.errors, streams.lost, streams.wrong], [streams.sent, 0, 0, 0], logs.join('\n'));
    assert.ok((streams.frames_sent as number) > 4 * 20);
    assert.equal(streams.frames_answered, streams.frames_sent);
    // The fixtures hold wake words: events came, and their latency was measured.
    assert.ok((streams.events as number) > 0 && streams.p99_us > 0 && streams.p99_us >= streams.p50_us);
    assert.ok(/wake_word:hey_jarvis,command:set_timer/.test(logs.join('\n')), 'the command clip gives its command alone');

    assert.equal(unary.case, 'Infer,callers=4,embedding_model load');
    assert.ok(unary.sent > 20, `closed loops ran: ${unary.sent}`);
    assert.deepEqual([unary.answered, unary.errors, unary.lost, unary.wrong], [unary.sent, 0, 0, 0], logs.join('\n'));
    assert.ok(unary.p99_us > 0 && unary.rate > 0);
    for (const line of [streams, unary]) for (const key of ['bench', 'case', 'ours', 'baseline', 'baseline_value', 'unit', 'speedup']) assert.ok(key in line, key);
  });
});
