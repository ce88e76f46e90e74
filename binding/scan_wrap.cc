#include "scan_wrap.h"

#include "common.h"
#include "edgeinfer/scan.h"

namespace edgeinfer::binding {

// Synchronous and in place: the scan is far shorter than a thread hop, and no JS runs meanwhile.
Napi::Value first_non_finite(const Napi::CallbackInfo& info) {
  const TypedArrayArg values = typed_array_arg(info, 0, {napi_float32_array, napi_float64_array}, "values");
  const auto n = static_cast<int64_t>(values.length);
  const int64_t index = values.data == nullptr ? -1
                        : values.type == napi_float32_array ? find_non_finite(static_cast<const float*>(values.data), n)
                                                            : find_non_finite(static_cast<const double*>(values.data), n);
  return Napi::Number::New(info.Env(), static_cast<double>(index));
}

}  // namespace edgeinfer::binding
