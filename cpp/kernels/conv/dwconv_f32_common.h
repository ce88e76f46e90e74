// The SIMD depthwise-convolution rows (see DwConvF32Rows in kernels.h), written once over a vector traits
// struct V and instantiated by each ISA file (not a public header). Outputs are the vector lanes: four
// vectors of one row are accumulated together (independent FMA chains hide the latency), every tap's
// weight broadcast once for the four. 3-, 9-, 25- and 49-tap kernels (1x3 / 3x3 / 5x5 / 7x7) get unrolled
// instantiations that keep the weights in registers where they fit; other kernels loop over the taps.
//
// V provides: type T, kLanes, set1, load, load_partial(p, n) (reads only n floats), fma(a, b, c) = a * b + c,
// store, store_partial(p, v, n), relu(v) / clip(v, lo, hi) (NaN stays NaN), leaky(v, slope); for level input
// and the requantizing epilogue also load_u8(p) / load_partial_u8(p, n) (bytes as floats), store_u8(p, v) /
// store_partial_u8(p, v, n) (floats holding integers 0..255 as bytes), add, sub, mul and round_even (to the
// nearest integer, ties to even).
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

// Inputs of the channels-last pixels, indexed in elements: floats, or uint8 levels read as float(level) -
// zero point (exact: both are small integers).
template <class V>
struct FloatInput {
  const float* x;
  typename V::T load(int64_t i) const { return V::load(x + i); }
  typename V::T load_partial(int64_t i, int n) const { return V::load_partial(x + i, n); }
};

// Levels with zero point 0 (or one the caller folded into the bias): no subtraction.
template <class V>
struct RawLevelInput {
  const uint8_t* x;
  typename V::T load(int64_t i) const { return V::load_u8(x + i); }
  typename V::T load_partial(int64_t i, int n) const { return V::load_partial_u8(x + i, n); }
};

template <class V>
struct LevelInput {
  const uint8_t* x;
  typename V::T zero_point;
  typename V::T load(int64_t i) const { return V::sub(V::load_u8(x + i), zero_point); }
  typename V::T load_partial(int64_t i, int n) const { return V::sub(V::load_partial_u8(x + i, n), zero_point); }
};

// The output stage of channels [c, c + n): the fused activation, or (kRequant) the requantizing epilogue, whose
// levels are stored as bytes (y_levels) or dequantized floats. Element indices are relative to y / y_levels.
template <class V, bool kRequant>
struct PixelOutput {
  using T = typename V::T;
  const DwConvNhwcF32Pixels& a;
  PixelOutput(const DwConvNhwcF32Pixels& args, int64_t, int) : a(args) {}
  void store(int64_t i, T acc) const { V::store(a.y + i, dw_activate<V>(acc, a)); }
  void store_partial(int64_t i, T acc, int n) const { V::store_partial(a.y + i, dw_activate<V>(acc, a), n); }
};

template <class V>
struct PixelOutput<V, true> {
  using T = typename V::T;
  const DwConvNhwcF32Pixels& a;
  T multiplier, scale, zero_point, zero;
  float lo, hi;
  PixelOutput(const DwConvNhwcF32Pixels& args, int64_t c, int n)
      : a(args),
        multiplier(n == V::kLanes ? V::load(args.requant_multipliers + c) : V::load_partial(args.requant_multipliers + c, n)),
        scale(V::set1(args.requant_scale)),
        zero_point(V::set1(static_cast<float>(args.requant_zero_point))),
        zero(V::set1(0.0f)),
        lo(static_cast<float>(-args.requant_zero_point)),
        hi(static_cast<float>(255 - args.requant_zero_point)) {}
  // The rounded level minus the zero point.
  T level(T acc) const { return V::round_even(V::clip(V::mul(acc, multiplier), lo, hi)); }
  // + 0: a -0 level is +0 once dequantized.
  void store(int64_t i, T acc) const {
    const T v = level(acc);
    if (a.y_levels != nullptr) V::store_u8(a.y_levels + i, V::add(v, zero_point));
    else V::store(a.y + i, V::mul(V::add(v, zero), scale));
  }
  void store_partial(int64_t i, T acc, int n) const {
    const T v = level(acc);
    if (a.y_levels != nullptr) V::store_partial_u8(a.y_levels + i, V::add(v, zero_point), n);
    else V::store_partial(a.y + i, V::mul(V::add(v, zero), scale), n);
  }
};

// Channels-last pixels (DwConvNhwcF32Pixels), any tap list: four output pixels at a time share each tap's
// weight vector (four independent FMA chains); channels from c_begin on, the tail masked.
template <class V, class In, bool kRequant>
void dw_nhwc_generic(const DwConvNhwcF32Pixels& a, const In& in, int64_t c_begin) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const int64_t C = a.channels, step = a.x_step, WS = a.w_stride != 0 ? a.w_stride : C;
  const int64_t* off = a.tap_offsets;
  const int64_t* rows = a.tap_rows;
  int64_t p = 0;
  for (; p + 4 <= a.count; p += 4) {
    const int64_t x = p * step, y = p * a.ldy;
    for (int64_t c = c_begin; c < C; c += L) {
      const int n = static_cast<int>(C - c < L ? C - c : L);
      const PixelOutput<V, kRequant> out(a, c, n);
      const T bias = V::load_partial(a.bias + c, n);
      T acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t t = 0; t < a.taps; ++t) {
        const T w = V::load_partial(a.w + rows[t] * WS + c, n);
        const int64_t q = x + off[t] + c;
        acc0 = V::fma(w, in.load_partial(q, n), acc0);
        acc1 = V::fma(w, in.load_partial(q + step, n), acc1);
        acc2 = V::fma(w, in.load_partial(q + 2 * step, n), acc2);
        acc3 = V::fma(w, in.load_partial(q + 3 * step, n), acc3);
      }
      out.store_partial(y + c, acc0, n);
      out.store_partial(y + a.ldy + c, acc1, n);
      out.store_partial(y + 2 * a.ldy + c, acc2, n);
      out.store_partial(y + 3 * a.ldy + c, acc3, n);
    }
  }
  // Pixels one at a time (a short row, a border pixel): four channel vectors at once are the independent
  // chains instead, else every FMA would wait for the one before it (latency-bound on small images).
  for (; p < a.count; ++p) {
    const int64_t x = p * step, y = p * a.ldy;
    int64_t c = c_begin;
    for (; c + 4 * L <= C; c += 4 * L) {
      const PixelOutput<V, kRequant> out0(a, c, L), out1(a, c + L, L), out2(a, c + 2 * L, L), out3(a, c + 3 * L, L);
      T acc0 = V::load(a.bias + c), acc1 = V::load(a.bias + c + L), acc2 = V::load(a.bias + c + 2 * L), acc3 = V::load(a.bias + c + 3 * L);
      for (int64_t t = 0; t < a.taps; ++t) {
        const float* w = a.w + rows[t] * WS + c;
        const int64_t q = x + off[t] + c;
        acc0 = V::fma(V::load(w), in.load(q), acc0);
        acc1 = V::fma(V::load(w + L), in.load(q + L), acc1);
        acc2 = V::fma(V::load(w + 2 * L), in.load(q + 2 * L), acc2);
        acc3 = V::fma(V::load(w + 3 * L), in.load(q + 3 * L), acc3);
      }
      out0.store(y + c, acc0);
      out1.store(y + c + L, acc1);
      out2.store(y + c + 2 * L, acc2);
      out3.store(y + c + 3 * L, acc3);
    }
    for (; c < C; c += L) {
      const int n = static_cast<int>(C - c < L ? C - c : L);
      const PixelOutput<V, kRequant> out(a, c, n);
      T acc = V::load_partial(a.bias + c, n);
      for (int64_t t = 0; t < a.taps; ++t)
        acc = V::fma(V::load_partial(a.w + rows[t] * WS + c, n), in.load_partial(x + off[t] + c, n), acc);
      out.store_partial(y + c, acc, n);
    }
  }
}

// A whole 3x3 / 5x5 kernel (the interior of a row): per channel vector the kTaps weight vectors stay in
// registers while the row's pixels stream past, kP at a time (independent FMA chains), so each multiply-add
// costs one load. kP is what the register file holds beside the weights (16 registers on AVX2, 32 elsewhere).
// The last pixels (count % kP) run as one more block of kP ending at the last pixel, recomputing a few
// pixels instead of running one dependent FMA chain per pixel (a 54-pixel row: 6 of them); channels past
// the last full vector (72 = 4 x 16 + 8) run the same way with masked loads and stores.
template <class V, class In, bool kRequant, int kTaps, bool kPartial>
inline void dw_nhwc_fixed_vector(const DwConvNhwcF32Pixels& a, const In& in, const int64_t* off, int64_t c, int n) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int kRegisters = L == 8 ? 16 : 32;
  constexpr int kP = kTaps + 8 + 1 <= kRegisters ? 8 : 4;
  const int64_t step = a.x_step, WS = a.w_stride != 0 ? a.w_stride : a.channels;
  auto load = [&](int64_t i) { return kPartial ? in.load_partial(i, n) : in.load(i); };
  T w[kTaps];
#pragma GCC unroll 32
  for (int t = 0; t < kTaps; ++t) w[t] = kPartial ? V::load_partial(a.w + a.tap_rows[t] * WS + c, n) : V::load(a.w + a.tap_rows[t] * WS + c);
  const T bias = kPartial ? V::load_partial(a.bias + c, n) : V::load(a.bias + c);
  const PixelOutput<V, kRequant> out(a, c, kPartial ? n : L);
  auto block = [&](int64_t p) {
    T acc[kP];
    // Each pixel's input index, and each tap's offset added to it inside the loop. The offset is opaque to
    // the optimiser: seeing kTaps x kP index sums that advance together, GCC keeps each as its own pointer,
    // spilled to the stack: a stack load per multiply-add, half the loads of the loop.
    int64_t at[kP];
#pragma GCC unroll 8
    for (int i = 0; i < kP; ++i) acc[i] = bias, at[i] = c + (p + i) * step;
#pragma GCC unroll 32
    for (int t = 0; t < kTaps; ++t) {
      int64_t o = off[t];
      __asm__("" : "+r"(o));
#pragma GCC unroll 8
      for (int i = 0; i < kP; ++i) acc[i] = V::fma(w[t], load(at[i] + o), acc[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < kP; ++i) {
      if (kPartial) out.store_partial(c + (p + i) * a.ldy, acc[i], n);
      else out.store(c + (p + i) * a.ldy, acc[i]);
    }
  };
  int64_t p = 0;
  for (; p + kP <= a.count; p += kP) block(p);
  if (p == a.count) return;
  if (a.count >= kP) return block(a.count - kP);
  for (; p < a.count; ++p) {
    T acc = bias;
#pragma GCC unroll 32
    for (int t = 0; t < kTaps; ++t) acc = V::fma(w[t], load(c + off[t] + p * step), acc);
    if (kPartial) out.store_partial(c + p * a.ldy, acc, n);
    else out.store(c + p * a.ldy, acc);
  }
}

template <class V, class In, bool kRequant, int kTaps>
void dw_nhwc_fixed(const DwConvNhwcF32Pixels& a, const In& in) {
  constexpr int L = V::kLanes;
  const int64_t C = a.channels, full = C / L * L;
  int64_t off[kTaps];
  for (int t = 0; t < kTaps; ++t) off[t] = a.tap_offsets[t];
  for (int64_t c = 0; c < full; c += L) dw_nhwc_fixed_vector<V, In, kRequant, kTaps, false>(a, in, off, c, L);
  if (full < C) dw_nhwc_fixed_vector<V, In, kRequant, kTaps, true>(a, in, off, full, static_cast<int>(C - full));
}

template <class V, class In, bool kRequant>
void dw_nhwc_pixels_with(const DwConvNhwcF32Pixels& a, const In& in) {
  // Fewer pixels than the fixed kernels' block (8 where registers allow): they would run one dependent chain
  // per pixel and vector there; the generic path keeps four chains going (pixels or channel vectors).
  if (a.count < 8) return dw_nhwc_generic<V, In, kRequant>(a, in, 0);
  switch (a.taps) {
    case 9: return dw_nhwc_fixed<V, In, kRequant, 9>(a, in);
    case 25: return dw_nhwc_fixed<V, In, kRequant, 25>(a, in);
    default: return dw_nhwc_generic<V, In, kRequant>(a, in, 0);
  }
}

template <class V, class In>
void dw_nhwc_pixels_from(const DwConvNhwcF32Pixels& a, const In& in) {
  if (a.requant_multipliers != nullptr) dw_nhwc_pixels_with<V, In, true>(a, in);
  else dw_nhwc_pixels_with<V, In, false>(a, in);
}

template <class V>
void dw_nhwc_pixels(const DwConvNhwcF32Pixels& a) {
  if (a.x_levels != nullptr && a.x_zero_point == 0)
    dw_nhwc_pixels_from<V>(a, RawLevelInput<V>{a.x_levels});
  else if (a.x_levels != nullptr)
    dw_nhwc_pixels_from<V>(a, LevelInput<V>{a.x_levels, V::set1(static_cast<float>(a.x_zero_point))});
  else
    dw_nhwc_pixels_from<V>(a, FloatInput<V>{a.x});
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
