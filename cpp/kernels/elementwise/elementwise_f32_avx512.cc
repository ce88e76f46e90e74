// FP32 element-wise maps on AVX-512 F/DQ: 32 floats per iteration (two independent vectors for the latency
// of the exp / division chains), a masked tail (no scalar loop, no over-read or over-write).
#include <immintrin.h>

// GCC 12 flags the _mm512_undefined_ps() pass-through operand inside its own max / min / roundscale
// intrinsics as maybe-uninitialized (a false positive: the all-ones mask never reads it).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cmath>
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx512.h"
#include "kernels/elementwise/elementwise_f32_common.h"

namespace edgeinfer {
namespace {

using elementwise_detail::dispatch_binary;
using elementwise_detail::dispatch_unary;

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }  // n in [0, 16)

inline __m512 abs_ps(__m512 x) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), x); }

template <UnaryF32 U>
inline __m512 apply(__m512 x, __m512 p0, __m512 p1) {
  const __m512 zero = _mm512_setzero_ps();
  if constexpr (U == UnaryF32::kRelu) {
    return _mm512_max_ps(zero, x);  // 0 > x ? 0 : x: NaN and -0 pass through, as x < 0 ? 0 : x
  } else if constexpr (U == UnaryF32::kLeakyRelu) {
    const __mmask16 neg = _mm512_cmp_ps_mask(x, zero, _CMP_NGE_UQ);  // not x >= 0 (NaN too: NaN * a = NaN)
    return _mm512_mask_mul_ps(x, neg, x, p0);
  } else if constexpr (U == UnaryF32::kClip) {
    // std::min(std::max(x, lo), hi) exactly: maxps(lo, x) = lo > x ? lo : x, minps(hi, m) = hi < m ? hi : m.
    return _mm512_min_ps(p1, _mm512_max_ps(p0, x));
  } else if constexpr (U == UnaryF32::kNeg) {
    return _mm512_xor_ps(x, _mm512_set1_ps(-0.0f));
  } else if constexpr (U == UnaryF32::kAbs) {
    return abs_ps(x);
  } else if constexpr (U == UnaryF32::kFloor) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  } else if constexpr (U == UnaryF32::kCeil) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
  } else if constexpr (U == UnaryF32::kSqrt) {
    return _mm512_sqrt_ps(x);
  } else if constexpr (U == UnaryF32::kReciprocal) {
    return _mm512_div_ps(_mm512_set1_ps(1.0f), x);  // correctly rounded, as 1.0f / x
  } else if constexpr (U == UnaryF32::kExp) {
    return vm512::exp_ps(x);
  } else if constexpr (U == UnaryF32::kLog) {
    return vm512::log_ps(x);
  } else if constexpr (U == UnaryF32::kSigmoid) {
    return vm512::sigmoid_ps(x);
  } else if constexpr (U == UnaryF32::kHardSigmoid || U == UnaryF32::kHardSwish) {
    // The reference's v > 1 ? 1 : v < 0 ? 0 : v: maxps / minps return v (the second operand) for NaN and -0.
    const __m512 v = _mm512_add_ps(_mm512_mul_ps(p0, x), p1);
    const __m512 h = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(zero, v));
    return U == UnaryF32::kHardSwish ? _mm512_mul_ps(x, h) : h;
  } else if constexpr (U == UnaryF32::kTanh) {
    // |rational| clamped to 1, exactly 1 from |x| = 10 on (tanh rounds to 1 in float there; +-inf), then x's
    // sign: odd, and the rcp-based division can lose the sign of -0.
    __m512 mag = _mm512_min_ps(_mm512_set1_ps(1.0f), abs_ps(vm512::tanh_ps(x)));  // NaN stays
    mag = _mm512_mask_mov_ps(mag, _mm512_cmp_ps_mask(abs_ps(x), _mm512_set1_ps(10.0f), _CMP_GE_OQ), _mm512_set1_ps(1.0f));
    return _mm512_or_ps(mag, _mm512_and_ps(_mm512_set1_ps(-0.0f), x));
  } else {
    // The same for erf, which rounds to 1 in float from |x| ~ 3.92: exactly 1 from 4 on (the rational's clamp).
    const __m512 mag = _mm512_mask_mov_ps(abs_ps(vm512::erf_ps(x)),
                                          _mm512_cmp_ps_mask(abs_ps(x), _mm512_set1_ps(4.0f), _CMP_GE_OQ),
                                          _mm512_set1_ps(1.0f));
    return _mm512_or_ps(mag, _mm512_and_ps(_mm512_set1_ps(-0.0f), x));
  }
}

template <UnaryF32 U>
void unary_loop(const float* x, float* y, int64_t n, float p0f, float p1f) {
  const __m512 p0 = _mm512_set1_ps(p0f), p1 = _mm512_set1_ps(p1f);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);  // both loaded first: y may be x
    _mm512_storeu_ps(y + i, apply<U>(a, p0, p1));
    _mm512_storeu_ps(y + i + 16, apply<U>(b, p0, p1));
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, apply<U>(_mm512_loadu_ps(x + i), p0, p1));
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, apply<U>(_mm512_maskz_loadu_ps(k, x + i), p0, p1));
  }
}

void unary(UnaryF32 op, const float* x, float* y, int64_t n, float p0, float p1) {
  if (n <= 0) return;
  dispatch_unary(op, [&](auto u) { unary_loop<decltype(u)::value>(x, y, n, p0, p1); });
}

template <BinaryF32 B>
inline __m512 combine(__m512 a, __m512 b) {
  if constexpr (B == BinaryF32::kAdd) return _mm512_add_ps(a, b);
  else if constexpr (B == BinaryF32::kSub) return _mm512_sub_ps(a, b);
  else if constexpr (B == BinaryF32::kMul) return _mm512_mul_ps(a, b);
  else return _mm512_div_ps(a, b);
}

// kA / kB: the operand advances (else it is one value, broadcast).
template <BinaryF32 B, bool kA, bool kB>
void binary_loop(const float* a, const float* b, float* y, int64_t n) {
  const __m512 av = kA ? _mm512_setzero_ps() : _mm512_set1_ps(*a);
  const __m512 bv = kB ? _mm512_setzero_ps() : _mm512_set1_ps(*b);
  const auto la = [&](int64_t i) { return kA ? _mm512_loadu_ps(a + i) : av; };
  const auto lb = [&](int64_t i) { return kB ? _mm512_loadu_ps(b + i) : bv; };
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 r0 = combine<B>(la(i), lb(i)), r1 = combine<B>(la(i + 16), lb(i + 16));
    const __m512 r2 = combine<B>(la(i + 32), lb(i + 32)), r3 = combine<B>(la(i + 48), lb(i + 48));
    _mm512_storeu_ps(y + i, r0);
    _mm512_storeu_ps(y + i + 16, r1);
    _mm512_storeu_ps(y + i + 32, r2);
    _mm512_storeu_ps(y + i + 48, r3);
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, combine<B>(la(i), lb(i)));
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 va = kA ? _mm512_maskz_loadu_ps(k, a + i) : av;
    const __m512 vb = kB ? _mm512_maskz_loadu_ps(k, b + i) : bv;
    _mm512_mask_storeu_ps(y + i, k, combine<B>(va, vb));
  }
}

void binary(BinaryF32 op, const float* a, int64_t as, const float* b, int64_t bs, float* y, int64_t n) {
  if (n <= 0) return;
  dispatch_binary(op, [&](auto bt) {
    constexpr BinaryF32 B = decltype(bt)::value;
    if (as != 0 && bs != 0) binary_loop<B, true, true>(a, b, y, n);
    else if (as != 0) binary_loop<B, true, false>(a, b, y, n);
    else if (bs != 0) binary_loop<B, false, true>(a, b, y, n);
    else binary_loop<B, false, false>(a, b, y, n);
  });
}

struct Avx512Lanes {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_partial(const float* p, int n, float fill) { return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static void store_partial(float* p, T v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  // maxps gives its second operand when either is NaN: a NaN x comes through; a NaN acc is put back.
  static T max_nan(T acc, T x) { return _mm512_mask_mov_ps(_mm512_max_ps(acc, x), _mm512_cmp_ps_mask(acc, acc, _CMP_UNORD_Q), acc); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T exp(T v) { return vm512::exp_ps(v); }
  static float reduce_max(T v) { return _mm512_reduce_max_ps(v); }
  static float reduce_add(T v) { return _mm512_reduce_add_ps(v); }
  static float log_scalar(float v) { return std::log(v); }
};

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  elementwise_detail::softmax_rows_impl<Avx512Lanes>(x, y, rows, n, log_softmax);
}

void pool_taps(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max) {
  elementwise_detail::pool_taps_for<Avx512Lanes>(x, offsets, taps, n, y, max);
}

}  // namespace

extern const ElementwiseF32Variant kElementwiseF32Avx512{"f32_velementwise__avx512", Isa::kAvx512, &unary, &binary, &softmax_rows,
                                                         &pool_taps};

}  // namespace edgeinfer
