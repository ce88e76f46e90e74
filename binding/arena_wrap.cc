// JS class over edgeinfer::Arena. alloc() returns an ArrayBuffer that points into the arena (zero copy);
// each such buffer holds a reference to the arena, so arena memory outlives dispose() until the last view
// is collected. Where the runtime refuses external buffers (Electron) alloc() falls back to a plain copy.
#include "arena_wrap.h"

#include <memory>
#include <string>

#include "edgeinfer/arena.h"

namespace edgeinfer::binding {

namespace {

void release_arena_reference(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<Arena>*>(hint); }

}  // namespace

Napi::Function ArenaWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeArena",
                     {
                         InstanceMethod<&ArenaWrap::alloc>("alloc"),
                         InstanceMethod<&ArenaWrap::mark>("mark"),
                         InstanceMethod<&ArenaWrap::reset>("reset"),
                         InstanceMethod<&ArenaWrap::stats>("stats"),
                         InstanceMethod<&ArenaWrap::dispose>("dispose"),
                     });
}

// new NativeArena(capacity, chunkSize, initialSize, maxBlockBytes?). maxBlockBytes is the largest
// ArrayBuffer the runtime makes (lib passes buffer.constants.MAX_LENGTH); without it, 2^32, the smallest
// limit of a 64-bit Node since v15. Node refuses a longer external buffer and runs its finalizer itself, so
// a longer block must be refused before it is wrapped.
ArenaWrap::ArenaWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArenaWrap>(info) {
  Napi::Env env = info.Env();
  constexpr int64_t kMaxBytes = int64_t{1} << 46;
  ArenaOptions options;
  options.capacity = static_cast<size_t>(int_arg(info, 0, "capacity", 64, kMaxBytes));
  options.chunk_size = static_cast<size_t>(int_arg(info, 1, "chunkSize", 1, kMaxBytes));
  options.initial_size = static_cast<size_t>(int_arg(info, 2, "initialSize", 0, kMaxBytes));
  max_block_bytes_ = info[3].IsUndefined() ? size_t{1} << 32
                                           : static_cast<size_t>(int_arg(info, 3, "maxBlockBytes", 1, (int64_t{1} << 53) - 1));
  napi_env raw_env = env;
  guarded(env, [&] {
    arena_ = std::make_shared<Arena>(options, [raw_env](int64_t delta) {
      int64_t ignored = 0;
      napi_adjust_external_memory(raw_env, delta, &ignored);
    });
    return env.Undefined();
  });
}

Arena& ArenaWrap::live(Napi::Env env) {
  if (!arena_) throw_error(env, "EDGEINFER_DISPOSED", "the arena was disposed");
  return *arena_;
}

// alloc(length, elementSize): a block of length * elementSize bytes (64-bit, overflow-checked).
Napi::Value ArenaWrap::alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arena& arena = live(env);
  const auto length = static_cast<size_t>(int_arg(info, 0, "length", 1, (int64_t{1} << 53) - 1));
  const auto element_size = static_cast<size_t>(int_arg(info, 1, "elementSize", 1, 8));
  return guarded(env, [&]() -> Napi::Value {
    const size_t bytes = Arena::array_bytes(length, element_size);
    if (bytes > max_block_bytes_)
      throw_invalid(env, "a block of " + std::to_string(length) + " x " + std::to_string(element_size) + " = " +
                             std::to_string(bytes) + " bytes is larger than the largest ArrayBuffer of this runtime (" +
                             std::to_string(max_block_bytes_) + " bytes)");
    const size_t before = arena.mark();
    void* data = arena.allocate(bytes);
    try {
      auto hint = std::make_unique<std::shared_ptr<Arena>>(arena_);
      Napi::Value result;
      bool wrapped = false;
      try {
        wrapped = external_arraybuffer(env, data, bytes, release_arena_reference, hint.get(), result);
      } catch (...) {
        // Node may already have run or scheduled release_arena_reference (it does when it refuses a
        // length): leave the hint to it. At worst one arena reference leaks; freeing it twice would crash.
        hint.release();
        throw;
      }
      if (wrapped) {
        hint.release();  // the buffer owns it now
        return result;
      }
      return Napi::ArrayBuffer::New(env, bytes);  // copy fallback: a buffer of its own
    } catch (...) {
      arena.reset(before);  // no view of the block exists: it goes back
      throw;
    }
  });
}

Napi::Value ArenaWrap::mark(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live(info.Env()).mark()));
}

Napi::Value ArenaWrap::reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arena& arena = live(env);
  const auto position = info[0].IsUndefined() ? 0 : static_cast<size_t>(int_arg(info, 0, "mark", 0, int64_t{1} << 52));
  return guarded(env, [&] {
    arena.reset(position);
    return env.Undefined();
  });
}

Napi::Value ArenaWrap::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ArenaStats stats = live(env).stats();
  Napi::Object result = Napi::Object::New(env);
  result.Set("capacity", static_cast<double>(stats.capacity));
  result.Set("reserved", static_cast<double>(stats.reserved));
  result.Set("used", static_cast<double>(stats.used));
  result.Set("peak", static_cast<double>(stats.peak));
  result.Set("chunks", static_cast<double>(stats.chunks));
  result.Set("allocations", static_cast<double>(stats.allocations));
  result.Set("zeroCopy", external_buffers_enabled(env));
  return result;
}

Napi::Value ArenaWrap::dispose(const Napi::CallbackInfo& info) {
  arena_.reset();
  return info.Env().Undefined();
}

}  // namespace edgeinfer::binding
