// Chunked bump allocator. Positions are logical: a chunk's unused tail counts as used once the position
// moves past it, so mark()/reset() are plain numbers.
#include "edgeinfer/arena.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"

namespace edgeinfer {

Arena::Arena(const ArenaOptions& options, ReserveObserver observer) : options_(options), observer_(std::move(observer)) {
  require(options_.chunk_size > 0, ErrorCode::kInvalidArgument, "arena chunk size must be positive");
  require(options_.capacity > 0, ErrorCode::kInvalidArgument, "arena capacity must be positive");
  options_.chunk_size = align_up(options_.chunk_size);
  require(options_.initial_size <= options_.capacity, ErrorCode::kInvalidArgument,
          "arena initial size exceeds its capacity");
  if (options_.initial_size > 0) add_chunk(options_.initial_size);
}

Arena::~Arena() {
  for (const Chunk& chunk : chunks_) std::free(chunk.data);
  if (observer_ && reserved_ > 0) observer_(-static_cast<int64_t>(reserved_));
}

void Arena::add_chunk(size_t min_bytes) {
  const size_t size = align_up(std::max(min_bytes, options_.chunk_size), options_.chunk_size);
  if (size > options_.capacity - reserved_)
    fail(ErrorCode::kOutOfMemory, "arena capacity of " + std::to_string(options_.capacity) +
                                      " bytes exceeded (reserved " + std::to_string(reserved_) + ", need " +
                                      std::to_string(size) + " more)");
  auto* data = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, size));
  if (data == nullptr) fail(ErrorCode::kOutOfMemory, "the system refused " + std::to_string(size) + " bytes");
  const size_t start = chunks_.empty() ? 0 : chunks_.back().start + chunks_.back().size;
  chunks_.push_back({data, size, start});
  reserved_ += size;
  if (observer_) observer_(static_cast<int64_t>(size));
}

void* Arena::allocate(size_t bytes) {
  require(bytes > 0, ErrorCode::kInvalidArgument, "arena allocation of 0 bytes");
  require(bytes <= options_.capacity, ErrorCode::kOutOfMemory, "arena allocation larger than its capacity");
  const size_t rounded = align_up(bytes);
  // Find a chunk from the current one on whose remaining space fits the block.
  while (true) {
    if (current_ < chunks_.size()) {
      Chunk& chunk = chunks_[current_];
      const size_t offset = std::max(used_, chunk.start) - chunk.start;
      if (offset + rounded <= chunk.size) {
        used_ = chunk.start + offset + rounded;
        peak_ = std::max(peak_, used_);
        ++allocations_;
        return chunk.data + offset;
      }
      if (current_ + 1 < chunks_.size()) {
        ++current_;
        used_ = chunks_[current_].start;
        continue;
      }
    }
    add_chunk(rounded);
    current_ = chunks_.size() - 1;
    used_ = chunks_[current_].start;
  }
}

void Arena::reset(size_t mark) {
  require(mark <= used_, ErrorCode::kInvalidArgument, "arena reset to a mark beyond the current position");
  used_ = mark;
  current_ = 0;
  while (current_ + 1 < chunks_.size() && chunks_[current_ + 1].start <= mark) ++current_;
}

ArenaStats Arena::stats() const {
  return {options_.capacity, reserved_, used_, peak_, chunks_.size(), allocations_};
}

bool Arena::contains(const void* pointer, size_t bytes) const {
  const auto* p = static_cast<const uint8_t*>(pointer);
  for (const Chunk& chunk : chunks_)
    if (p >= chunk.data && p + bytes <= chunk.data + chunk.size) return true;
  return false;
}

}  // namespace edgeinfer
