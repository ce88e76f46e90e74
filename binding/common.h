// Shared by the wrap files: per-environment state, error mapping, typed-array argument extraction and
// the promise-returning worker that runs a kernel off the JS thread. No math or policy here.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace edgeinfer::binding {

// One per Node environment (main thread or worker_threads), set with SetInstanceData.
struct InstanceData {
  Napi::FunctionReference arena_constructor;
  Napi::FunctionReference packed_weights_constructor;
  Napi::FunctionReference model_constructor;
  bool external_buffers_allowed = true;  // flips to false the first time the runtime refuses one
};

InstanceData& instance(Napi::Env env);

// A JS Error with .code = "EDGEINFER_…"; lib/errors.ts turns it into an EdgeInferError at the call site.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_error(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void throw_invalid(Napi::Env env, const std::string& message);

// Runs `body`, turning core exceptions (edgeinfer::Error, bad_alloc, others) into JS errors with codes.
Napi::Value guarded(Napi::Env env, const std::function<Napi::Value()>& body);

// External ArrayBuffers (memory owned by native code) are used unless the runtime refused one (Electron) or
// EDGEINFER_NO_EXTERNAL_BUFFERS=1 forces the copy fallback (for tests).
bool external_buffers_enabled(Napi::Env env);
// Wraps `data` in an external ArrayBuffer whose collection calls finalize(hint); true and `out` set on
// success. False when external buffers are disabled or refused (remembered): the caller still owns `hint`
// and makes a copy. Throws on any other failure; then the runtime may already have run finalize(hint)
// (Node does for a length above its largest ArrayBuffer), so callers refuse such lengths beforehand.
bool external_arraybuffer(Napi::Env env, void* data, size_t length, napi_finalize finalize, void* hint, Napi::Value& out);

// "Float32Array" and so on, for error messages.
const char* typed_array_type_name(napi_typedarray_type type);

// A view's memory as it is now: its first byte (null when the buffer is detached, or may be for an empty
// view) and its byte length. Works for views on ArrayBuffer, resizable ArrayBuffer and SharedArrayBuffer
// alike (napi_get_arraybuffer_info / napi_is_detached_arraybuffer refuse a SharedArrayBuffer).
struct ViewBytes {
  uint8_t* data = nullptr;
  size_t byte_length = 0;
  size_t element_length = 0;
  napi_typedarray_type type = napi_int8_array;
  bool detached = false;
};
// False when `value` is not a typed array (DataViews are not accepted either).
bool view_bytes(Napi::Env env, napi_value value, ViewBytes& out);
size_t typed_array_element_size(napi_typedarray_type type);

struct TypedArrayArg {
  void* data = nullptr;
  size_t length = 0;  // elements
  napi_typedarray_type type = napi_int8_array;
  Napi::Value value;  // to pin it during async work
};

// Argument `index` must be a typed array of one of `types`, attached. `name` is for messages.
TypedArrayArg typed_array_arg(const Napi::CallbackInfo& info, size_t index, std::initializer_list<napi_typedarray_type> types,
                              const char* name);
// The same, or null/undefined -> an empty TypedArrayArg (data == nullptr).
TypedArrayArg optional_typed_array_arg(const Napi::CallbackInfo& info, size_t index,
                                       std::initializer_list<napi_typedarray_type> types, const char* name);

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

class CallMemory;

// Runs `work` synchronously (returns undefined) or, when memory->async(), on the libuv pool (returns a
// promise). The work reads and writes only what `memory` handed out (copies and staging when async); the
// promise settles after memory->deliver() copied the results into the caller's arrays on the JS thread, or
// rejects when that failed. `pins` keep wrapped objects alive until then.
Napi::Value run_kernel(Napi::Env env, std::shared_ptr<CallMemory> memory, std::function<void()> work,
                       const std::vector<Napi::Value>& pins = {});

}  // namespace edgeinfer::binding
