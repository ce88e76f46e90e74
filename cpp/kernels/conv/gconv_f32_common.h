// The SIMD grouped-convolution rows (GConvF32Rows in kernels.h), written once over vector traits V (the
// interface dwconv_f32_common.h describes) and instantiated by each gconv_f32 ISA file (not a public header). A register block is
// kCh output channels x two vectors of outputs: per tap two input loads and kCh weight broadcasts feed 2 * kCh
// FMAs (the depthwise rows load an input vector per FMA, which bounds them by the load ports).
#pragma once

#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer::gconv_f32_detail {

// Included by files compiled with different ISA flags: internal linkage only.
namespace {

// The activation is that of DwConvF32Rows (same fields).
template <class V>
inline typename V::T activate(typename V::T v, const GConvF32Rows& a) {
  switch (a.act) {
    case FusedActivation::kRelu: return V::relu(v);
    case FusedActivation::kClip: return V::clip(v, a.act_alpha, a.act_beta);
    case FusedActivation::kLeakyRelu: return V::leaky(v, a.act_alpha);
    default: return v;
  }
}

template <class V, int kCh>
void block(const GConvF32Rows& a, int64_t c0) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const int64_t taps = a.taps;
  const int64_t* off = a.tap_offsets;
  const float* w = a.w + c0 * taps;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.ld_in;
    float* y = a.y + c0 * a.ldy_c + r * a.ldy;
    int64_t o = 0;
    for (; o + 2 * L <= a.n; o += 2 * L) {
      T acc0[kCh], acc1[kCh];
#pragma GCC unroll 16
      for (int c = 0; c < kCh; ++c) acc0[c] = acc1[c] = V::set1(a.bias[c0 + c]);
      for (int64_t t = 0; t < taps; ++t) {
        const float* p = x + off[t] + o;
        const T v0 = V::load(p), v1 = V::load(p + L);
#pragma GCC unroll 16
        for (int c = 0; c < kCh; ++c) {
          const T wc = V::set1(w[c * taps + t]);
          acc0[c] = V::fma(wc, v0, acc0[c]);
          acc1[c] = V::fma(wc, v1, acc1[c]);
        }
      }
#pragma GCC unroll 16
      for (int c = 0; c < kCh; ++c) {
        V::store(y + c * a.ldy_c + o, activate<V>(acc0[c], a));
        V::store(y + c * a.ldy_c + o + L, activate<V>(acc1[c], a));
      }
    }
    for (; o < a.n; o += L) {
      const int rest = a.n - o < L ? static_cast<int>(a.n - o) : L;
      T acc[kCh];
#pragma GCC unroll 16
      for (int c = 0; c < kCh; ++c) acc[c] = V::set1(a.bias[c0 + c]);
      for (int64_t t = 0; t < taps; ++t) {
        const float* p = x + off[t] + o;
        const T v = rest == L ? V::load(p) : V::load_partial(p, rest);
#pragma GCC unroll 16
        for (int c = 0; c < kCh; ++c) acc[c] = V::fma(V::set1(w[c * taps + t]), v, acc[c]);
      }
#pragma GCC unroll 16
      for (int c = 0; c < kCh; ++c) {
        if (rest == L)
          V::store(y + c * a.ldy_c + o, activate<V>(acc[c], a));
        else
          V::store_partial(y + c * a.ldy_c + o, activate<V>(acc[c], a), rest);
      }
    }
  }
}

// The last channels - c0 < kCh channels, one block of exactly that many.
template <class V, int kCh>
void rest_block(const GConvF32Rows& a, int64_t c0, int64_t count) {
  if constexpr (kCh > 0) {
    if (count == kCh) return block<V, kCh>(a, c0);
    rest_block<V, kCh - 1>(a, c0, count);
  }
}

template <class V, int kCh>
void rows(const GConvF32Rows& a) {
  int64_t c0 = 0;
  for (; c0 + kCh <= a.channels; c0 += kCh) block<V, kCh>(a, c0);
  if (c0 < a.channels) rest_block<V, kCh - 1>(a, c0, a.channels - c0);
}

}  // namespace

}  // namespace edgeinfer::gconv_f32_detail
