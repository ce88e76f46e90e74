// FP32 element-wise maps on AVX2 + FMA: 16 floats per iteration (two independent vectors for the latency of
// the exp / division chains), a masked tail (no scalar loop, no over-read or over-write).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/elementwise/elementwise_f32_common.h"

namespace edgeinfer {
namespace {

using elementwise_detail::dispatch_binary;
using elementwise_detail::dispatch_unary;

alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// First n (0..8) lanes set.
inline __m256i tail_mask(int64_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n));
}

template <UnaryF32 U>
inline __m256 apply(__m256 x, __m256 p0, __m256 p1) {
  const __m256 zero = _mm256_setzero_ps();
  if constexpr (U == UnaryF32::kRelu) {
    return _mm256_max_ps(zero, x);  // 0 > x ? 0 : x: NaN and -0 pass through, as x < 0 ? 0 : x
  } else if constexpr (U == UnaryF32::kLeakyRelu) {
    return _mm256_blendv_ps(_mm256_mul_ps(x, p0), x, _mm256_cmp_ps(x, zero, _CMP_GE_OQ));
  } else if constexpr (U == UnaryF32::kClip) {
    // std::min(std::max(x, lo), hi) exactly: maxps(lo, x) = lo > x ? lo : x, minps(hi, m) = hi < m ? hi : m.
    return _mm256_min_ps(p1, _mm256_max_ps(p0, x));
  } else if constexpr (U == UnaryF32::kNeg) {
    return _mm256_xor_ps(x, _mm256_set1_ps(-0.0f));
  } else if constexpr (U == UnaryF32::kAbs) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  } else if constexpr (U == UnaryF32::kFloor) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  } else if constexpr (U == UnaryF32::kCeil) {
    return _mm256_round_ps(x, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
  } else if constexpr (U == UnaryF32::kSqrt) {
    return _mm256_sqrt_ps(x);
  } else if constexpr (U == UnaryF32::kReciprocal) {
    return _mm256_div_ps(_mm256_set1_ps(1.0f), x);  // correctly rounded, as 1.0f / x
  } else if constexpr (U == UnaryF32::kExp) {
    return vm256::exp_ieee_ps(x);
  } else if constexpr (U == UnaryF32::kLog) {
    return vm256::log_ps(x);
  } else if constexpr (U == UnaryF32::kSigmoid) {
    return vm256::sigmoid_ps(x);
  } else if constexpr (U == UnaryF32::kHardSigmoid || U == UnaryF32::kHardSwish) {
    // The reference's v > 1 ? 1 : v < 0 ? 0 : v: maxps / minps return v (the second operand) for NaN and -0.
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(p0, x), p1);
    const __m256 h = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(zero, v));
    return U == UnaryF32::kHardSwish ? _mm256_mul_ps(x, h) : h;
  } else if constexpr (U == UnaryF32::kTanh) {
    // |rational| clamped to 1, exactly 1 from |x| = 10 on (tanh rounds to 1 in float there; +-inf), then x's
    // sign: odd, and the rcp-based division can lose the sign of -0.
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mag = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(sign, vm256::tanh_ps(x)));  // NaN stays
    mag = _mm256_blendv_ps(mag, _mm256_set1_ps(1.0f),
                           _mm256_cmp_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    return _mm256_or_ps(mag, _mm256_and_ps(sign, x));
  } else {
    // The same for erf, which rounds to 1 in float from |x| ~ 3.92: exactly 1 from 4 on (the rational's clamp).
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 mag = _mm256_blendv_ps(_mm256_andnot_ps(sign, vm256::erf_ps(x)), _mm256_set1_ps(1.0f),
                                        _mm256_cmp_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(4.0f), _CMP_GE_OQ));
    return _mm256_or_ps(mag, _mm256_and_ps(sign, x));
  }
}

template <UnaryF32 U>
void unary_loop(const float* x, float* y, int64_t n, float p0f, float p1f) {
  const __m256 p0 = _mm256_set1_ps(p0f), p1 = _mm256_set1_ps(p1f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);  // both loaded first: y may be x
    _mm256_storeu_ps(y + i, apply<U>(a, p0, p1));
    _mm256_storeu_ps(y + i + 8, apply<U>(b, p0, p1));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, apply<U>(_mm256_loadu_ps(x + i), p0, p1));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, k, apply<U>(_mm256_maskload_ps(x + i, k), p0, p1));
  }
}

void unary(UnaryF32 op, const float* x, float* y, int64_t n, float p0, float p1) {
  if (n <= 0) return;
  dispatch_unary(op, [&](auto u) { unary_loop<decltype(u)::value>(x, y, n, p0, p1); });
}

template <BinaryF32 B>
inline __m256 combine(__m256 a, __m256 b) {
  if constexpr (B == BinaryF32::kAdd) return _mm256_add_ps(a, b);
  else if constexpr (B == BinaryF32::kSub) return _mm256_sub_ps(a, b);
  else if constexpr (B == BinaryF32::kMul) return _mm256_mul_ps(a, b);
  else return _mm256_div_ps(a, b);
}

// kA / kB: the operand advances (else it is one value, broadcast).
template <BinaryF32 B, bool kA, bool kB>
void binary_loop(const float* a, const float* b, float* y, int64_t n) {
  const __m256 av = kA ? _mm256_setzero_ps() : _mm256_set1_ps(*a);
  const __m256 bv = kB ? _mm256_setzero_ps() : _mm256_set1_ps(*b);
  const auto la = [&](int64_t i) { return kA ? _mm256_loadu_ps(a + i) : av; };
  const auto lb = [&](int64_t i) { return kB ? _mm256_loadu_ps(b + i) : bv; };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 r0 = combine<B>(la(i), lb(i)), r1 = combine<B>(la(i + 8), lb(i + 8));
    const __m256 r2 = combine<B>(la(i + 16), lb(i + 16)), r3 = combine<B>(la(i + 24), lb(i + 24));
    _mm256_storeu_ps(y + i, r0);
    _mm256_storeu_ps(y + i + 8, r1);
    _mm256_storeu_ps(y + i + 16, r2);
    _mm256_storeu_ps(y + i + 24, r3);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, combine<B>(la(i), lb(i)));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    const __m256 va = kA ? _mm256_maskload_ps(a + i, k) : av;
    const __m256 vb = kB ? _mm256_maskload_ps(b + i, k) : bv;
    _mm256_maskstore_ps(y + i, k, combine<B>(va, vb));
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

struct Avx2Lanes {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T set1(float v) { return _mm256_set1_ps(v); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_partial(const float* p, int n, float fill) {
    const __m256i k = tail_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
  }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, T v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  // maxps gives its second operand when either is NaN: a NaN x comes through; a NaN acc is put back.
  static T max_nan(T acc, T x) { return _mm256_blendv_ps(_mm256_max_ps(acc, x), acc, _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q)); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T exp(T v) { return vm256::exp_ps(v); }
  static float reduce_max(T v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }
  static float reduce_add(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static float log_scalar(float v) { return std::log(v); }
};

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  elementwise_detail::softmax_rows_impl<Avx2Lanes>(x, y, rows, n, log_softmax);
}

void pool_taps(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max) {
  elementwise_detail::pool_taps_for<Avx2Lanes>(x, offsets, taps, n, y, max);
}

}  // namespace

extern const ElementwiseF32Variant kElementwiseF32Avx2{"f32_velementwise__avx2", Isa::kAvx2, &unary, &binary, &softmax_rows,
                                                       &pool_taps};

}  // namespace edgeinfer
