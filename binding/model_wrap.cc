// JS surface of the native executor: createModel() converts a plan description (every field type-checked)
// into an edgeinfer::Plan, which Model::create validates and prepares; NativeModel.run() checks each
// buffer against its slot and runs synchronously or on the libuv pool. A running async call holds the
// model (shared_ptr), so dispose() during it is safe.
#include "model_wrap.h"

#include "call_memory.h"
#include "calib_wrap.h"

#include <cmath>
#include <functional>
#include <utility>
#include <string>
#include <vector>

namespace edgeinfer::binding {

namespace {

constexpr napi_type_tag kModelTag = {0x6564676569666e72ULL, 0x6d6f64656c763031ULL};

// ------------------------------------------------------------------ plan description -> Plan
class Reader {
 public:
  explicit Reader(Napi::Env env) : env_(env) {}

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    throw_error(env_, "EDGEINFER_MODEL_INVALID", "plan: " + where + ": " + problem);
  }

  Napi::Object object(Napi::Value value, const std::string& where) const {
    if (!value.IsObject() || value.IsArray()) fail(where, "must be an object");
    return value.As<Napi::Object>();
  }

  Napi::Array array(Napi::Value value, const std::string& where, uint32_t max = 1u << 24) const {
    if (!value.IsArray()) fail(where, "must be an array");
    Napi::Array a = value.As<Napi::Array>();
    if (a.Length() > max) fail(where, "has too many entries (" + std::to_string(a.Length()) + ")");
    return a;
  }

  int64_t integer(Napi::Value value, const std::string& where, int64_t min, int64_t max) const {
    if (!value.IsNumber()) fail(where, "must be a number");
    const double d = value.As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || std::trunc(d) != d)
      fail(where, "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return static_cast<int64_t>(d);
  }

  float number(Napi::Value value, const std::string& where) const {
    if (!value.IsNumber()) fail(where, "must be a number");
    return static_cast<float>(value.As<Napi::Number>().DoubleValue());
  }

  std::string string(Napi::Value value, const std::string& where) const {
    if (!value.IsString()) fail(where, "must be a string");
    return value.As<Napi::String>().Utf8Value();
  }

  template <typename T>
  std::vector<T> ints(Napi::Value value, const std::string& where, int64_t min, int64_t max) const {
    Napi::Array a = array(value, where);
    std::vector<T> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i)
      out[i] = static_cast<T>(integer(a.Get(i), where + "[" + std::to_string(i) + "]", min, max));
    return out;
  }

  std::vector<float> floats(Napi::Value value, const std::string& where) const {
    Napi::Array a = array(value, where);
    std::vector<float> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) out[i] = number(a.Get(i), where + "[" + std::to_string(i) + "]");
    return out;
  }

  std::shared_ptr<const std::vector<uint8_t>> bytes(Napi::Value value, const std::string& where) const {
    ViewBytes view;
    if (!view_bytes(env_, value, view)) fail(where, "must be a typed array");
    if (view.detached) fail(where, "is backed by a detached ArrayBuffer");
    const uint8_t* data = view.data;
    const size_t length = data == nullptr ? 0 : view.byte_length;
    return std::make_shared<const std::vector<uint8_t>>(data, data + length);
  }

  std::vector<Step> steps(Napi::Value value, const std::string& where) const {
    Napi::Array a = array(value, where);
    std::vector<Step> out(a.Length());
    constexpr int64_t kSlotMax = int64_t{1} << 30;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const std::string w = where + "[" + std::to_string(i) + "]";
      Napi::Object s = object(a.Get(i), w);
      Step& step = out[i];
      step.op = string(s.Get("op"), w + ".op");
      step.name = s.Has("name") && !s.Get("name").IsUndefined() ? string(s.Get("name"), w + ".name") : std::string();
      step.inputs = ints<int32_t>(s.Get("inputs"), w + ".inputs", -1, kSlotMax);
      step.outputs = ints<int32_t>(s.Get("outputs"), w + ".outputs", 0, kSlotMax);
      step.ints = s.Has("ints") && !s.Get("ints").IsUndefined()
                      ? ints<int64_t>(s.Get("ints"), w + ".ints", -(int64_t{1} << 53), int64_t{1} << 53)
                      : std::vector<int64_t>{};
      step.floats = s.Has("floats") && !s.Get("floats").IsUndefined() ? floats(s.Get("floats"), w + ".floats")
                                                                         : std::vector<float>{};
    }
    return out;
  }

  Plan plan(Napi::Value value) const {
    Napi::Object o = object(value, "plan");
    Plan plan;
    constexpr int64_t kSlotMax = int64_t{1} << 30;
    Napi::Array tensors = array(o.Get("tensors"), "tensors");
    plan.tensors.resize(tensors.Length());
    for (uint32_t i = 0; i < tensors.Length(); ++i) {
      const std::string w = "tensors[" + std::to_string(i) + "]";
      Napi::Object t = object(tensors.Get(i), w);
      TensorSlot& slot = plan.tensors[i];
      slot.dtype = static_cast<DType>(integer(t.Get("dtype"), w + ".dtype", 0, 255));
      slot.dims = ints<int64_t>(t.Get("dims"), w + ".dims", 0, int64_t{1} << 40);
      slot.storage = static_cast<Storage>(integer(t.Get("storage"), w + ".storage", 0, 3));
      slot.offset = t.Has("offset") && !t.Get("offset").IsUndefined()
                        ? integer(t.Get("offset"), w + ".offset", 0, int64_t{1} << 50) : 0;
      slot.binding = t.Has("binding") && !t.Get("binding").IsUndefined()
                         ? static_cast<int32_t>(integer(t.Get("binding"), w + ".binding", 0, kSlotMax)) : 0;
      Napi::Value constant = t.Get("constant");
      if (slot.storage == Storage::kConstant) {
        slot.constant = bytes(constant, w + ".constant");
      } else if (!constant.IsUndefined() && !constant.IsNull()) {
        fail(w, "only constant tensors (storage 1) carry data");
      }
    }
    plan.steps = steps(o.Get("steps"), "steps");
    plan.inputs = ints<int32_t>(o.Get("inputs"), "inputs", 0, kSlotMax);
    plan.outputs = ints<int32_t>(o.Get("outputs"), "outputs", 0, kSlotMax);
    plan.arena_bytes = integer(o.Get("arenaBytes"), "arenaBytes", 0, int64_t{1} << 50);
    Napi::Value subplans = o.Get("subplans");
    if (!subplans.IsUndefined()) {
      Napi::Array subs = array(subplans, "subplans");
      plan.subplans.resize(subs.Length());
      for (uint32_t i = 0; i < subs.Length(); ++i) {
        const std::string w = "subplans[" + std::to_string(i) + "]";
        Napi::Object s = object(subs.Get(i), w);
        plan.subplans[i].steps = steps(s.Get("steps"), w + ".steps");
        plan.subplans[i].outputs = ints<int32_t>(s.Get("outputs"), w + ".outputs", 0, kSlotMax);
      }
    }
    return plan;
  }

 private:
  Napi::Env env_;
};

// The typed array a slot of this dtype is passed as.
napi_typedarray_type array_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return napi_float32_array;
    case DType::kUint8: return napi_uint8_array;
    case DType::kInt8: return napi_int8_array;
    case DType::kUint16: return napi_uint16_array;
    case DType::kInt16: return napi_int16_array;
    case DType::kInt32: return napi_int32_array;
    case DType::kInt64: return napi_bigint64_array;
    case DType::kBool: return napi_uint8_array;
    case DType::kFloat16: return napi_uint16_array;
    case DType::kFloat64: return napi_float64_array;
    case DType::kUint32: return napi_uint32_array;
    case DType::kUint64: return napi_biguint64_array;
  }
  return napi_uint8_array;
}

// Checks `list` (a JS array of typed arrays) against the plan's bound slots. Every element is read first
// (reading an element can run a getter, which could detach a buffer already checked); the pointers are
// taken afterwards, through `memory` (copies / staging when the call is async).
// `skip[i]`: element i must be null (an observed output) and yields an empty TypedArrayArg.
std::vector<TypedArrayArg> read_buffers(Napi::Env env, Napi::Value list, const Plan& plan, const std::vector<int32_t>& slots,
                                        const char* what, const std::vector<bool>& skip = {}) {
  if (!list.IsArray()) throw_invalid(env, std::string(what) + " must be an array of typed arrays");
  Napi::Array array = list.As<Napi::Array>();
  if (array.Length() != slots.size())
    throw_invalid(env, std::string(what) + " has " + std::to_string(array.Length()) + " buffers, the model expects " +
                           std::to_string(slots.size()));
  std::vector<Napi::Value> values;
  for (uint32_t i = 0; i < array.Length(); ++i) values.push_back(array.Get(i));
  std::vector<TypedArrayArg> args;
  for (uint32_t i = 0; i < values.size(); ++i) {
    const std::string where = std::string(what) + "[" + std::to_string(i) + "]";
    Napi::Value value = values[i];
    if (i < skip.size() && skip[i]) {
      if (!value.IsNull()) throw_invalid(env, where + " must be null: that output is observed");
      args.emplace_back();
      continue;
    }
    const TensorSlot& slot = plan.tensors[static_cast<size_t>(slots[i])];
    const napi_typedarray_type expected = array_type(slot.dtype);
    if (!value.IsTypedArray()) throw_invalid(env, where + " must be a " + typed_array_type_name(expected));
    Napi::TypedArray t = value.As<Napi::TypedArray>();
    if (t.TypedArrayType() != expected)
      throw_invalid(env, where + " must be a " + std::string(typed_array_type_name(expected)) + ", got " +
                             typed_array_type_name(t.TypedArrayType()));
    ViewBytes bytes;
    if (!view_bytes(env, value, bytes) || bytes.detached) throw_invalid(env, where + " is backed by a detached ArrayBuffer");
    if (static_cast<int64_t>(t.ElementLength()) != slot.elements())
      throw_error(env, "EDGEINFER_SHAPE_MISMATCH",
                  where + " has " + std::to_string(t.ElementLength()) + " elements, the model expects " +
                      std::to_string(slot.elements()));
    TypedArrayArg arg;
    arg.value = value;
    arg.type = t.TypedArrayType();
    arg.length = t.ElementLength();
    args.push_back(arg);
  }
  return args;
}

}  // namespace

Napi::Function ModelWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {
                         InstanceMethod<&ModelWrap::run>("run"),
                         InstanceMethod<&ModelWrap::stats>("stats"),
                         InstanceMethod<&ModelWrap::dispose>("dispose"),
                         InstanceAccessor<&ModelWrap::disposed>("disposed"),
                     });
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal())
    throw_invalid(env, "NativeModel cannot be constructed directly; use createModel()");
  model_ = *info[0].As<Napi::External<std::shared_ptr<Model>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&kModelTag);
  const ModelStats s = model_->stats();
  reported_bytes_ = s.arena_bytes + s.scratch_bytes + s.weight_bytes + s.constant_bytes;
  Napi::MemoryManagement::AdjustExternalMemory(env, reported_bytes_);
}

ModelWrap::~ModelWrap() {
  if (reported_bytes_ != 0) {
    int64_t ignored = 0;
    napi_adjust_external_memory(Env(), -reported_bytes_, &ignored);
  }
}

std::shared_ptr<Model> ModelWrap::live(Napi::Env env) const {
  if (!model_) throw_error(env, "EDGEINFER_DISPOSED", "the model was disposed");
  return model_;
}

// run(inputs: TypedArray[], outputs: (TypedArray | null)[], async: boolean, observers?: (NativeCalibrator | null)[])
// observers[i], when given, receives output i as one calibration batch on the thread that ran the model, and
// outputs[i] must then be null: the values never reach JS (calibration reads dozens of intermediate tensors
// per batch; handing each to JS and back cost more than the run itself).
Napi::Value ModelWrap::run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info.This().As<Napi::Object>().CheckTypeTag(&kModelTag)) throw_invalid(env, "not a NativeModel");
  std::shared_ptr<Model> model = live(env);
  const bool async = bool_arg(info, 2, "async");
  const Plan& plan = model->plan();
  using Sink = std::function<void(const float*, size_t)>;
  std::vector<Sink> sinks(plan.outputs.size());
  std::vector<bool> observed(plan.outputs.size(), false);
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    if (!info[3].IsArray() || info[3].As<Napi::Array>().Length() != plan.outputs.size())
      throw_invalid(env, "observers must be an array with one entry per output");
    Napi::Array list = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value value = list.Get(i);
      if (value.IsNull() || value.IsUndefined()) continue;
      const std::string where = "observers[" + std::to_string(i) + "]";
      if (plan.tensors[static_cast<size_t>(plan.outputs[i])].dtype != DType::kFloat32)
        throw_invalid(env, where + ": only float32 outputs can be observed");
      sinks[i] = CalibratorWrap::sink(env, value, where);
      observed[i] = true;
    }
  }
  const std::vector<TypedArrayArg> input_args = read_buffers(env, info[0], plan, plan.inputs, "inputs");
  const std::vector<TypedArrayArg> output_args = read_buffers(env, info[1], plan, plan.outputs, "outputs", observed);
  // Async: inputs are copied now and outputs staged, so the caller may detach or resize its buffers at once.
  auto memory = std::make_shared<CallMemory>(async, copy_counters_);
  std::vector<const void*> inputs;
  std::vector<void*> outputs;
  std::vector<std::pair<size_t, size_t>> observations;  // per output: offset into the observation scratch, floats
  size_t observed_bytes = 0;
  for (size_t i = 0; i < input_args.size(); ++i) {
    const TensorSlot& slot = plan.tensors[static_cast<size_t>(plan.inputs[i])];
    inputs.push_back(memory->input(input_args[i], static_cast<size_t>(slot.elements()) * dtype_size(slot.dtype)));
  }
  for (size_t i = 0; i < output_args.size(); ++i) {
    const TensorSlot& slot = plan.tensors[static_cast<size_t>(plan.outputs[i])];
    const size_t bytes = static_cast<size_t>(slot.elements()) * dtype_size(slot.dtype);
    if (observed[i]) {
      outputs.push_back(nullptr);  // set in the run, inside the scratch
      observations.emplace_back(observed_bytes, static_cast<size_t>(slot.elements()));
      observed_bytes += align_up(bytes == 0 ? 1 : bytes);
    } else {
      outputs.push_back(memory->output(env, output_args[i], bytes, "outputs[" + std::to_string(i) + "]"));
      observations.emplace_back(0, 0);
    }
  }
  if (observed_bytes == 0) {
    return run_kernel(
        env, std::move(memory), [model, inputs = std::move(inputs), outputs = std::move(outputs)] { model->run(inputs.data(), outputs.data()); },
        {info.This()});
  }
  return run_kernel(
      env, std::move(memory),
      [model, inputs = std::move(inputs), outputs = std::move(outputs), observations = std::move(observations),
       sinks = std::move(sinks), scratch = observation_, observed_bytes]() mutable {
        std::lock_guard<std::mutex> lock(scratch->mutex);
        if (scratch->buffer.size() < observed_bytes) scratch->buffer = AlignedBuffer(observed_bytes);
        for (size_t i = 0; i < sinks.size(); ++i)
          if (sinks[i]) outputs[i] = scratch->buffer.data() + observations[i].first;
        model->run(inputs.data(), outputs.data());
        for (size_t i = 0; i < sinks.size(); ++i)
          if (sinks[i]) sinks[i](reinterpret_cast<const float*>(outputs[i]), observations[i].second);
      },
      {info.This()});
}

Napi::Value ModelWrap::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelStats s = live(env)->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arenaBytes", Napi::Number::New(env, static_cast<double>(s.arena_bytes)));
  o.Set("scratchBytes", Napi::Number::New(env, static_cast<double>(s.scratch_bytes)));
  o.Set("weightBytes", Napi::Number::New(env, static_cast<double>(s.weight_bytes)));
  o.Set("constantBytes", Napi::Number::New(env, static_cast<double>(s.constant_bytes)));
  o.Set("runs", Napi::Number::New(env, static_cast<double>(s.runs)));
  o.Set("threads", Napi::Number::New(env, s.threads));
  o.Set("asyncCalls", Napi::Number::New(env, static_cast<double>(copy_counters_->calls.load())));
  o.Set("asyncCopyBytes", Napi::Number::New(env, static_cast<double>(copy_counters_->bytes.load())));
  o.Set("asyncCopyNanoseconds", Napi::Number::New(env, static_cast<double>(copy_counters_->nanoseconds.load())));
  Napi::Array steps = Napi::Array::New(env, s.steps.size());
  for (size_t i = 0; i < s.steps.size(); ++i) {
    Napi::Object step = Napi::Object::New(env);
    step.Set("op", s.steps[i].op);
    step.Set("name", s.steps[i].name);
    step.Set("kernel", s.steps[i].kernel);
    step.Set("calls", Napi::Number::New(env, static_cast<double>(s.steps[i].calls)));
    step.Set("totalNanoseconds", Napi::Number::New(env, static_cast<double>(s.steps[i].total_ns)));
    steps.Set(static_cast<uint32_t>(i), step);
  }
  o.Set("steps", steps);
  return o;
}

Napi::Value ModelWrap::dispose(const Napi::CallbackInfo& info) {
  if (model_) {
    model_.reset();  // an async run still holds its own reference
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -reported_bytes_);
    reported_bytes_ = 0;
  }
  return info.Env().Undefined();
}

Napi::Value ModelWrap::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_); }

Napi::Value create_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Reader reader(env);
  Plan plan = reader.plan(info[0]);
  if (!info[1].IsObject()) throw_invalid(env, "options must be an object");
  Napi::Object options = info[1].As<Napi::Object>();
  ModelOptions model_options;
  Napi::Value threads = options.Get("threads");
  if (!threads.IsNumber()) throw_invalid(env, "options.threads must be a number");
  const double t = threads.As<Napi::Number>().DoubleValue();
  if (!(t >= 1 && t <= 256) || std::trunc(t) != t) throw_invalid(env, "options.threads must be an integer in [1, 256]");
  model_options.threads = static_cast<int>(t);
  Napi::Value precision = options.Get("precision");
  if (!precision.IsString()) throw_invalid(env, "options.precision must be 'float32' or 'int8'");
  const std::string p = precision.As<Napi::String>().Utf8Value();
  if (p == "float32") model_options.precision = Precision::kFloat32;
  else if (p == "int8") model_options.precision = Precision::kInt8;
  else throw_invalid(env, "options.precision must be 'float32' or 'int8', got '" + p + "'");
  Napi::Value profile = options.Get("profile");
  if (!profile.IsUndefined() && !profile.IsBoolean()) throw_invalid(env, "options.profile must be a boolean");
  model_options.profile = profile.IsBoolean() && profile.As<Napi::Boolean>().Value();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<Model> model = Model::create(std::move(plan), model_options);
    auto external = Napi::External<std::shared_ptr<Model>>::New(env, &model);
    return instance(env).model_constructor.New({external});
  });
}

Napi::Value step_ops_js(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> names = step_ops();
  Napi::Array array = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return array;
}

}  // namespace edgeinfer::binding
