// FP32 element-wise maps on AArch64 Advanced SIMD (armv8.0-a baseline): 8 floats per iteration (two
// independent vectors for the latency of the exp / division chains on in-order cores), the last < 4 floats
// through a 4-float stack buffer (no over-read or over-write).
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_neon.h"
#include "kernels/elementwise/elementwise_f32_common.h"

namespace edgeinfer {
namespace {

using elementwise_detail::dispatch_binary;
using elementwise_detail::dispatch_unary;

template <UnaryF32 U>
EDGEINFER_VMNEON_INLINE float32x4_t apply(float32x4_t x, float32x4_t p0, float32x4_t p1) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  if constexpr (U == UnaryF32::kRelu) {
    return vbslq_f32(vcltq_f32(x, zero), zero, x);  // x < 0 ? 0 : x (vmaxq would turn -0 into +0)
  } else if constexpr (U == UnaryF32::kLeakyRelu) {
    return vbslq_f32(vcgeq_f32(x, zero), x, vmulq_f32(x, p0));
  } else if constexpr (U == UnaryF32::kClip) {
    // std::min(std::max(x, lo), hi) exactly (NaN x kept, NaN bound ignored, signed zeros as the reference).
    const float32x4_t m = vbslq_f32(vcltq_f32(x, p0), p0, x);
    return vbslq_f32(vcltq_f32(p1, m), p1, m);
  } else if constexpr (U == UnaryF32::kNeg) {
    return vnegq_f32(x);
  } else if constexpr (U == UnaryF32::kAbs) {
    return vabsq_f32(x);
  } else if constexpr (U == UnaryF32::kFloor) {
    return vrndmq_f32(x);
  } else if constexpr (U == UnaryF32::kCeil) {
    return vrndpq_f32(x);
  } else if constexpr (U == UnaryF32::kSqrt) {
    return vsqrtq_f32(x);
  } else if constexpr (U == UnaryF32::kReciprocal) {
    return vdivq_f32(vdupq_n_f32(1.0f), x);  // correctly rounded, as 1.0f / x (inf / 0 / denormal safe)
  } else if constexpr (U == UnaryF32::kExp) {
    return vmneon::exp_ps(x);
  } else if constexpr (U == UnaryF32::kLog) {
    return vmneon::log_ps(x);
  } else if constexpr (U == UnaryF32::kSigmoid) {
    return vmneon::sigmoid_ps(x);
  } else if constexpr (U == UnaryF32::kHardSigmoid || U == UnaryF32::kHardSwish) {
    // The reference's v > 1 ? 1 : v < 0 ? 0 : v with selects (FMAX / FMIN would not keep -0 and NaN as it does).
    const float32x4_t v = vaddq_f32(vmulq_f32(p0, x), p1);
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t h = vbslq_f32(vcgtq_f32(v, one), one, vbslq_f32(vcltq_f32(v, zero), zero, v));
    return U == UnaryF32::kHardSwish ? vmulq_f32(x, h) : h;
  } else if constexpr (U == UnaryF32::kTanh) {
    // |rational| clamped to 1, exactly 1 from |x| = 10 on (tanh rounds to 1 in float there; +-inf), then x's
    // sign: odd, and the estimate-based division can lose the sign of -0.
    float32x4_t mag = vminq_f32(vdupq_n_f32(1.0f), vabsq_f32(vmneon::tanh_ps(x)));  // NaN stays
    mag = vbslq_f32(vcageq_f32(x, vdupq_n_f32(10.0f)), vdupq_n_f32(1.0f), mag);
    return vbslq_f32(vdupq_n_u32(0x80000000u), x, mag);
  } else {
    // The same for erf, which rounds to 1 in float from |x| ~ 3.92: exactly 1 from 4 on (the rational's clamp).
    const float32x4_t mag = vbslq_f32(vcageq_f32(x, vdupq_n_f32(4.0f)), vdupq_n_f32(1.0f), vabsq_f32(vmneon::erf_ps(x)));
    return vbslq_f32(vdupq_n_u32(0x80000000u), x, mag);
  }
}

template <UnaryF32 U>
void unary_loop(const float* x, float* y, int64_t n, float p0f, float p1f) {
  const float32x4_t p0 = vdupq_n_f32(p0f), p1 = vdupq_n_f32(p1f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);  // both loaded first: y may be x
    vst1q_f32(y + i, apply<U>(a, p0, p1));
    vst1q_f32(y + i + 4, apply<U>(b, p0, p1));
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, apply<U>(vld1q_f32(x + i), p0, p1));
  if (i < n) {
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const size_t bytes = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(buf, x + i, bytes);
    vst1q_f32(buf, apply<U>(vld1q_f32(buf), p0, p1));
    std::memcpy(y + i, buf, bytes);
  }
}

void unary(UnaryF32 op, const float* x, float* y, int64_t n, float p0, float p1) {
  if (n <= 0) return;
  dispatch_unary(op, [&](auto u) { unary_loop<decltype(u)::value>(x, y, n, p0, p1); });
}

template <BinaryF32 B>
EDGEINFER_VMNEON_INLINE float32x4_t combine(float32x4_t a, float32x4_t b) {
  if constexpr (B == BinaryF32::kAdd) return vaddq_f32(a, b);
  else if constexpr (B == BinaryF32::kSub) return vsubq_f32(a, b);
  else if constexpr (B == BinaryF32::kMul) return vmulq_f32(a, b);
  else return vdivq_f32(a, b);
}

// kA / kB: the operand advances (else it is one value, broadcast).
template <BinaryF32 B, bool kA, bool kB>
void binary_loop(const float* a, const float* b, float* y, int64_t n) {
  const float32x4_t av = vdupq_n_f32(kA ? 0.0f : *a);
  const float32x4_t bv = vdupq_n_f32(kB ? 0.0f : *b);
  const auto la = [&](int64_t i) { return kA ? vld1q_f32(a + i) : av; };
  const auto lb = [&](int64_t i) { return kB ? vld1q_f32(b + i) : bv; };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4_t r0 = combine<B>(la(i), lb(i)), r1 = combine<B>(la(i + 4), lb(i + 4));
    const float32x4_t r2 = combine<B>(la(i + 8), lb(i + 8)), r3 = combine<B>(la(i + 12), lb(i + 12));
    vst1q_f32(y + i, r0);
    vst1q_f32(y + i + 4, r1);
    vst1q_f32(y + i + 8, r2);
    vst1q_f32(y + i + 12, r3);
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, combine<B>(la(i), lb(i)));
  for (; i < n; ++i) {
    const float va = kA ? a[i] : *a, vb = kB ? b[i] : *b;
    if constexpr (B == BinaryF32::kAdd) y[i] = va + vb;
    else if constexpr (B == BinaryF32::kSub) y[i] = va - vb;
    else if constexpr (B == BinaryF32::kMul) y[i] = va * vb;
    else y[i] = va / vb;
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

struct NeonLanes {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T set1(float v) { return vdupq_n_f32(v); }
  static T load(const float* p) { return vld1q_f32(p); }
  static T load_partial(const float* p, int n, float fill) {
    float buffer[4] = {fill, fill, fill, fill};
    std::memcpy(buffer, p, sizeof(float) * static_cast<size_t>(n));
    return vld1q_f32(buffer);
  }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static void store_partial(float* p, T v, int n) {
    float buffer[4];
    vst1q_f32(buffer, v);
    std::memcpy(p, buffer, sizeof(float) * static_cast<size_t>(n));
  }
  // FMAX returns NaN when either is NaN (the row's sum turns NaN either way).
  static T max(T a, T b) { return vmaxq_f32(a, b); }
  static T max_nan(T acc, T x) { return vmaxq_f32(acc, x); }  // FMAX: NaN if either is NaN
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T exp(T v) { return vmneon::exp_ps(v); }
  static float reduce_max(T v) { return vmaxvq_f32(v); }
  static float reduce_add(T v) { return vaddvq_f32(v); }
  static float log_scalar(float v) { return std::log(v); }
};

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  elementwise_detail::softmax_rows_impl<NeonLanes>(x, y, rows, n, log_softmax);
}

void pool_taps(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max) {
  elementwise_detail::pool_taps_for<NeonLanes>(x, offsets, taps, n, y, max);
}

}  // namespace

extern const ElementwiseF32Variant kElementwiseF32Neon{"f32_velementwise__neon", Isa::kNeon, &unary, &binary, &softmax_rows,
                                                       &pool_taps};

}  // namespace edgeinfer
