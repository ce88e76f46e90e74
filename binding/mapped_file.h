#pragma once

#include "common.h"

namespace edgeinfer::binding {
// mapFile(path, offset, length): ArrayBuffer of file bytes [offset, offset + length), memory-mapped.
Napi::Value map_file(const Napi::CallbackInfo& info);
// externalBuffersEnabled(): false once external ArrayBuffers were refused or forced off (results are copies).
Napi::Value external_buffers_enabled_js(const Napi::CallbackInfo& info);
}  // namespace edgeinfer::binding
