#pragma once

#include "common.h"

namespace edgeinfer::binding {
Napi::Value simd_info(const Napi::CallbackInfo& info);
}
