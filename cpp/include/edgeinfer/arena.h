// A bump allocator of 64-byte aligned blocks that grows in chunks up to a hard capacity. Scopes are a
// mark (a position) and a reset back to it. Chunks are never freed before the arena is destroyed, so a
// pointer handed out stays valid (its contents may be reused after a reset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace edgeinfer {

struct ArenaOptions {
  size_t capacity = size_t{256} << 20;  // hard limit on reserved bytes
  size_t chunk_size = size_t{1} << 20;  // granularity of growth
  size_t initial_size = 0;              // reserved up front (rounded up to a chunk)
};

struct ArenaStats {
  size_t capacity = 0;     // the hard limit
  size_t reserved = 0;     // bytes held in chunks
  size_t used = 0;         // bytes from the start to the current position (alignment padding included)
  size_t peak = 0;         // highest `used` seen
  size_t chunks = 0;
  uint64_t allocations = 0;  // calls to allocate() that succeeded
};

class Arena {
 public:
  // Called with +bytes when a chunk is reserved and -bytes when the arena releases it (V8 accounting).
  using ReserveObserver = std::function<void(int64_t delta)>;

  explicit Arena(const ArenaOptions& options, ReserveObserver observer = nullptr);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // 64-byte aligned. Throws Error(kOutOfMemory) when the capacity would be exceeded, Error(kInvalidArgument)
  // for a zero or absurd size. Never returns null.
  void* allocate(size_t bytes);

  // A position to come back to; reset(mark) frees everything allocated after it. reset() frees all.
  size_t mark() const { return used_; }
  void reset(size_t mark = 0);

  ArenaStats stats() const;
  bool contains(const void* pointer, size_t bytes) const;

 private:
  struct Chunk {
    uint8_t* data;
    size_t size;
    size_t start;  // logical position of the chunk's first byte
  };
  void add_chunk(size_t min_bytes);

  ArenaOptions options_;
  ReserveObserver observer_;
  std::vector<Chunk> chunks_;
  size_t current_ = 0;  // index of the chunk the position is in
  size_t used_ = 0;     // logical position
  size_t reserved_ = 0;
  size_t peak_ = 0;
  uint64_t allocations_ = 0;
};

}  // namespace edgeinfer
