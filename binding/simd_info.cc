// simdInfo(): the CPU's features, the ISA ceiling, and the kernel chosen per operation plus what was compiled.
#include "simd_info.h"

#include <sstream>

#include "edgeinfer/cpu_features.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::binding {

namespace {

template <typename Variant>
Napi::Object describe(Napi::Env env, const Variant* chosen, std::span<const Variant* const> compiled) {
  Napi::Object entry = Napi::Object::New(env);
  entry.Set("kernel", chosen->name);
  entry.Set("isa", isa_name(chosen->isa));
  Napi::Array names = Napi::Array::New(env);
  uint32_t index = 0;
  for (const Variant* variant : compiled) {
    Napi::Object item = Napi::Object::New(env);
    item.Set("kernel", variant->name);
    item.Set("isa", isa_name(variant->isa));
    item.Set("supported", isa_supported(variant->isa));
    names.Set(index++, item);
  }
  entry.Set("compiled", names);
  return entry;
}

}  // namespace

Napi::Value simd_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const KernelTable& table = kernels();
    Napi::Object result = Napi::Object::New(env);
#if defined(__x86_64__)
    result.Set("arch", "x64");
#elif defined(__aarch64__)
    result.Set("arch", "arm64");
#else
    result.Set("arch", "unknown");
#endif
    Napi::Array features = Napi::Array::New(env);
    std::istringstream names(cpu_feature_names(cpu_features()));
    std::string name;
    uint32_t index = 0;
    while (names >> name) features.Set(index++, name);
    result.Set("features", features);
    result.Set("isa", isa_name(table.ceiling));
    result.Set("forced", table.forced);
    Napi::Object chosen = Napi::Object::New(env);
    chosen.Set("gemmS8", describe(env, table.gemm_s8, gemm_s8_variants()));
    chosen.Set("quantize", describe(env, table.quantize, quantize_variants()));
    chosen.Set("layerNormGelu", describe(env, table.layernorm_gelu, layernorm_gelu_variants()));
    chosen.Set("gemmF32", describe(env, table.gemm_f32, gemm_f32_variants()));
    result.Set("kernels", chosen);
    return result;
  });
}

}  // namespace edgeinfer::binding
