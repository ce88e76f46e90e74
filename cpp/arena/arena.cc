// Chunked bump allocator. Positions are logical: a chunk's unused tail counts as used once the position
// moves past it, so mark()/reset() are plain numbers. All sizes are size_t (64-bit on every target) and
// bounded by kArenaMaxBytes, so rounding and sums cannot wrap.
#include "edgeinfer/arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"

namespace edgeinfer {

Arena::Arena(const ArenaOptions& options, ReserveObserver observer) : options_(options), observer_(std::move(observer)) {
  require(options_.capacity >= kAlignment && options_.capacity <= kArenaMaxBytes, ErrorCode::kInvalidArgument,
          "arena capacity must be in [64, 2^52] bytes (a block takes at least 64)");
  require(options_.chunk_size > 0 && options_.chunk_size <= kArenaMaxBytes, ErrorCode::kInvalidArgument,
          "arena chunk size must be in [1, 2^52] bytes");
  options_.chunk_size = align_up(options_.chunk_size);
  require(options_.initial_size <= options_.capacity, ErrorCode::kInvalidArgument,
          "arena initial size exceeds its capacity");
  if (options_.initial_size > 0) add_chunk(options_.initial_size);
}

Arena::~Arena() {
  for (const Chunk& chunk : chunks_) std::free(chunk.data);
  if (observer_ && reserved_ > 0) observer_(-static_cast<int64_t>(reserved_));
}

size_t Arena::array_bytes(size_t count, size_t element_size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, element_size, &bytes))
    fail(ErrorCode::kInvalidArgument, std::to_string(count) + " elements of " + std::to_string(element_size) +
                                          " bytes overflow a 64-bit size");
  return bytes;
}

// Reserves a chunk of at least min_bytes: a whole number of chunk sizes, cut down to the whole blocks the
// capacity still leaves (so a capacity that is not a multiple of the chunk size can be used to the end).
void Arena::add_chunk(size_t min_bytes) {
  const size_t room = (options_.capacity - reserved_) / kAlignment * kAlignment;
  const size_t size = std::min(align_up(std::max(min_bytes, options_.chunk_size), options_.chunk_size), room);
  if (size < min_bytes)
    fail(ErrorCode::kOutOfMemory, "arena capacity of " + std::to_string(options_.capacity) +
                                      " bytes exceeded (reserved " + std::to_string(reserved_) + ", need " +
                                      std::to_string(min_bytes) + " more)");
  auto* data = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, size));
  if (data == nullptr) fail(ErrorCode::kOutOfMemory, "the system refused " + std::to_string(size) + " bytes");
  const size_t start = chunks_.empty() ? 0 : chunks_.back().start + chunks_.back().size;
  try {
    chunks_.push_back({data, size, start});
  } catch (...) {
    std::free(data);
    throw;
  }
  reserved_ += size;
  if (observer_) observer_(static_cast<int64_t>(size));
}

void* Arena::allocate(size_t bytes) {
  require(bytes > 0, ErrorCode::kInvalidArgument, "arena allocation of 0 bytes");
  if (bytes > options_.capacity)
    fail(ErrorCode::kOutOfMemory, "arena allocation of " + std::to_string(bytes) + " bytes is larger than its capacity of " +
                                      std::to_string(options_.capacity));
  const size_t rounded = align_up(bytes);  // cannot wrap: bytes <= capacity <= kArenaMaxBytes
  // The first chunk from the current one whose remaining space fits the block. Nothing is committed until
  // the block is found, so a throw (capacity, system memory) leaves the position where it was.
  for (size_t index = current_;; ++index) {
    if (index == chunks_.size()) add_chunk(rounded);
    const Chunk& chunk = chunks_[index];
    const size_t offset = std::max(used_, chunk.start) - chunk.start;  // <= chunk.size
    if (rounded > chunk.size - offset) continue;
    const size_t end = chunk.start + offset + rounded;
    ends_.push_back(end);  // the last step that can throw
    current_ = index;
    used_ = end;
    peak_ = std::max(peak_, used_);
    ++allocations_;
    return chunk.data + offset;
  }
}

bool Arena::is_mark(size_t position) const {
  return position == 0 || std::binary_search(ends_.begin(), ends_.end(), position);
}

void Arena::reset(size_t mark) {
  if (!is_mark(mark))
    fail(ErrorCode::kInvalidArgument,
         "arena reset to " + std::to_string(mark) + ", which is not a valid mark (current position " +
             std::to_string(used_) + "): pass a value mark() returned, before any reset below it");
  while (!ends_.empty() && ends_.back() > mark) ends_.pop_back();
  used_ = mark;
  current_ = 0;
  while (current_ + 1 < chunks_.size() && chunks_[current_ + 1].start <= mark) ++current_;
}

ArenaStats Arena::stats() const {
  return {options_.capacity, reserved_, used_, peak_, chunks_.size(), allocations_};
}

bool Arena::contains(const void* pointer, size_t bytes) const {
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  for (const Chunk& chunk : chunks_) {
    const auto begin = reinterpret_cast<uintptr_t>(chunk.data);
    if (address >= begin && bytes <= chunk.size && address - begin <= chunk.size - bytes) return true;
  }
  return false;
}

}  // namespace edgeinfer
