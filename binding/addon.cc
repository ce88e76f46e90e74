// Module entry: registers the classes and functions. State is per environment, so the addon loads in
// worker_threads too.
#include "arena_wrap.h"
#include "calib_wrap.h"
#include "common.h"
#include "gemm_wrap.h"
#include "layernorm_wrap.h"
#include "mapped_file.h"
#include "model_wrap.h"
#include "packed_weights_wrap.h"
#include "precise_timer.h"
#include "quantize_wrap.h"
#include "scan_wrap.h"
#include "simd_info.h"

namespace edgeinfer::binding {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* state = new InstanceData();
  Napi::Function arena = ArenaWrap::define(env);
  Napi::Function packed = PackedWeightsWrap::define(env);
  state->arena_constructor = Napi::Persistent(arena);
  state->packed_weights_constructor = Napi::Persistent(packed);
  Napi::Function model = ModelWrap::define(env);
  state->model_constructor = Napi::Persistent(model);
  env.SetInstanceData<InstanceData>(state);

  exports.Set("NativeArena", arena);
  exports.Set("PackedWeights", packed);
  exports.Set("NativeModel", model);
  exports.Set("NativeCalibrator", CalibratorWrap::define(env));
  exports.Set("createModel", Napi::Function::New<create_model>(env, "createModel"));
  exports.Set("stepOps", Napi::Function::New<step_ops_js>(env, "stepOps"));
  exports.Set("packWeights", Napi::Function::New<pack_weights>(env, "packWeights"));
  exports.Set("gemmS8", Napi::Function::New<gemm_s8>(env, "gemmS8"));
  exports.Set("quantize", Napi::Function::New<quantize>(env, "quantize"));
  exports.Set("dequantize", Napi::Function::New<dequantize>(env, "dequantize"));
  exports.Set("layerNorm", Napi::Function::New<layer_norm>(env, "layerNorm"));
  exports.Set("gelu", Napi::Function::New<gelu>(env, "gelu"));
  exports.Set("mapFile", Napi::Function::New<map_file>(env, "mapFile"));
  exports.Set("externalBuffersEnabled", Napi::Function::New<external_buffers_enabled_js>(env, "externalBuffersEnabled"));
  exports.Set("simdInfo", Napi::Function::New<simd_info>(env, "simdInfo"));
  exports.Set("createPreciseTimer", Napi::Function::New<create_precise_timer>(env, "createPreciseTimer"));
  exports.Set("preciseTimerStart", Napi::Function::New<precise_timer_start>(env, "preciseTimerStart"));
  exports.Set("preciseTimerCancel", Napi::Function::New<precise_timer_cancel>(env, "preciseTimerCancel"));
  exports.Set("preciseTimerClose", Napi::Function::New<precise_timer_close>(env, "preciseTimerClose"));
  exports.Set("firstNonFinite", Napi::Function::New<first_non_finite>(env, "firstNonFinite"));
  return exports;
}

}  // namespace edgeinfer::binding

static Napi::Object init_module(Napi::Env env, Napi::Object exports) { return edgeinfer::binding::init(env, exports); }

NODE_API_MODULE(edgeinfer, init_module)
