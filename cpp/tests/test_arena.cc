#include <cstdint>
#include <cstring>

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

EI_TEST_MAIN()
