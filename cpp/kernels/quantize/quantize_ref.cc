// Portable reference for QuantizeLinear / DequantizeLinear (ONNX semantics): the definition of correct.
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/quantize/quantize_common.h"

namespace edgeinfer {
namespace {

using quantize_detail::dequantize_one;
using quantize_detail::quantize_one;

template <typename T>
void quantize_typed(const QuantizeArgs& a, int32_t lo, int32_t hi) {
  T* y = static_cast<T*>(a.y);
  const float* x = a.x;
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c) {
      const float scale = a.scales[c];
      const int32_t zp = a.zero_points[c];
      for (int64_t i = 0; i < a.inner; ++i) *y++ = static_cast<T>(quantize_one(*x++, scale, zp, lo, hi));
    }
}

void quantize_ref(const QuantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.y_signed)
    quantize_typed<int8_t>(a, -128, 127);
  else
    quantize_typed<uint8_t>(a, 0, 255);
}

// A 256-entry table per channel (indexed by the raw byte), built on the stack when the channel's run is
// long enough to pay for it; the direct formula otherwise. Both give the same float.
template <typename T>
void dequantize_typed(const DequantizeArgs& a) {
  const T* q = static_cast<const T*>(a.q);
  float* x = a.x;
  float table[256];
  int64_t table_channel = -1;
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c) {
      const float scale = a.scales[c];
      const int32_t zp = a.zero_points[c];
      if (a.inner >= 64) {
        if (table_channel != c) {
          for (int b = 0; b < 256; ++b) table[b] = dequantize_one(static_cast<T>(static_cast<uint8_t>(b)), scale, zp);
          table_channel = c;
        }
        for (int64_t i = 0; i < a.inner; ++i) *x++ = table[static_cast<uint8_t>(*q++)];
      } else {
        for (int64_t i = 0; i < a.inner; ++i) *x++ = dequantize_one(*q++, scale, zp);
      }
    }
}

void dequantize_ref(const DequantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.q_signed)
    dequantize_typed<int8_t>(a);
  else
    dequantize_typed<uint8_t>(a);
}

void requantize_ref(const RequantizeArgs& a) {
  quantize_detail::check_args(a);
  for (int64_t r = 0; r < a.rows; ++r) quantize_detail::requantize_run(a, r * a.channels, (r + 1) * a.channels, 0);
}

void quantized_add_ref(const QuantizedAddArgs& a) {
  quantize_detail::check_args(a);
  quantize_detail::quantized_add_run(a, 0, a.n);
}

}  // namespace

extern const QuantizeVariant kQuantizeRef;
const QuantizeVariant kQuantizeRef = {"qs8_quantize__ref", Isa::kRef, quantize_ref, dequantize_ref, requantize_ref,
                                      quantized_add_ref};

}  // namespace edgeinfer
