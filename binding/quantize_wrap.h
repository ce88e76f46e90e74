#pragma once

#include "common.h"

namespace edgeinfer::binding {
Napi::Value quantize(const Napi::CallbackInfo& info);
Napi::Value dequantize(const Napi::CallbackInfo& info);
}
