// firstNonFinite(array: Float32Array | Float64Array): index of the first NaN / ±Infinity, or -1.
#pragma once

#include <napi.h>

namespace edgeinfer::binding {

Napi::Value first_non_finite(const Napi::CallbackInfo& info);

}  // namespace edgeinfer::binding
