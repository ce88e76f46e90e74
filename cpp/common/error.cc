#include "edgeinfer/error.h"

namespace edgeinfer {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "EDGEINFER_INVALID_ARGUMENT";
    case ErrorCode::kShapeMismatch: return "EDGEINFER_SHAPE_MISMATCH";
    case ErrorCode::kOutOfMemory: return "EDGEINFER_OUT_OF_MEMORY";
    case ErrorCode::kModelInvalid: return "EDGEINFER_MODEL_INVALID";
    case ErrorCode::kUnsupportedOp: return "EDGEINFER_UNSUPPORTED_OP";
    case ErrorCode::kDisposed: return "EDGEINFER_DISPOSED";
    case ErrorCode::kInternal: return "EDGEINFER_INTERNAL";
  }
  return "EDGEINFER_INTERNAL";
}

}  // namespace edgeinfer
