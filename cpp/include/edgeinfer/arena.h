// A bump allocator of 64-byte aligned blocks that grows in chunks up to a hard capacity. Scopes are a
// mark (a position) and a reset back to it. Chunks are never freed before the arena is destroyed, so a
// pointer handed out stays valid (its contents may be reused after a reset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace edgeinfer {

// The largest capacity and chunk size an arena accepts (4 PiB): far enough below SIZE_MAX that no sum or
// rounding of sizes can overflow, and exact as a JS number.
inline constexpr size_t kArenaMaxBytes = size_t{1} << 52;

struct ArenaOptions {
  size_t capacity = size_t{256} << 20;  // hard limit on reserved bytes, in [64, kArenaMaxBytes]
  size_t chunk_size = size_t{1} << 20;  // granularity of growth, in [1, kArenaMaxBytes]; the last chunk
                                        // is cut down to what the capacity leaves
  size_t initial_size = 0;              // reserved up front (rounded up to a chunk), at most the capacity
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

  // Throws Error(kInvalidArgument) for options outside the ranges above.
  explicit Arena(const ArenaOptions& options, ReserveObserver observer = nullptr);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // count * element_size, or Error(kInvalidArgument) when the product does not fit in size_t.
  static size_t array_bytes(size_t count, size_t element_size);

  // 64-byte aligned. Throws Error(kOutOfMemory) when the capacity would be exceeded, Error(kInvalidArgument)
  // for a size of 0. Never returns null. On a throw the position and the marks are unchanged.
  void* allocate(size_t bytes);

  // Marks. mark() is the current position: 0 or the end of the last block still allocated. A mark stays
  // valid while the block it ends is allocated, i.e. until a reset below it (a stale mark that again
  // falls on the end of an allocated block means the same as a fresh one). reset(mark) frees every block
  // after it; reset() frees all. Anything else (an arbitrary number, a position inside a block, a stale
  // mark) is Error(kInvalidArgument) and changes nothing, so blocks stay 64-byte aligned and a reset
  // never frees part of a block.
  size_t mark() const { return used_; }
  bool is_mark(size_t position) const;
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
  std::vector<size_t> ends_;  // end positions of the allocated blocks, ascending: the valid marks but 0
  size_t current_ = 0;        // index of the chunk the position is in
  size_t used_ = 0;           // logical position
  size_t reserved_ = 0;
  size_t peak_ = 0;
  uint64_t allocations_ = 0;
};

}  // namespace edgeinfer
