#include "call_memory.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "edgeinfer/aligned_buffer.h"

namespace edgeinfer::binding {

namespace {

// The typed array's memory as it is now (argument parsing may have run JS getters since it was first read,
// and a finished async call's target may have been detached or shrunk since submission). Null when detached.
uint8_t* current_bytes(Napi::Env env, const Napi::Value& value, size_t& byte_length) {
  ViewBytes bytes;
  byte_length = 0;
  if (!view_bytes(env, value, bytes) || bytes.detached || bytes.data == nullptr) return nullptr;
  byte_length = bytes.byte_length;
  return bytes.data;
}

void free_block(uint8_t* p) { std::free(p); }

}  // namespace

uint8_t* CallMemory::allocate(size_t bytes) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, align_up(bytes == 0 ? 1 : bytes)));
  if (p == nullptr) throw std::bad_alloc();
  blocks_.push_back(Block{{p, free_block}});
  return p;
}

void CallMemory::copy(uint8_t* to, const uint8_t* from, size_t bytes) {
  const auto start = std::chrono::steady_clock::now();
  std::memcpy(to, from, bytes);
  copied_bytes_ += bytes;
  if (counters_) {
    counters_->bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
    counters_->nanoseconds.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count(),
        std::memory_order_relaxed);
  }
}

const void* CallMemory::input(const TypedArrayArg& arg, size_t bytes) {
  if (arg.value.IsEmpty() || arg.value.IsUndefined() || arg.value.IsNull()) return nullptr;
  Napi::Env env = arg.value.Env();
  size_t available = 0;
  uint8_t* source = current_bytes(env, arg.value, available);
  if (bytes == 0) return source != nullptr ? source : allocate(0);
  if (source == nullptr || available < bytes)
    throw_invalid(env, "an input buffer was detached or shrunk while the call's arguments were read");
  if (!async_) return source;
  uint8_t* owned = allocate(bytes);
  copy(owned, source, bytes);
  return owned;
}

void* CallMemory::output(Napi::Env env, const TypedArrayArg& arg, size_t bytes, const std::string& name, bool preserve) {
  size_t available = 0;
  uint8_t* target = current_bytes(env, arg.value, available);
  if (bytes == 0) return target != nullptr ? target : allocate(0);
  if (target == nullptr || available < bytes)
    throw_invalid(env, name + " was detached or shrunk while the call's arguments were read");
  if (!async_) return target;
  uint8_t* staging = allocate(bytes);
  if (preserve) copy(staging, target, bytes);
  staged_.push_back(Staged{Napi::Reference<Napi::Value>::New(arg.value, 1), name, staging, bytes});
  return staging;
}

void CallMemory::deliver(Napi::Env env) {
  for (Staged& staged : staged_) {
    size_t available = 0;
    uint8_t* target = current_bytes(env, staged.target.Value(), available);
    if (target == nullptr)
      throw_invalid(env, staged.name + " was detached while the call ran; its result was dropped");
    if (available < staged.bytes)
      throw_invalid(env, staged.name + " shrank to " + std::to_string(available) + " bytes while the call ran (the result needs " +
                             std::to_string(staged.bytes) + "); its result was dropped");
    copy(target, staged.data, staged.bytes);
  }
  staged_.clear();
}

}  // namespace edgeinfer::binding
