// The SIMD depthwise-convolution rows (see DwConvF32Rows in kernels.h), written once over a vector traits
// struct V and instantiated by each ISA file (not a public header). Outputs are the vector lanes: four
// vectors of one row are accumulated together (independent FMA chains hide the latency), every tap's
// weight broadcast once for the four. 3-, 9-, 25- and 49-tap kernels (1x3 / 3x3 / 5x5 / 7x7) get unrolled
// instantiations that keep the weights in registers where they fit; other kernels loop over the taps.
//
// V provides: type T, kLanes, set1, load, load_partial(p, n) (reads only n floats), fma(a, b, c) = a * b + c,
// store, store_partial(p, v, n), relu(v) / clip(v, lo, hi) (NaN stays NaN), leaky(v, slope).
#pragma once

#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer::dwconv_f32_detail {

// Included by files compiled with different ISA flags: internal linkage only.
namespace {

template <class V, class Args>
inline typename V::T dw_activate(typename V::T v, const Args& a) {
  switch (a.act) {
    case FusedActivation::kRelu: return V::relu(v);
    case FusedActivation::kClip: return V::clip(v, a.act_alpha, a.act_beta);
    case FusedActivation::kLeakyRelu: return V::leaky(v, a.act_alpha);
    default: return v;
  }
}

template <class V, int kTaps>
void dw_rows_fixed(const DwConvF32Rows& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const int64_t taps = kTaps > 0 ? kTaps : a.taps;
  const int64_t* off = a.tap_offsets;
  const T bias = V::set1(a.bias);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.ld_in;
    float* y = a.y + r * a.ldy;
    int64_t o = 0;
    for (; o + 4 * L <= a.n; o += 4 * L) {
      T acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
#pragma GCC unroll 49
      for (int64_t t = 0; t < taps; ++t) {
        const T w = V::set1(a.w[t]);
        const float* p = x + off[t] + o;
        acc0 = V::fma(w, V::load(p), acc0);
        acc1 = V::fma(w, V::load(p + L), acc1);
        acc2 = V::fma(w, V::load(p + 2 * L), acc2);
        acc3 = V::fma(w, V::load(p + 3 * L), acc3);
      }
      V::store(y + o, dw_activate<V>(acc0, a));
      V::store(y + o + L, dw_activate<V>(acc1, a));
      V::store(y + o + 2 * L, dw_activate<V>(acc2, a));
      V::store(y + o + 3 * L, dw_activate<V>(acc3, a));
    }
    for (; o + L <= a.n; o += L) {
      T acc = bias;
#pragma GCC unroll 49
      for (int64_t t = 0; t < taps; ++t) acc = V::fma(V::set1(a.w[t]), V::load(x + off[t] + o), acc);
      V::store(y + o, dw_activate<V>(acc, a));
    }
    if (o < a.n) {
      const int rest = static_cast<int>(a.n - o);
      T acc = bias;
#pragma GCC unroll 49
      for (int64_t t = 0; t < taps; ++t) acc = V::fma(V::set1(a.w[t]), V::load_partial(x + off[t] + o, rest), acc);
      V::store_partial(y + o, dw_activate<V>(acc, a), rest);
    }
  }
}

template <class V>
void dw_rows(const DwConvF32Rows& a) {
  switch (a.taps) {
    case 3: return dw_rows_fixed<V, 3>(a);
    case 9: return dw_rows_fixed<V, 9>(a);
    case 25: return dw_rows_fixed<V, 25>(a);
    case 49: return dw_rows_fixed<V, 49>(a);
    default: return dw_rows_fixed<V, 0>(a);
  }
}

// Channels-last pixels (DwConvNhwcF32Pixels), any tap list: four output pixels at a time share each tap's
// weight vector (four independent FMA chains); channels from c_begin on, the tail masked.
template <class V>
void dw_nhwc_generic(const DwConvNhwcF32Pixels& a, int64_t c_begin) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const int64_t C = a.channels, step = a.x_step;
  const int64_t* off = a.tap_offsets;
  const int64_t* rows = a.tap_rows;
  int64_t p = 0;
  for (; p + 4 <= a.count; p += 4) {
    const float* x = a.x + p * step;
    float* y = a.y + p * a.ldy;
    for (int64_t c = c_begin; c < C; c += L) {
      const int n = static_cast<int>(C - c < L ? C - c : L);
      const T bias = V::load_partial(a.bias + c, n);
      T acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t t = 0; t < a.taps; ++t) {
        const T w = V::load_partial(a.w + rows[t] * C + c, n);
        const float* q = x + off[t] + c;
        acc0 = V::fma(w, V::load_partial(q, n), acc0);
        acc1 = V::fma(w, V::load_partial(q + step, n), acc1);
        acc2 = V::fma(w, V::load_partial(q + 2 * step, n), acc2);
        acc3 = V::fma(w, V::load_partial(q + 3 * step, n), acc3);
      }
      V::store_partial(y + c, dw_activate<V>(acc0, a), n);
      V::store_partial(y + a.ldy + c, dw_activate<V>(acc1, a), n);
      V::store_partial(y + 2 * a.ldy + c, dw_activate<V>(acc2, a), n);
      V::store_partial(y + 3 * a.ldy + c, dw_activate<V>(acc3, a), n);
    }
  }
  // Pixels one at a time (a short row, a border pixel): four channel vectors at once are the independent
  // chains instead, else every FMA would wait for the one before it (latency-bound on small images).
  for (; p < a.count; ++p) {
    const float* x = a.x + p * step;
    float* y = a.y + p * a.ldy;
    int64_t c = c_begin;
    for (; c + 4 * L <= C; c += 4 * L) {
      T acc0 = V::load(a.bias + c), acc1 = V::load(a.bias + c + L), acc2 = V::load(a.bias + c + 2 * L), acc3 = V::load(a.bias + c + 3 * L);
      for (int64_t t = 0; t < a.taps; ++t) {
        const float* w = a.w + rows[t] * C + c;
        const float* q = x + off[t] + c;
        acc0 = V::fma(V::load(w), V::load(q), acc0);
        acc1 = V::fma(V::load(w + L), V::load(q + L), acc1);
        acc2 = V::fma(V::load(w + 2 * L), V::load(q + 2 * L), acc2);
        acc3 = V::fma(V::load(w + 3 * L), V::load(q + 3 * L), acc3);
      }
      V::store(y + c, dw_activate<V>(acc0, a));
      V::store(y + c + L, dw_activate<V>(acc1, a));
      V::store(y + c + 2 * L, dw_activate<V>(acc2, a));
      V::store(y + c + 3 * L, dw_activate<V>(acc3, a));
    }
    for (; c < C; c += L) {
      const int n = static_cast<int>(C - c < L ? C - c : L);
      T acc = V::load_partial(a.bias + c, n);
      for (int64_t t = 0; t < a.taps; ++t)
        acc = V::fma(V::load_partial(a.w + rows[t] * C + c, n), V::load_partial(x + off[t] + c, n), acc);
      V::store_partial(y + c, dw_activate<V>(acc, a), n);
    }
  }
}

// A whole 3x3 / 5x5 kernel (the interior of a row): per channel vector the kTaps weight vectors stay in
// registers while the row's pixels stream past, kP at a time (independent FMA chains), so each multiply-add
// costs one load. kP is what the register file holds beside the weights (16 registers on AVX2, 32 elsewhere).
template <class V, int kTaps>
void dw_nhwc_fixed(const DwConvNhwcF32Pixels& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int kRegisters = L == 8 ? 16 : 32;
  constexpr int kP = kTaps + 8 + 1 <= kRegisters ? 8 : 4;
  const int64_t C = a.channels, step = a.x_step, full = C / L * L;
  int64_t off[kTaps];
  for (int t = 0; t < kTaps; ++t) off[t] = a.tap_offsets[t];
  for (int64_t c = 0; c < full; c += L) {
    T w[kTaps];
#pragma GCC unroll 32
    for (int t = 0; t < kTaps; ++t) w[t] = V::load(a.w + a.tap_rows[t] * C + c);
    const T bias = V::load(a.bias + c);
    const float* x = a.x + c;
    float* y = a.y + c;
    int64_t p = 0;
    for (; p + kP <= a.count; p += kP) {
      T acc[kP];
#pragma GCC unroll 8
      for (int i = 0; i < kP; ++i) acc[i] = bias;
#pragma GCC unroll 32
      for (int t = 0; t < kTaps; ++t) {
        const float* q = x + off[t] + p * step;
#pragma GCC unroll 8
        for (int i = 0; i < kP; ++i) acc[i] = V::fma(w[t], V::load(q + i * step), acc[i]);
      }
#pragma GCC unroll 8
      for (int i = 0; i < kP; ++i) V::store(y + (p + i) * a.ldy, dw_activate<V>(acc[i], a));
    }
    for (; p < a.count; ++p) {
      T acc = bias;
#pragma GCC unroll 32
      for (int t = 0; t < kTaps; ++t) acc = V::fma(w[t], V::load(x + off[t] + p * step), acc);
      V::store(y + p * a.ldy, dw_activate<V>(acc, a));
    }
  }
  if (full < C) dw_nhwc_generic<V>(a, full);
}

template <class V>
void dw_nhwc_pixels(const DwConvNhwcF32Pixels& a) {
  // Fewer pixels than the fixed kernels' block (8 where registers allow): they would run one dependent chain
  // per pixel and vector there; the generic path keeps four chains going (pixels or channel vectors).
  if (a.count < 8) return dw_nhwc_generic<V>(a, 0);
  switch (a.taps) {
    case 9: return dw_nhwc_fixed<V, 9>(a);
    case 25: return dw_nhwc_fixed<V, 25>(a);
    default: return dw_nhwc_generic<V>(a, 0);
  }
}

template <class V>
void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t n) {
  constexpr int L = V::kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * src_stride;
    float* d = dst + r * dst_stride;
    int64_t i = 0;
    for (; i + L <= n; i += L) V::store(d + i, V::load(s + i));
    if (i < n) V::store_partial(d + i, V::load_partial(s + i, static_cast<int>(n - i)), static_cast<int>(n - i));
  }
}

inline void deinterleave2_row_scalar(const float* src, int64_t n, float* even, float* odd) {
  for (int64_t i = 0; 2 * i < n; ++i) even[i] = src[2 * i];
  for (int64_t i = 0; 2 * i + 1 < n; ++i) odd[i] = src[2 * i + 1];
}

// Rows of deinterleave2_row(src, n, even, odd) (an ISA's vector loop, the scalar one for the tail).
template <void (*Row)(const float*, int64_t, float*, float*)>
void deinterleave2_rows(const float* src, int64_t src_stride, float* even, float* odd, int64_t dst_stride, int64_t rows,
                        int64_t n) {
  for (int64_t r = 0; r < rows; ++r) Row(src + r * src_stride, n, even + r * dst_stride, odd + r * dst_stride);
}

}  // namespace

}  // namespace edgeinfer::dwconv_f32_detail
