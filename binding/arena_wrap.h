#pragma once

#include <cstddef>
#include <memory>

#include "common.h"

namespace edgeinfer {
class Arena;
}

namespace edgeinfer::binding {

class ArenaWrap : public Napi::ObjectWrap<ArenaWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit ArenaWrap(const Napi::CallbackInfo& info);

 private:
  Arena& live(Napi::Env env);
  Napi::Value alloc(const Napi::CallbackInfo& info);
  Napi::Value mark(const Napi::CallbackInfo& info);
  Napi::Value reset(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<Arena> arena_;
  size_t max_block_bytes_ = 0;  // the largest block alloc() hands out: the runtime's ArrayBuffer limit
};

}  // namespace edgeinfer::binding
