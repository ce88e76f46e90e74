// Element types per DType and switch helpers for the ops.
#pragma once

#include <cstdint>
#include <type_traits>

#include "edgeinfer/plan.h"

namespace edgeinfer::runtime {

template <DType D> struct StorageOf;
template <> struct StorageOf<DType::kFloat32> { using type = float; };
template <> struct StorageOf<DType::kUint8> { using type = uint8_t; };
template <> struct StorageOf<DType::kInt8> { using type = int8_t; };
template <> struct StorageOf<DType::kUint16> { using type = uint16_t; };
template <> struct StorageOf<DType::kInt16> { using type = int16_t; };
template <> struct StorageOf<DType::kInt32> { using type = int32_t; };
template <> struct StorageOf<DType::kInt64> { using type = int64_t; };
template <> struct StorageOf<DType::kBool> { using type = uint8_t; };
template <> struct StorageOf<DType::kFloat16> { using type = uint16_t; };
template <> struct StorageOf<DType::kFloat64> { using type = double; };
template <> struct StorageOf<DType::kUint32> { using type = uint32_t; };
template <> struct StorageOf<DType::kUint64> { using type = uint64_t; };
template <DType D> using storage_t = typename StorageOf<D>::type;

template <DType D> struct DTypeTag { static constexpr DType value = D; using type = storage_t<D>; };

// f(DTypeTag<D>{}) for every dtype of the plan format; returns false for an unknown code.
template <typename F>
bool dispatch_any(DType d, F&& f) {
  switch (d) {
    case DType::kFloat32: f(DTypeTag<DType::kFloat32>{}); return true;
    case DType::kUint8: f(DTypeTag<DType::kUint8>{}); return true;
    case DType::kInt8: f(DTypeTag<DType::kInt8>{}); return true;
    case DType::kUint16: f(DTypeTag<DType::kUint16>{}); return true;
    case DType::kInt16: f(DTypeTag<DType::kInt16>{}); return true;
    case DType::kInt32: f(DTypeTag<DType::kInt32>{}); return true;
    case DType::kInt64: f(DTypeTag<DType::kInt64>{}); return true;
    case DType::kBool: f(DTypeTag<DType::kBool>{}); return true;
    case DType::kFloat16: f(DTypeTag<DType::kFloat16>{}); return true;
    case DType::kFloat64: f(DTypeTag<DType::kFloat64>{}); return true;
    case DType::kUint32: f(DTypeTag<DType::kUint32>{}); return true;
    case DType::kUint64: f(DTypeTag<DType::kUint64>{}); return true;
  }
  return false;
}

// Arithmetic dtypes the numeric ops support: float32, float64, int32, int64.
template <typename F>
bool dispatch_numeric(DType d, F&& f) {
  switch (d) {
    case DType::kFloat32: f(DTypeTag<DType::kFloat32>{}); return true;
    case DType::kFloat64: f(DTypeTag<DType::kFloat64>{}); return true;
    case DType::kInt32: f(DTypeTag<DType::kInt32>{}); return true;
    case DType::kInt64: f(DTypeTag<DType::kInt64>{}); return true;
    default: return false;
  }
}

// By element size only (copies, gathers, transposes): f(type) with an unsigned integer of that size.
template <typename F>
void dispatch_size(size_t size, F&& f) {
  switch (size) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    default: f(uint64_t{}); return;
  }
}

}  // namespace edgeinfer::runtime
