#pragma once

#include <memory>

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
};

// createModel(plan: PlanDesc, options: { threads: number, precision: 'float32' | 'int8' })
Napi::Value create_model(const Napi::CallbackInfo& info);

// stepOps(): the step ops the runtime registered (plan.h Step::op values).
Napi::Value step_ops_js(const Napi::CallbackInfo& info);

}  // namespace edgeinfer::binding
