#pragma once

#include <memory>
#include <mutex>

#include "edgeinfer/aligned_buffer.h"

#include "call_memory.h"
#include "common.h"
#include "edgeinfer/runtime.h"

namespace edgeinfer::binding {

// A plan prepared for the native executor; made by createModel(), never by `new` from JS.
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  ~ModelWrap() override;

 private:
  Napi::Value run(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value disposed(const Napi::CallbackInfo& info);
  std::shared_ptr<Model> live(Napi::Env env) const;

  std::shared_ptr<Model> model_;
  int64_t reported_bytes_ = 0;
  std::shared_ptr<CopyCounters> copy_counters_ = std::make_shared<CopyCounters>();
  // Where observed outputs land (run's observers), reused from run to run: calibration makes thousands of
  // runs with dozens of observed tensors, and fresh memory each time only grew the heap. A run holds the mutex
  // from the model run until its observers have read the buffer.
  struct ObservationScratch {
    std::mutex mutex;
    AlignedBuffer buffer;
  };
  std::shared_ptr<ObservationScratch> observation_ = std::make_shared<ObservationScratch>();
};

// createModel(plan: PlanDesc, options: { threads: number, precision: 'float32' | 'int8' })
Napi::Value create_model(const Napi::CallbackInfo& info);

// stepOps(): the step ops the runtime registered (plan.h Step::op values).
Napi::Value step_ops_js(const Napi::CallbackInfo& info);

}  // namespace edgeinfer::binding
