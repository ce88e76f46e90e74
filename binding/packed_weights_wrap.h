#pragma once

#include <memory>

#include "common.h"
#include "edgeinfer/packed_weights.h"

namespace edgeinfer::binding {

// Weights packed once for the GEMM kernel; made by packWeights(), never by `new` from JS.
class PackedWeightsWrap : public Napi::ObjectWrap<PackedWeightsWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit PackedWeightsWrap(const Napi::CallbackInfo& info);
  ~PackedWeightsWrap() override;

  // The packed weights behind a JS value, after checking its type tag; throws DISPOSED / INVALID_ARGUMENT.
  static std::shared_ptr<const PackedWeightsS8> unwrap(Napi::Env env, Napi::Value value);

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value k(const Napi::CallbackInfo& info);
  Napi::Value n(const Napi::CallbackInfo& info);
  Napi::Value bytes(const Napi::CallbackInfo& info);
  Napi::Value kernel(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  void release(Napi::Env env);

  std::shared_ptr<const PackedWeightsS8> weights_;
  int64_t reported_bytes_ = 0;
};

// packWeights(weights: Int8Array, k, n, layoutNK: boolean, scales: Float32Array | null, bias: Float32Array | null)
Napi::Value pack_weights(const Napi::CallbackInfo& info);

}  // namespace edgeinfer::binding
