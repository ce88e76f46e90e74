// JS class over edgeinfer::Arena. alloc() returns an ArrayBuffer that points into the arena (zero copy);
// each such buffer holds a reference to the arena, so arena memory outlives dispose() until the last view
// is collected. Where the runtime refuses external buffers (Electron) alloc() falls back to a plain copy.
#include "arena_wrap.h"

#include <memory>

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

// new NativeArena(capacity, chunkSize, initialSize)
ArenaWrap::ArenaWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ArenaWrap>(info) {
  Napi::Env env = info.Env();
  ArenaOptions options;
  options.capacity = static_cast<size_t>(int_arg(info, 0, "capacity", 1, int64_t{1} << 46));
  options.chunk_size = static_cast<size_t>(int_arg(info, 1, "chunkSize", 1, int64_t{1} << 46));
  options.initial_size = static_cast<size_t>(int_arg(info, 2, "initialSize", 0, int64_t{1} << 46));
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

Napi::Value ArenaWrap::alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Arena& arena = live(env);
  const auto bytes = static_cast<size_t>(int_arg(info, 0, "bytes", 1, int64_t{1} << 46));
  return guarded(env, [&]() -> Napi::Value {
    void* data = arena.allocate(bytes);
    auto hint = std::make_unique<std::shared_ptr<Arena>>(arena_);
    Napi::Value result;
    if (external_arraybuffer(env, data, bytes, release_arena_reference, hint.get(), result)) {
      hint.release();  // the buffer owns it now
      return result;
    }
    return Napi::ArrayBuffer::New(env, bytes);  // copy fallback: a buffer of its own
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
