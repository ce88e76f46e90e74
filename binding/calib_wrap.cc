// NativeCalibrator: one tensor's streaming calibration statistics (cpp/calib).
//   new NativeCalibrator(bins, averagingConstant)
//   add(values: Float32Array, async): sync reads the values in place (the scan is short and no JS runs
//     meanwhile); async copies them first, so the caller may detach or reuse the array at once, and returns
//     a promise. Batches from overlapping async calls are added one at a time, in no promised order.
//   compute(method, symmetric, dtype, percentile, movingAverage, async) -> { scale, zeroPoint, qmin, qmax,
//     min, max, threshold } (or a promise of it): the search runs on a snapshot of the statistics.
//   stats(), histogram() (a copy of the 2 * bins signed counts), dispose(), disposed
//   NativeCalibrator.channelParams(x, outer, channels, inner, symmetric, dtype) -> { scales, zeroPoints }
#include "calib_wrap.h"

#include <cmath>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "edgeinfer/calib/histogram.h"
#include "edgeinfer/calib/threshold.h"
#include "call_memory.h"
#include "edgeinfer/error.h"

namespace edgeinfer::binding {

struct CalibratorWrap::State {
  explicit State(const calib::StatisticsOptions& options) : statistics(options) {}
  std::mutex mutex;  // async adds run on the libuv pool; every reader and writer takes it
  calib::TensorStatistics statistics;
};

namespace {

// Tells a NativeCalibrator apart from any other object passed where one is expected (run's observers).
constexpr napi_type_tag kCalibratorTag = {0x6564676569636c62ULL, 0x63616c6962763031ULL};

calib::ThresholdOptions threshold_options(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  calib::ThresholdOptions options;
  if (!info[0].IsString()) throw_invalid(env, "method must be a string");
  const std::string method = info[0].As<Napi::String>().Utf8Value();
  if (!calib::parse_method(method, options.method))
    throw_invalid(env, "method must be one of 'minmax', 'percentile', 'entropy', 'mse', got '" + method + "'");
  options.symmetric = bool_arg(info, 1, "symmetric");
  if (!info[2].IsString()) throw_invalid(env, "dtype must be a string");
  const std::string dtype = info[2].As<Napi::String>().Utf8Value();
  if (!calib::parse_quantized_type(dtype, options.type))
    throw_invalid(env, "dtype must be 'int8' or 'uint8', got '" + dtype + "'");
  options.percentile = number_arg(info, 3, "percentile");
  options.moving_average = bool_arg(info, 4, "movingAverage");
  guarded(env, [&] {
    calib::validate(options);
    return env.Undefined();
  });
  return options;
}

Napi::Object calibration_object(Napi::Env env, const calib::Calibration& c) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("scale", static_cast<double>(c.params.scale));
  result.Set("zeroPoint", c.params.zero_point);
  result.Set("qmin", c.params.qmin);
  result.Set("qmax", c.params.qmax);
  result.Set("min", c.range_min);
  result.Set("max", c.range_max);
  result.Set("threshold", c.threshold);
  return result;
}

// Runs the threshold search off the JS thread on a snapshot of the statistics; Execute touches no N-API.
class ComputeWorker : public Napi::AsyncWorker {
 public:
  ComputeWorker(Napi::Env env, calib::TensorStatistics snapshot, const calib::ThresholdOptions& options)
      : Napi::AsyncWorker(env, "edgeinfer:calibrate"),
        deferred_(Napi::Promise::Deferred::New(env)),
        snapshot_(std::move(snapshot)),
        options_(options) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = calib::calibrate(snapshot_, options_);
    } catch (const edgeinfer::Error& error) {
      code_ = error_code_name(error.code());
      SetError(error.what());
    } catch (const std::bad_alloc&) {
      code_ = "EDGEINFER_OUT_OF_MEMORY";
      SetError("native allocation failed");
    } catch (const std::exception& error) {
      SetError(error.what());
    }
  }

  // As KernelWorker (common.cc): a terminated worker thread's environment has nothing left to settle into.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      Napi::AsyncWorker::OnWorkComplete(env, status);
    } catch (...) {
      Destroy();
    }
  }

  void OnOK() override { deferred_.Resolve(calibration_object(Env(), result_)); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(make_error(Env(), code_, error.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  calib::TensorStatistics snapshot_;
  calib::ThresholdOptions options_;
  calib::Calibration result_;
  std::string code_ = "EDGEINFER_INTERNAL";
};

}  // namespace

Napi::Function CalibratorWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeCalibrator",
                     {
                         InstanceMethod<&CalibratorWrap::add>("add"),
                         InstanceMethod<&CalibratorWrap::compute>("compute"),
                         InstanceMethod<&CalibratorWrap::stats>("stats"),
                         InstanceMethod<&CalibratorWrap::histogram>("histogram"),
                         InstanceMethod<&CalibratorWrap::dispose>("dispose"),
                         InstanceAccessor<&CalibratorWrap::disposed>("disposed"),
                         StaticMethod<&CalibratorWrap::channel_params>("channelParams"),
                     });
}

CalibratorWrap::CalibratorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CalibratorWrap>(info) {
  Napi::Env env = info.Env();
  calib::StatisticsOptions options;
  options.bins = static_cast<int32_t>(
      int_arg(info, 0, "bins", calib::TensorStatistics::kMinBins, calib::TensorStatistics::kMaxBins));
  options.averaging_constant = number_arg(info, 1, "averagingConstant");
  guarded(env, [&] {
    state_ = std::make_shared<State>(options);
    return env.Undefined();
  });
  info.This().As<Napi::Object>().TypeTag(&kCalibratorTag);
  reported_bytes_ = static_cast<int64_t>(state_->statistics.signed_counts().size() * sizeof(uint64_t));
  Napi::MemoryManagement::AdjustExternalMemory(env, reported_bytes_);
}

CalibratorWrap::~CalibratorWrap() {
  if (reported_bytes_ != 0) {
    int64_t ignored = 0;
    napi_adjust_external_memory(Env(), -reported_bytes_, &ignored);
  }
}

void CalibratorWrap::release_memory_report(Napi::Env env) {
  if (reported_bytes_ == 0) return;
  Napi::MemoryManagement::AdjustExternalMemory(env, -reported_bytes_);
  reported_bytes_ = 0;
}

std::shared_ptr<CalibratorWrap::State> CalibratorWrap::live(Napi::Env env) {
  if (!state_) throw_error(env, "EDGEINFER_DISPOSED", "the calibrator was disposed");
  return state_;
}

Napi::Value CalibratorWrap::add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<State> state = live(env);
  const TypedArrayArg values = typed_array_arg(info, 0, {napi_float32_array}, "values");
  const bool async = bool_arg(info, 1, "async");
  auto memory = std::make_shared<CallMemory>(async);
  const auto* data = values.length == 0 ? nullptr : static_cast<const float*>(memory->input(values, values.length * sizeof(float)));
  const size_t count = values.length;
  return run_kernel(env, std::move(memory), [state, data, count] {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->statistics.add(data, count);
  });
}

std::function<void(const float*, size_t)> CalibratorWrap::sink(Napi::Env env, Napi::Value value, const std::string& where) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kCalibratorTag)) throw_invalid(env, where + " must be a NativeCalibrator");
  std::shared_ptr<State> state = Napi::ObjectWrap<CalibratorWrap>::Unwrap(value.As<Napi::Object>())->state_;
  if (!state) throw_error(env, "EDGEINFER_DISPOSED", where + ": the calibrator was disposed");
  return [state](const float* data, size_t count) {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->statistics.add(data, count);
  };
}

Napi::Value CalibratorWrap::compute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<State> state = live(env);
  const calib::ThresholdOptions options = threshold_options(info);
  const bool async = bool_arg(info, 5, "async");
  return guarded(env, [&]() -> Napi::Value {
    if (!async) {
      std::lock_guard<std::mutex> lock(state->mutex);
      return calibration_object(env, calib::calibrate(state->statistics, options));
    }
    calib::TensorStatistics snapshot = [&] {
      std::lock_guard<std::mutex> lock(state->mutex);
      return state->statistics;
    }();
    auto* worker = new ComputeWorker(env, std::move(snapshot), options);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value CalibratorWrap::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<State> state = live(env);
  std::lock_guard<std::mutex> lock(state->mutex);
  const calib::TensorStatistics& s = state->statistics;
  const bool any = s.finite_count() > 0;
  const double nan = std::nan("");
  Napi::Object result = Napi::Object::New(env);
  result.Set("bins", s.bins());
  result.Set("count", static_cast<double>(s.finite_count()));
  result.Set("nanCount", static_cast<double>(s.nan_count()));
  result.Set("infCount", static_cast<double>(s.inf_count()));
  result.Set("batches", static_cast<double>(s.batches()));
  result.Set("min", any ? static_cast<double>(s.min()) : nan);
  result.Set("max", any ? static_cast<double>(s.max()) : nan);
  result.Set("movingMin", any ? s.moving_min() : nan);
  result.Set("movingMax", any ? s.moving_max() : nan);
  result.Set("binWidth", s.bin_width());
  return result;
}

Napi::Value CalibratorWrap::histogram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<State> state = live(env);
  std::lock_guard<std::mutex> lock(state->mutex);
  const std::vector<uint64_t>& counts = state->statistics.signed_counts();
  Napi::Float64Array result = Napi::Float64Array::New(env, counts.size());
  for (size_t k = 0; k < counts.size(); ++k) result[k] = static_cast<double>(counts[k]);
  return result;
}

Napi::Value CalibratorWrap::dispose(const Napi::CallbackInfo& info) {
  state_.reset();  // an async add or compute in flight holds its own reference
  release_memory_report(info.Env());
  return info.Env().Undefined();
}

Napi::Value CalibratorWrap::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !state_); }

// channelParams(x, outer, channels, inner, symmetric, dtype): synchronous, over the caller's array in place.
Napi::Value CalibratorWrap::channel_params(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg x = typed_array_arg(info, 0, {napi_float32_array}, "x");
  const int64_t outer = int_arg(info, 1, "outer", 1, int64_t{1} << 40);
  const int64_t channels = int_arg(info, 2, "channels", 1, int64_t{1} << 32);
  const int64_t inner = int_arg(info, 3, "inner", 1, int64_t{1} << 40);
  const bool symmetric = bool_arg(info, 4, "symmetric");
  if (!info[5].IsString()) throw_invalid(env, "dtype must be a string");
  const std::string dtype = info[5].As<Napi::String>().Utf8Value();
  calib::QuantizedType type;
  if (!calib::parse_quantized_type(dtype, type)) throw_invalid(env, "dtype must be 'int8' or 'uint8', got '" + dtype + "'");
  const double count = static_cast<double>(outer) * static_cast<double>(channels) * static_cast<double>(inner);
  if (static_cast<double>(x.length) != count)
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "x must have outer*channels*inner = " +
                                                     std::to_string(static_cast<int64_t>(count)) + " elements, got " +
                                                     std::to_string(x.length));
  return guarded(env, [&]() -> Napi::Value {
    std::vector<calib::QuantizationParams> params(static_cast<size_t>(channels));
    calib::per_channel_params(static_cast<const float*>(x.data), outer, channels, inner, symmetric, type, params.data());
    Napi::Float32Array scales = Napi::Float32Array::New(env, params.size());
    Napi::Int32Array zero_points = Napi::Int32Array::New(env, params.size());
    for (size_t c = 0; c < params.size(); ++c) {
      scales[c] = params[c].scale;
      zero_points[c] = params[c].zero_point;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("scales", scales);
    result.Set("zeroPoints", zero_points);
    return result;
  });
}

}  // namespace edgeinfer::binding
