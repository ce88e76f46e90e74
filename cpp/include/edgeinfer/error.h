// Errors thrown by the core. The binding maps them to JS EdgeInferError with the same stable code.
#pragma once

#include <stdexcept>
#include <string>

namespace edgeinfer {

enum class ErrorCode {
  kInvalidArgument,
  kShapeMismatch,
  kOutOfMemory,
  kModelInvalid,
  kUnsupportedOp,
  kDisposed,
  kInternal,
};

// The code string JS sees, e.g. "EDGEINFER_INVALID_ARGUMENT".
const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

inline void require(bool condition, ErrorCode code, const char* message) {
  if (!condition) fail(code, message);
}

}  // namespace edgeinfer
