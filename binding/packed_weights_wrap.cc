#include "packed_weights_wrap.h"

#include "edgeinfer/kernels.h"

namespace edgeinfer::binding {

namespace {
// Marks objects made by this addon so a look-alike JS object is never cast to PackedWeightsWrap.
constexpr napi_type_tag kPackedWeightsTag = {0x6564676569666e72ULL, 0x7061636b65647738ULL};
}  // namespace

Napi::Function PackedWeightsWrap::define(Napi::Env env) {
  return DefineClass(env, "PackedWeights",
                     {
                         InstanceMethod<&PackedWeightsWrap::dispose>("dispose"),
                         InstanceAccessor<&PackedWeightsWrap::k>("k"),
                         InstanceAccessor<&PackedWeightsWrap::n>("n"),
                         InstanceAccessor<&PackedWeightsWrap::bytes>("bytes"),
                         InstanceAccessor<&PackedWeightsWrap::kernel>("kernel"),
                         InstanceAccessor<&PackedWeightsWrap::disposed>("disposed"),
                     });
}

PackedWeightsWrap::PackedWeightsWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PackedWeightsWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal())
    throw_invalid(env, "PackedWeights cannot be constructed directly; use packWeights()");
  auto* packed = info[0].As<Napi::External<std::shared_ptr<const PackedWeightsS8>>>().Data();
  weights_ = *packed;
  info.This().As<Napi::Object>().TypeTag(&kPackedWeightsTag);
  reported_bytes_ = static_cast<int64_t>(weights_->bytes());
  Napi::MemoryManagement::AdjustExternalMemory(env, reported_bytes_);
}

PackedWeightsWrap::~PackedWeightsWrap() {
  // Collected without dispose(): give the accounting back (this runs in the finalizer, on the JS thread).
  if (reported_bytes_ != 0) {
    int64_t ignored = 0;
    napi_adjust_external_memory(Env(), -reported_bytes_, &ignored);
  }
}

void PackedWeightsWrap::release(Napi::Env env) {
  if (!weights_) return;
  weights_.reset();
  Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
  reported_bytes_ = 0;
}

std::shared_ptr<const PackedWeightsS8> PackedWeightsWrap::unwrap(Napi::Env env, Napi::Value value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kPackedWeightsTag))
    throw_invalid(env, "weights must be a PackedWeights made by packWeights()");
  PackedWeightsWrap* wrap = Unwrap(value.As<Napi::Object>());
  if (!wrap->weights_) throw_error(env, "EDGEINFER_DISPOSED", "the PackedWeights were disposed");
  return wrap->weights_;
}

Napi::Value PackedWeightsWrap::dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value PackedWeightsWrap::k(const Napi::CallbackInfo& info) {
  return weights_ ? Napi::Number::New(info.Env(), static_cast<double>(weights_->k)) : info.Env().Undefined();
}
Napi::Value PackedWeightsWrap::n(const Napi::CallbackInfo& info) {
  return weights_ ? Napi::Number::New(info.Env(), static_cast<double>(weights_->n)) : info.Env().Undefined();
}
Napi::Value PackedWeightsWrap::bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), weights_ ? static_cast<double>(weights_->bytes()) : 0.0);
}
Napi::Value PackedWeightsWrap::kernel(const Napi::CallbackInfo& info) {
  return weights_ ? Napi::String::New(info.Env(), weights_->variant->name) : info.Env().Undefined();
}
Napi::Value PackedWeightsWrap::disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !weights_);
}

Napi::Value pack_weights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg weights = typed_array_arg(info, 0, {napi_int8_array}, "weights");
  const int64_t k = int_arg(info, 1, "k", 1, int64_t{1} << 24);
  const int64_t n = int_arg(info, 2, "n", 1, int64_t{1} << 24);
  const bool layout_nk = bool_arg(info, 3, "layoutNK");
  const TypedArrayArg scales = optional_typed_array_arg(info, 4, {napi_float32_array}, "scales");
  const TypedArrayArg bias = optional_typed_array_arg(info, 5, {napi_float32_array}, "bias");
  if (static_cast<double>(weights.length) != static_cast<double>(k) * static_cast<double>(n))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH",
                "weights has " + std::to_string(weights.length) + " elements, expected k*n = " + std::to_string(k * n));
  if (scales.data && scales.length != 1 && scales.length != static_cast<size_t>(n))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "scales must have 1 or n = " + std::to_string(n) + " elements");
  if (bias.data && bias.length != static_cast<size_t>(n))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "bias must have n = " + std::to_string(n) + " elements");

  return guarded(env, [&]() -> Napi::Value {
    PackWeightsArgs args;
    args.weights = static_cast<const int8_t*>(weights.data);
    args.k = k;
    args.n = n;
    args.layout = layout_nk ? WeightLayout::kNK : WeightLayout::kKN;
    args.scales = static_cast<const float*>(scales.data);
    args.scale_count = scales.data ? static_cast<int64_t>(scales.length) : 0;
    args.bias = static_cast<const float*>(bias.data);
    auto packed = std::make_shared<const PackedWeightsS8>(pack_weights_s8(args));
    auto external = Napi::External<std::shared_ptr<const PackedWeightsS8>>::New(env, &packed);
    return instance(env).packed_weights_constructor.New({external});
  });
}

}  // namespace edgeinfer::binding
