#pragma once

#include "common.h"

namespace edgeinfer::binding {
Napi::Value gemm_s8(const Napi::CallbackInfo& info);
}
