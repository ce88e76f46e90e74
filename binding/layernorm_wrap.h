#pragma once

#include "common.h"

namespace edgeinfer::binding {
Napi::Value layer_norm(const Napi::CallbackInfo& info);
Napi::Value gelu(const Napi::CallbackInfo& info);
}
