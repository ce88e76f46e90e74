// LayerNorm (+ fused GELU) and GELU on AArch64 NEON (armv8.0-a baseline). Per row: pass 1 sums the row,
// pass 2 sums squared deviations from the float mean (the row is in L1/L2 by then), pass 3 normalizes,
// applies gamma / beta and the activation in registers and stores once. y may alias x: pass 3 reads each
// element before it writes the same element. Tails shorter than a vector go through a 4-float stack
// buffer (no masked loads on NEON, and an overlapping reload would read already-written outputs in place).
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_neon.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"

namespace edgeinfer {
namespace {

#define EI_ALWAYS_INLINE inline __attribute__((always_inline))

template <Activation A>
EI_ALWAYS_INLINE float32x4_t activate(float32x4_t v) {
  if constexpr (A == Activation::kGeluErf) return vmneon::gelu_erf_ps(v);
  else if constexpr (A == Activation::kGeluTanh) return vmneon::gelu_tanh_ps(v);
  else return v;
}

// Loads n (0..3) floats into the low lanes of a vector, zeros above.
inline float32x4_t load_partial(const float* p, int64_t n) {
  float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  return vld1q_f32(buf);
}

inline void store_partial(float* p, float32x4_t v, int64_t n) {
  float buf[4];
  vst1q_f32(buf, v);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
}

float row_sum(const float* x, int64_t w) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= w; i += 16) {
    a0 = vaddq_f32(a0, vld1q_f32(x + i));
    a1 = vaddq_f32(a1, vld1q_f32(x + i + 4));
    a2 = vaddq_f32(a2, vld1q_f32(x + i + 8));
    a3 = vaddq_f32(a3, vld1q_f32(x + i + 12));
  }
  for (; i + 4 <= w; i += 4) a0 = vaddq_f32(a0, vld1q_f32(x + i));
  if (i < w) a1 = vaddq_f32(a1, load_partial(x + i, w - i));
  return vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
}

float row_sq_dev(const float* x, int64_t w, float mean) {
  const float32x4_t m = vdupq_n_f32(mean);
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= w; i += 16) {
    const float32x4_t d0 = vsubq_f32(vld1q_f32(x + i), m);
    const float32x4_t d1 = vsubq_f32(vld1q_f32(x + i + 4), m);
    const float32x4_t d2 = vsubq_f32(vld1q_f32(x + i + 8), m);
    const float32x4_t d3 = vsubq_f32(vld1q_f32(x + i + 12), m);
    a0 = vfmaq_f32(a0, d0, d0);
    a1 = vfmaq_f32(a1, d1, d1);
    a2 = vfmaq_f32(a2, d2, d2);
    a3 = vfmaq_f32(a3, d3, d3);
  }
  for (; i + 4 <= w; i += 4) {
    const float32x4_t d = vsubq_f32(vld1q_f32(x + i), m);
    a0 = vfmaq_f32(a0, d, d);
  }
  float tail = 0.0f;
  for (; i < w; ++i) {
    const float d = x[i] - mean;
    tail += d * d;
  }
  return vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))) + tail;
}

template <Activation A, bool kGamma, bool kBeta>
EI_ALWAYS_INLINE float32x4_t normalize(float32x4_t v, float32x4_t mean, float32x4_t rstd, float32x4_t g, float32x4_t b) {
  float32x4_t n = vmulq_f32(vsubq_f32(v, mean), rstd);
  if constexpr (kGamma && kBeta) n = vfmaq_f32(b, n, g);
  else if constexpr (kGamma) n = vmulq_f32(n, g);
  else if constexpr (kBeta) n = vaddq_f32(n, b);
  return activate<A>(n);
}

template <bool kOn>
inline float32x4_t load_opt(const float* p) {
  if constexpr (kOn) return vld1q_f32(p);
  else return vdupq_n_f32(0.0f);
}

template <Activation A, bool kGamma, bool kBeta>
void normalize_row(const float* x, float* y, int64_t w, float mean, float rstd, const float* gamma,
                   const float* beta) {
  const float32x4_t vm = vdupq_n_f32(mean), vr = vdupq_n_f32(rstd);
  int64_t i = 0;
  // Two independent vectors per step: the GELU chains are long and in-order cores (A53 / A55) need the ILP.
  for (; i + 8 <= w; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    const float32x4_t o0 =
        normalize<A, kGamma, kBeta>(v0, vm, vr, load_opt<kGamma>(gamma + i), load_opt<kBeta>(beta + i));
    const float32x4_t o1 =
        normalize<A, kGamma, kBeta>(v1, vm, vr, load_opt<kGamma>(gamma + i + 4), load_opt<kBeta>(beta + i + 4));
    vst1q_f32(y + i, o0);
    vst1q_f32(y + i + 4, o1);
  }
  for (; i + 4 <= w; i += 4)
    vst1q_f32(y + i, normalize<A, kGamma, kBeta>(vld1q_f32(x + i), vm, vr, load_opt<kGamma>(gamma + i),
                                                 load_opt<kBeta>(beta + i)));
  if (i < w) {
    const int64_t n = w - i;
    const float32x4_t g = kGamma ? load_partial(gamma + i, n) : vdupq_n_f32(0.0f);
    const float32x4_t b = kBeta ? load_partial(beta + i, n) : vdupq_n_f32(0.0f);
    store_partial(y + i, normalize<A, kGamma, kBeta>(load_partial(x + i, n), vm, vr, g, b), n);
  }
}

template <Activation A, bool kGamma, bool kBeta>
void layer_norm_rows(const LayerNormArgs& a) {
  const int64_t w = a.width;
  const float inv_w = 1.0f / static_cast<float>(w);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * w;
    float* y = a.y + r * w;
    const float mean = layernorm_detail::row_mean(row_sum(x, w), inv_w, x, w);
    const float var = row_sq_dev(x, w, mean) * inv_w;
    const float rstd = 1.0f / std::sqrt(var + a.epsilon);
    normalize_row<A, kGamma, kBeta>(x, y, w, mean, rstd, a.gamma, a.beta);
  }
}

template <Activation A>
void layer_norm_dispatch_affine(const LayerNormArgs& a) {
  if (a.gamma && a.beta) layer_norm_rows<A, true, true>(a);
  else if (a.gamma) layer_norm_rows<A, true, false>(a);
  else if (a.beta) layer_norm_rows<A, false, true>(a);
  else layer_norm_rows<A, false, false>(a);
}

void layer_norm_neon(const LayerNormArgs& a) {
  layernorm_detail::check_args(a);
  if (a.rows == 0 || a.width == 0) return;
  switch (a.activation) {
    case Activation::kGeluErf: layer_norm_dispatch_affine<Activation::kGeluErf>(a); break;
    case Activation::kGeluTanh: layer_norm_dispatch_affine<Activation::kGeluTanh>(a); break;
    default: layer_norm_dispatch_affine<Activation::kNone>(a); break;
  }
}

template <Activation A>
void gelu_run(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t o0 = activate<A>(vld1q_f32(x + i));
    const float32x4_t o1 = activate<A>(vld1q_f32(x + i + 4));
    vst1q_f32(y + i, o0);
    vst1q_f32(y + i + 4, o1);
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, activate<A>(vld1q_f32(x + i)));
  if (i < n) store_partial(y + i, activate<A>(load_partial(x + i, n - i)), n - i);
}

void gelu_neon(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  if (a.n == 0) return;
  if (a.tanh_approximation) gelu_run<Activation::kGeluTanh>(a.x, a.y, a.n);
  else gelu_run<Activation::kGeluErf>(a.x, a.y, a.n);
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluNeon;
const LayerNormGeluVariant kLayerNormGeluNeon = {"f32_layernorm_gelu__neon", Isa::kNeon, layer_norm_neon,
                                                 gelu_neon};

}  // namespace edgeinfer
