#include <cstdint>
#include <cstring>
#include <functional>

#include "edgeinfer/arena.h"
#include "edgeinfer/error.h"
#include "tests/check.h"

using edgeinfer::Arena;
using edgeinfer::ArenaOptions;

EI_TEST("arena blocks are 64-byte aligned and writable") {
  Arena arena({.capacity = 1 << 20, .chunk_size = 4096});
  for (size_t bytes : {1, 3, 63, 64, 65, 1000, 4095, 4096, 5000}) {
    auto* p = static_cast<uint8_t*>(arena.allocate(bytes));
    EI_CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    std::memset(p, 0xab, bytes);
    EI_CHECK(arena.contains(p, bytes));
  }
}

EI_TEST("arena grows in chunks and keeps stats") {
  int64_t reported = 0;
  {
    Arena arena({.capacity = 1 << 20, .chunk_size = 4096}, [&](int64_t delta) { reported += delta; });
    arena.allocate(100);
    EI_CHECK(arena.stats().chunks == 1);
    EI_CHECK(arena.stats().reserved == 4096);
    EI_CHECK(arena.stats().used == 128);
    arena.allocate(4000);  // does not fit in the rest of chunk 0
    EI_CHECK(arena.stats().chunks == 2);
    arena.allocate(10000);  // larger than a chunk: one chunk of its own, rounded to the chunk size
    EI_CHECK(arena.stats().chunks == 3);
    EI_CHECK(arena.stats().reserved == 4096 + 4096 + 12288);
    EI_CHECK(reported == static_cast<int64_t>(arena.stats().reserved));
    EI_CHECK(arena.stats().allocations == 3);
  }
  EI_CHECK(reported == 0);
}

EI_TEST("arena mark and reset reuse memory without reserving more") {
  Arena arena({.capacity = 1 << 20, .chunk_size = 4096});
  arena.allocate(64);
  const size_t mark = arena.mark();
  void* first = arena.allocate(1000);
  arena.allocate(3000);
  const size_t peak = arena.stats().peak;
  arena.reset(mark);
  EI_CHECK(arena.stats().used == mark);
  EI_CHECK(arena.allocate(1000) == first);
  EI_CHECK(arena.stats().peak == peak);
  for (int i = 0; i < 1000; ++i) {
    const size_t scope = arena.mark();
    arena.allocate(2000);
    arena.allocate(5000);
    arena.reset(scope);
  }
  EI_CHECK(arena.stats().chunks <= 3);
  arena.reset();
  EI_CHECK(arena.stats().used == 0);
}

EI_TEST("arena capacity is a hard limit that throws, not crashes") {
  Arena arena({.capacity = 8192, .chunk_size = 4096});
  arena.allocate(4096);
  arena.allocate(4096);
  try {
    arena.allocate(1);
    EI_CHECK(false);
  } catch (const edgeinfer::Error& error) {
    EI_CHECK(error.code() == edgeinfer::ErrorCode::kOutOfMemory);
  }
  EI_CHECK_THROWS(arena.allocate(0));
  EI_CHECK_THROWS(arena.allocate(SIZE_MAX));
  EI_CHECK_THROWS(arena.reset(arena.mark() + 1));
  arena.reset();
  // A reset makes the reserved space usable again (a block never spans two chunks).
  EI_CHECK(arena.allocate(4096) != nullptr);
  EI_CHECK(arena.allocate(4096) != nullptr);
  EI_CHECK(arena.stats().reserved == 8192);
}

EI_TEST("arena rejects inconsistent options") {
  EI_CHECK_THROWS(Arena({.capacity = 0}));
  EI_CHECK_THROWS(Arena({.capacity = 4096, .chunk_size = 0}));
  EI_CHECK_THROWS(Arena({.capacity = 4096, .chunk_size = 4096, .initial_size = 8192}));
}

namespace {

bool throws_code(edgeinfer::ErrorCode code, const std::function<void()>& call) {
  try {
    call();
  } catch (const edgeinfer::Error& error) {
    return error.code() == code;
  }
  return false;
}

constexpr auto kInvalid = edgeinfer::ErrorCode::kInvalidArgument;
constexpr auto kOutOfMemory = edgeinfer::ErrorCode::kOutOfMemory;

}  // namespace

EI_TEST("arena sizes are 64-bit and bounded: no wrap-around in options, rounding or products") {
  // Element count x element size: exact past 4 GiB, refused where size_t would wrap.
  EI_CHECK(Arena::array_bytes((size_t{1} << 30) + 16, 4) == (size_t{1} << 32) + 64);
  EI_CHECK(Arena::array_bytes((size_t{1} << 61) - 1, 8) == SIZE_MAX - 7);
  EI_CHECK(throws_code(kInvalid, [] { Arena::array_bytes(size_t{1} << 61, 8); }));
  EI_CHECK(throws_code(kInvalid, [] { Arena::array_bytes(SIZE_MAX, 2); }));
  // Options near SIZE_MAX used to wrap: a chunk size rounded to 0 (division by zero on the first
  // allocation), a capacity that let align_up(bytes) wrap to a 0-byte block.
  EI_CHECK(throws_code(kInvalid, [] { Arena({.capacity = SIZE_MAX}); }));
  EI_CHECK(throws_code(kInvalid, [] { Arena({.capacity = edgeinfer::kArenaMaxBytes + 1}); }));
  EI_CHECK(throws_code(kInvalid, [] { Arena({.capacity = 4096, .chunk_size = SIZE_MAX}); }));
  EI_CHECK(throws_code(kInvalid, [] { Arena({.capacity = 63}); }));  // not even one block
  // Capacity and block sizes past 4 GiB, refused before anything is reserved.
  Arena big({.capacity = size_t{1} << 33, .chunk_size = 4096});
  EI_CHECK(throws_code(kOutOfMemory, [&] { big.allocate((size_t{1} << 33) + 1); }));
  EI_CHECK(throws_code(kOutOfMemory, [&] { big.allocate(SIZE_MAX - 10); }));
  EI_CHECK(big.stats().reserved == 0 && big.stats().used == 0);
  auto* p = static_cast<uint8_t*>(big.allocate(64));
  EI_CHECK(big.contains(p, 64) && !big.contains(p, 4097) && !big.contains(p, SIZE_MAX));
}

EI_TEST("arena capacity that is not a multiple of the chunk size is usable to its last whole block") {
  // initial_size <= capacity, but rounded up to a chunk it used to exceed it: the constructor threw.
  Arena arena({.capacity = 3000, .chunk_size = 2048, .initial_size = 2500});
  EI_CHECK(arena.stats().reserved == 2944);
  EI_CHECK(arena.allocate(2900) != nullptr);
  EI_CHECK(throws_code(kOutOfMemory, [&] { arena.allocate(1); }));
  Arena small({.capacity = 100});  // default 1 MiB chunks: one 64-byte chunk
  EI_CHECK(small.allocate(10) != nullptr);
  EI_CHECK(small.stats().reserved == 64);
}

EI_TEST("arena reset takes only valid marks, so every block stays 64-byte aligned") {
  Arena arena({.capacity = 1 << 20, .chunk_size = 4096});
  arena.allocate(100);  // [0, 128)
  const size_t a = arena.mark();
  EI_CHECK(a == 128);
  arena.allocate(200);  // [128, 384)
  const size_t b = arena.mark();
  // Arbitrary numbers, positions inside a block and positions past the end are refused, changing nothing.
  for (size_t bad : {size_t{3}, size_t{64}, size_t{192}, size_t{256}, b + 64, size_t{1} << 40}) {
    EI_CHECK(throws_code(kInvalid, [&] { arena.reset(bad); }));
    EI_CHECK(arena.mark() == b);
  }
  EI_CHECK(!arena.is_mark(3) && arena.is_mark(0) && arena.is_mark(a) && arena.is_mark(b));
  for (int i = 0; i < 20; ++i)
    EI_CHECK(reinterpret_cast<uintptr_t>(arena.allocate(1 + i * 37)) % 64 == 0);
  arena.reset(b);
  EI_CHECK(arena.mark() == b);
  // A reset below a mark makes it stale: after new blocks, b lies inside one and is refused.
  arena.reset(a);
  EI_CHECK(!arena.is_mark(b));
  EI_CHECK(throws_code(kInvalid, [&] { arena.reset(b); }));
  arena.allocate(1000);  // [128, 1152): b (384) is inside it
  EI_CHECK(throws_code(kInvalid, [&] { arena.reset(b); }));
  EI_CHECK(arena.mark() == 1152);
  // A stale mark that again ends a live block is as good as a fresh one.
  arena.reset(a);
  arena.allocate(256);  // [128, 384)
  EI_CHECK(arena.is_mark(b));
  arena.reset(b);
  arena.reset();
  EI_CHECK(arena.mark() == 0 && !arena.is_mark(a));
  EI_CHECK(reinterpret_cast<uintptr_t>(arena.allocate(7)) % 64 == 0);
}

EI_TEST("arena allocation that fails leaves the position a valid mark") {
  Arena arena({.capacity = 8192, .chunk_size = 4096});
  arena.allocate(4096);
  arena.allocate(4096);  // two full chunks
  arena.reset();
  arena.allocate(64);
  const size_t mark = arena.mark();
  // Fits in neither chunk and the capacity is spent: the search used to move the position to the start of
  // the second chunk (not a block end) before throwing.
  EI_CHECK(throws_code(kOutOfMemory, [&] { arena.allocate(8000); }));
  EI_CHECK(arena.mark() == mark && arena.is_mark(mark));
  EI_CHECK(arena.stats().allocations == 3);
  arena.reset(mark);
  EI_CHECK(arena.allocate(4096) != nullptr);  // the second chunk, whole
}

EI_TEST_MAIN()
