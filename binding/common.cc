#include "common.h"

#include <cstdlib>
#include <new>

#include "call_memory.h"
#include "edgeinfer/error.h"

namespace edgeinfer::binding {

InstanceData& instance(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_error(env, code, message);
}

void throw_invalid(Napi::Env env, const std::string& message) {
  throw_error(env, "EDGEINFER_INVALID_ARGUMENT", message);
}

Napi::Value guarded(Napi::Env env, const std::function<Napi::Value()>& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const edgeinfer::Error& error) {
    throw_error(env, error_code_name(error.code()), error.what());
  } catch (const std::bad_alloc&) {
    throw_error(env, "EDGEINFER_OUT_OF_MEMORY", "native allocation failed");
  } catch (const std::exception& error) {
    throw_error(env, "EDGEINFER_INTERNAL", error.what());
  }
}

bool external_buffers_enabled(Napi::Env env) {
  const char* forced_off = std::getenv("EDGEINFER_NO_EXTERNAL_BUFFERS");
  return instance(env).external_buffers_allowed && !(forced_off != nullptr && forced_off[0] == '1');
}

bool external_arraybuffer(Napi::Env env, void* data, size_t length, napi_finalize finalize, void* hint, Napi::Value& out) {
  if (!external_buffers_enabled(env)) return false;
  napi_value result;
  const napi_status status = napi_create_external_arraybuffer(env, data, length, finalize, hint, &result);
  if (status == napi_ok) {
    out = Napi::Value(env, result);
    return true;
  }
  if (status != napi_no_external_buffers_allowed) NAPI_THROW_IF_FAILED(env, status, false);
  instance(env).external_buffers_allowed = false;
  return false;
}

const char* typed_array_type_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";  // kinds newer than the headers we build against (Float16Array)
  }
}

size_t typed_array_element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 1;
  }
}

bool view_bytes(Napi::Env env, napi_value value, ViewBytes& out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_value buffer;
  void* data = nullptr;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &out.type, &out.element_length, &data, &buffer, &offset) != napi_ok) return false;
  out.data = static_cast<uint8_t*>(data);  // already advanced by the byte offset
  out.byte_length = out.element_length * typed_array_element_size(out.type);
  bool is_array_buffer = false;
  napi_is_arraybuffer(env, buffer, &is_array_buffer);
  out.detached = false;
  if (is_array_buffer) napi_is_detached_arraybuffer(env, buffer, &out.detached);  // a SharedArrayBuffer never detaches
  return true;
}

TypedArrayArg typed_array_arg(const Napi::CallbackInfo& info, size_t index,
                              std::initializer_list<napi_typedarray_type> types, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  std::string expected;
  for (auto type : types) expected += std::string(expected.empty() ? "" : " or ") + typed_array_type_name(type);
  if (!value.IsTypedArray()) throw_invalid(env, std::string(name) + " must be a " + expected);
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  bool type_ok = false;
  for (auto type : types) type_ok = type_ok || array.TypedArrayType() == type;
  if (!type_ok)
    throw_invalid(env, std::string(name) + " must be a " + expected + ", got " +
                           typed_array_type_name(array.TypedArrayType()));
  ViewBytes bytes;
  if (!view_bytes(env, value, bytes)) throw_invalid(env, std::string(name) + " must be a " + expected);
  if (bytes.detached) throw_invalid(env, std::string(name) + " is backed by a detached ArrayBuffer");
  TypedArrayArg arg;
  arg.length = bytes.element_length;
  arg.type = bytes.type;
  arg.data = bytes.data;
  arg.value = value;
  return arg;
}

TypedArrayArg optional_typed_array_arg(const Napi::CallbackInfo& info, size_t index,
                                       std::initializer_list<napi_typedarray_type> types, const char* name) {
  if (info[index].IsNull() || info[index].IsUndefined()) return {};
  return typed_array_arg(info, index, types, name);
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Env env = info.Env();
  if (!info[index].IsNumber()) throw_invalid(env, std::string(name) + " must be a number");
  const double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= static_cast<double>(min) && value <= static_cast<double>(max)) || value != static_cast<double>(static_cast<int64_t>(value)))
    throw_invalid(env, std::string(name) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                           "], got " + info[index].ToString().Utf8Value());
  return static_cast<int64_t>(value);
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsNumber()) throw_invalid(info.Env(), std::string(name) + " must be a number");
  return info[index].As<Napi::Number>().DoubleValue();
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (!info[index].IsBoolean()) throw_invalid(info.Env(), std::string(name) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

namespace {

class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::shared_ptr<CallMemory> memory, std::function<void()> work, const std::vector<Napi::Value>& pins)
      : Napi::AsyncWorker(env, "edgeinfer:kernel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        memory_(std::move(memory)),
        work_(std::move(work)) {
    for (const Napi::Value& pin : pins)
      if (!pin.IsEmpty() && !pin.IsUndefined() && !pin.IsNull()) pins_.push_back(Napi::Persistent(pin.As<Napi::Object>()));
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (const edgeinfer::Error& error) {
      code_ = error_code_name(error.code());
      SetError(error.what());
    } catch (const std::bad_alloc&) {
      code_ = "EDGEINFER_OUT_OF_MEMORY";
      SetError("native allocation failed");
    } catch (const std::exception& error) {
      code_ = "EDGEINFER_INTERNAL";
      SetError(error.what());
    }
  }

  // A worker thread's environment can be torn down (worker.terminate()) while this work is queued; then
  // settling the promise fails and there is nothing left to settle it into: drop the result, never abort.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      Napi::AsyncWorker::OnWorkComplete(env, status);  // settles the promise, then Destroy()
    } catch (...) {
      Destroy();  // thrown before the base reached Destroy() (opening its handle scope)
    }
  }

  void OnOK() override {
    try {
      memory_->deliver(Env());
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
      return;
    }
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& error) override {
    deferred_.Reject(make_error(Env(), code_, error.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<CallMemory> memory_;
  std::function<void()> work_;
  std::vector<Napi::ObjectReference> pins_;
  std::string code_ = "EDGEINFER_INTERNAL";
};

}  // namespace

Napi::Value run_kernel(Napi::Env env, std::shared_ptr<CallMemory> memory, std::function<void()> work,
                       const std::vector<Napi::Value>& pins) {
  if (!memory->async()) {
    return guarded(env, [&] {
      work();
      return env.Undefined();
    });
  }
  auto* worker = new KernelWorker(env, std::move(memory), std::move(work), pins);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace edgeinfer::binding
