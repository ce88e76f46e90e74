// The memory one kernel call reads and writes. A synchronous call works on the caller's typed arrays in
// place (no JS can run until it returns, so nothing can detach or resize them). An asynchronous call must
// not: the caller may transfer, detach, resize or drop its buffers the moment the promise is returned. So
// at submission, on the JS thread, inputs are copied into memory the call owns and outputs get owned
// staging memory; the worker touches only those; at completion, on the JS thread again, each result is
// copied into the caller's array if that array is still attached and still large enough, else the call
// fails with a clear error and the caller's memory is left alone.
#pragma once

#include <napi.h>

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace edgeinfer::binding {

// What owning memory costs, per wrapped object (a model's stats() reports it): async calls, bytes copied in
// and out, and the wall time of those copies.
struct CopyCounters {
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> nanoseconds{0};
};

class CallMemory {
 public:
  explicit CallMemory(bool async, std::shared_ptr<CopyCounters> counters = nullptr)
      : async_(async), counters_(std::move(counters)) {
    if (async_ && counters_) counters_->calls.fetch_add(1, std::memory_order_relaxed);
  }
  CallMemory(const CallMemory&) = delete;
  CallMemory& operator=(const CallMemory&) = delete;

  bool async() const { return async_; }

  // The pointer the kernel reads `bytes` bytes of `arg` from: the caller's memory (sync) or a copy made now.
  const void* input(const TypedArrayArg& arg, size_t bytes);

  // The pointer the kernel writes `bytes` bytes of `arg` to: the caller's memory (sync) or owned staging
  // memory delivered by deliver(). `preserve`: the kernel may leave some of those bytes unwritten (strided
  // rows), so staging starts as a copy of the caller's bytes and the untouched ones are written back as they were.
  void* output(Napi::Env env, const TypedArrayArg& arg, size_t bytes, const std::string& name, bool preserve = false);

  // On the JS thread after the work finished: copies every staged output into its caller array. Throws a JS
  // error (EDGEINFER_INVALID_ARGUMENT) naming the first output whose array was detached or shrunk; the
  // outputs before it were delivered, that one and the rest are not.
  void deliver(Napi::Env env);

  // Bytes copied at submission and at delivery (for the stats that measure the cost of owning memory).
  size_t copied_bytes() const { return copied_bytes_; }

 private:
  struct Block {
    std::unique_ptr<uint8_t[], void (*)(uint8_t*)> data{nullptr, nullptr};
  };
  struct Staged {
    Napi::Reference<Napi::Value> target;
    std::string name;
    uint8_t* data = nullptr;
    size_t bytes = 0;
  };

  uint8_t* allocate(size_t bytes);
  void copy(uint8_t* to, const uint8_t* from, size_t bytes);

  bool async_;
  std::shared_ptr<CopyCounters> counters_;
  std::vector<Block> blocks_;
  std::vector<Staged> staged_;
  size_t copied_bytes_ = 0;
};

}  // namespace edgeinfer::binding
