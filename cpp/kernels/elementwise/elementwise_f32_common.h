// Shared by the FP32 element-wise variants (all ISAs) and the runtime: op enum -> template dispatch, op names.
// Everything here is static (internal linkage): an inline function compiled into an AVX-512 file could
// otherwise be the copy the linker keeps for the baseline files too.
#pragma once

#include <type_traits>

#include "edgeinfer/kernels.h"

namespace edgeinfer::elementwise_detail {

// Softmax rows (ElementwiseF32Variant::softmax_rows) over vector traits V: T, kLanes, set1, load, store,
// load_partial(p, n, fill) (lanes >= n hold fill; reads only n floats), store_partial(p, v, n), max, sub, add,
// mul, exp, reduce_max, reduce_add, log_scalar. Three passes over a row (it stays in L1): max; exp(x - max)
// stored and summed; the scaling. The partial last vector reads -inf past the row: exp(-inf - m) adds 0.
template <class V>
static inline void softmax_rows_impl(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const float minus_inf = -__builtin_inff();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const int64_t full = n / L * L;
    const int rest = static_cast<int>(n - full);
    T mv = V::set1(minus_inf);
    for (int64_t i = 0; i < full; i += L) mv = V::max(mv, V::load(xr + i));
    if (rest > 0) mv = V::max(mv, V::load_partial(xr + full, rest, minus_inf));
    const float m = V::reduce_max(mv);
    const T mb = V::set1(m);
    T s0 = V::set1(0.0f), s1 = V::set1(0.0f);
    int64_t i = 0;
    for (; i + 2 * L <= full; i += 2 * L) {
      const T e0 = V::exp(V::sub(V::load(xr + i), mb)), e1 = V::exp(V::sub(V::load(xr + i + L), mb));
      if (!log_softmax) {
        V::store(yr + i, e0);
        V::store(yr + i + L, e1);
      }
      s0 = V::add(s0, e0);
      s1 = V::add(s1, e1);
    }
    for (; i < full; i += L) {
      const T e = V::exp(V::sub(V::load(xr + i), mb));
      if (!log_softmax) V::store(yr + i, e);
      s0 = V::add(s0, e);
    }
    if (rest > 0) {
      const T e = V::exp(V::sub(V::load_partial(xr + full, rest, minus_inf), mb));
      if (!log_softmax) V::store_partial(yr + full, e, rest);
      s1 = V::add(s1, e);
    }
    const float sum = V::reduce_add(V::add(s0, s1));
    if (log_softmax) {
      const T shift = V::set1(m + V::log_scalar(sum));
      for (int64_t k = 0; k < full; k += L) V::store(yr + k, V::sub(V::load(xr + k), shift));
      if (rest > 0) V::store_partial(yr + full, V::sub(V::load_partial(xr + full, rest, 0.0f), shift), rest);
    } else {
      const T scale = V::set1(1.0f / sum);
      for (int64_t k = 0; k < full; k += L) V::store(yr + k, V::mul(V::load(yr + k), scale));
      if (rest > 0) V::store_partial(yr + full, V::mul(V::load_partial(yr + full, rest, 0.0f), scale), rest);
    }
  }
}

template <class V, bool kMax>
static inline typename V::T pool_combine(typename V::T acc, typename V::T x) {
  if constexpr (kMax) return V::max_nan(acc, x);
  else return V::add(acc, x);
}

template <class V, bool kMax>
static inline void pool_taps_impl(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const float start = kMax ? -__builtin_inff() : 0.0f;
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    T a0 = V::set1(start), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t t = 0; t < taps; ++t) {
      const float* xp = x + offsets[t] + j;
      a0 = pool_combine<V, kMax>(a0, V::load(xp));
      a1 = pool_combine<V, kMax>(a1, V::load(xp + L));
      a2 = pool_combine<V, kMax>(a2, V::load(xp + 2 * L));
      a3 = pool_combine<V, kMax>(a3, V::load(xp + 3 * L));
    }
    V::store(y + j, a0);
    V::store(y + j + L, a1);
    V::store(y + j + 2 * L, a2);
    V::store(y + j + 3 * L, a3);
  }
  for (; j < n; j += L) {
    const int rest = static_cast<int>(n - j < L ? n - j : L);
    T a = V::set1(start);
    for (int64_t t = 0; t < taps; ++t) a = pool_combine<V, kMax>(a, V::load_partial(x + offsets[t] + j, rest, start));
    V::store_partial(y + j, a, rest);
  }
}

template <class V>
static inline void pool_taps_for(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max) {
  if (max) pool_taps_impl<V, true>(x, offsets, taps, n, y);
  else pool_taps_impl<V, false>(x, offsets, taps, n, y);
}

template <UnaryF32 U>
using UnaryTag = std::integral_constant<UnaryF32, U>;
template <BinaryF32 B>
using BinaryTag = std::integral_constant<BinaryF32, B>;

// f(UnaryTag<op>{}) for a run-time op: one switch per call, the per-element loop is specialised.
template <typename F>
static inline void dispatch_unary(UnaryF32 op, const F& f) {
  switch (op) {
    case UnaryF32::kRelu: f(UnaryTag<UnaryF32::kRelu>{}); return;
    case UnaryF32::kLeakyRelu: f(UnaryTag<UnaryF32::kLeakyRelu>{}); return;
    case UnaryF32::kClip: f(UnaryTag<UnaryF32::kClip>{}); return;
    case UnaryF32::kNeg: f(UnaryTag<UnaryF32::kNeg>{}); return;
    case UnaryF32::kAbs: f(UnaryTag<UnaryF32::kAbs>{}); return;
    case UnaryF32::kFloor: f(UnaryTag<UnaryF32::kFloor>{}); return;
    case UnaryF32::kCeil: f(UnaryTag<UnaryF32::kCeil>{}); return;
    case UnaryF32::kSqrt: f(UnaryTag<UnaryF32::kSqrt>{}); return;
    case UnaryF32::kReciprocal: f(UnaryTag<UnaryF32::kReciprocal>{}); return;
    case UnaryF32::kExp: f(UnaryTag<UnaryF32::kExp>{}); return;
    case UnaryF32::kLog: f(UnaryTag<UnaryF32::kLog>{}); return;
    case UnaryF32::kSigmoid: f(UnaryTag<UnaryF32::kSigmoid>{}); return;
    case UnaryF32::kTanh: f(UnaryTag<UnaryF32::kTanh>{}); return;
    case UnaryF32::kErf: f(UnaryTag<UnaryF32::kErf>{}); return;
    case UnaryF32::kHardSigmoid: f(UnaryTag<UnaryF32::kHardSigmoid>{}); return;
    case UnaryF32::kHardSwish: f(UnaryTag<UnaryF32::kHardSwish>{}); return;
  }
}

template <typename F>
static inline void dispatch_binary(BinaryF32 op, const F& f) {
  switch (op) {
    case BinaryF32::kAdd: f(BinaryTag<BinaryF32::kAdd>{}); return;
    case BinaryF32::kSub: f(BinaryTag<BinaryF32::kSub>{}); return;
    case BinaryF32::kMul: f(BinaryTag<BinaryF32::kMul>{}); return;
    case BinaryF32::kDiv: f(BinaryTag<BinaryF32::kDiv>{}); return;
  }
}

// Lower-case op name, for kernel names (f32_vsigmoid__avx512) and test messages.
static inline const char* unary_name(UnaryF32 op) {
  switch (op) {
    case UnaryF32::kRelu: return "relu";
    case UnaryF32::kLeakyRelu: return "leakyrelu";
    case UnaryF32::kClip: return "clip";
    case UnaryF32::kNeg: return "neg";
    case UnaryF32::kAbs: return "abs";
    case UnaryF32::kFloor: return "floor";
    case UnaryF32::kCeil: return "ceil";
    case UnaryF32::kSqrt: return "sqrt";
    case UnaryF32::kReciprocal: return "reciprocal";
    case UnaryF32::kExp: return "exp";
    case UnaryF32::kLog: return "log";
    case UnaryF32::kSigmoid: return "sigmoid";
    case UnaryF32::kTanh: return "tanh";
    case UnaryF32::kErf: return "erf";
    case UnaryF32::kHardSigmoid: return "hardsigmoid";
    case UnaryF32::kHardSwish: return "hardswish";
  }
  return "?";
}

static inline const char* binary_name(BinaryF32 op) {
  switch (op) {
    case BinaryF32::kAdd: return "add";
    case BinaryF32::kSub: return "sub";
    case BinaryF32::kMul: return "mul";
    case BinaryF32::kDiv: return "div";
  }
  return "?";
}

}  // namespace edgeinfer::elementwise_detail
