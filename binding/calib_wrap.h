#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common.h"

namespace edgeinfer::binding {

// JS class over one tensor's calibration statistics (cpp/calib). See calib_wrap.cc for the surface.
class CalibratorWrap : public Napi::ObjectWrap<CalibratorWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit CalibratorWrap(const Napi::CallbackInfo& info);
  ~CalibratorWrap() override;

  struct State;

  // `value` as a live NativeCalibrator's statistics sink: a function that adds `count` floats as one batch,
  // safe on any thread, keeping the statistics alive while it exists. Throws a JS error naming `where` when
  // `value` is no NativeCalibrator or one that was disposed.
  static std::function<void(const float*, size_t)> sink(Napi::Env env, Napi::Value value, const std::string& where);

 private:
  std::shared_ptr<State> live(Napi::Env env);
  Napi::Value add(const Napi::CallbackInfo& info);
  Napi::Value compute(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value histogram(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  static Napi::Value channel_params(const Napi::CallbackInfo& info);

  void release_memory_report(Napi::Env env);

  std::shared_ptr<State> state_;
  int64_t reported_bytes_ = 0;
};

}  // namespace edgeinfer::binding
