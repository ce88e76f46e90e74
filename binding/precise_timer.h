#pragma once

#include "common.h"

namespace edgeinfer::binding {
// createPreciseTimer(callback) -> handle; preciseTimerStart(handle, micros); preciseTimerCancel(handle);
// preciseTimerClose(handle). See precise_timer.cc.
Napi::Value create_precise_timer(const Napi::CallbackInfo& info);
Napi::Value precise_timer_start(const Napi::CallbackInfo& info);
Napi::Value precise_timer_cancel(const Napi::CallbackInfo& info);
Napi::Value precise_timer_close(const Napi::CallbackInfo& info);
}  // namespace edgeinfer::binding
