// NEON (armv8.0-a) FP32 GEMM: 8x12 register tile (24 q accumulators, B panel rows as 3 q, A broadcast by
// element from its packed panel), fewer rows as their own instantiations (1-3 rows split k over extra
// accumulator sets), fused alpha / bias / activation epilogue; the last panel is stored through a buffer.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_neon.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

using namespace gemm_f32_detail;

constexpr int kMr = 8, kNr = 12;

inline float32x4_t activate(float32x4_t v, FusedActivation act, float a, float b) {
  switch (act) {
    case FusedActivation::kNone: return v;
    // FMAX / FMIN return NaN when either operand is NaN: NaN in v propagates (as ORT). Clip bounds are not NaN.
    case FusedActivation::kRelu: return vmaxq_f32(v, vdupq_n_f32(0.0f));
    case FusedActivation::kLeakyRelu: {
      const uint32x4_t neg = vcltq_f32(v, vdupq_n_f32(0.0f));
      return vbslq_f32(neg, vmulq_n_f32(v, a), v);
    }
    case FusedActivation::kSigmoid: {
      const float32x4_t ex = vmneon::exp_ps(vnegq_f32(v));
      return vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), ex));
    }
    case FusedActivation::kClip: return vminq_f32(vmaxq_f32(v, vdupq_n_f32(a)), vdupq_n_f32(b));
    case FusedActivation::kTanh: return vmneon::tanh_ps(v);
    case FusedActivation::kHardSigmoid:
    case FusedActivation::kHardSwish: {
      const bool swish = act == FusedActivation::kHardSwish;
      const float32x4_t t = vfmaq_f32(vdupq_n_f32(swish ? 0.5f : b), v, vdupq_n_f32(swish ? 1.0f / 6.0f : a));
      const float32x4_t h = vminq_f32(vmaxq_f32(t, vdupq_n_f32(0.0f)), vdupq_n_f32(1.0f));
      return swish ? vmulq_f32(v, h) : h;
    }
    case FusedActivation::kSilu: {
      const float32x4_t ex = vmneon::exp_ps(vnegq_f32(v));
      const float32x4_t y = vmulq_f32(v, vdivq_f32(vdupq_n_f32(1.0f), vaddq_f32(vdupq_n_f32(1.0f), ex)));
      // -inf * Sigmoid(-inf) = -inf * 0 = NaN in ONNX Runtime's Mul(x, Sigmoid(x)); exp_ps saturates instead.
      return vbslq_f32(vceqq_f32(v, vdupq_n_f32(-INFINITY)), vdupq_n_f32(NAN), y);
    }
    case FusedActivation::kGeluErf: return vmneon::gelu_erf_ps(v);
    case FusedActivation::kGeluTanh: return vmneon::gelu_tanh_ps(v);
  }
  return v;
}

template <int R>
struct Tile {
  static void run(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
                  const Epilogue& e) {
    constexpr int KU = R >= 4 ? 1 : (R >= 2 ? 2 : 3);
    float32x4_t acc[KU][R][3];
#pragma GCC unroll 64
    for (int u = 0; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) acc[u][i][0] = acc[u][i][1] = acc[u][i][2] = vdupq_n_f32(0.0f);
    int64_t kk = 0;
    for (; kk + KU <= k; kk += KU) {
#pragma GCC unroll 4
      for (int u = 0; u < KU; ++u) {
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        b += ldb;
#pragma GCC unroll 64
        for (int i = 0; i < R; ++i) {
          acc[u][i][0] = vfmaq_n_f32(acc[u][i][0], b0, a[i]);
          acc[u][i][1] = vfmaq_n_f32(acc[u][i][1], b1, a[i]);
          acc[u][i][2] = vfmaq_n_f32(acc[u][i][2], b2, a[i]);
        }
        a += R;
      }
    }
    for (; kk < k; ++kk) {
      const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
      b += ldb;
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        acc[0][i][0] = vfmaq_n_f32(acc[0][i][0], b0, a[i]);
        acc[0][i][1] = vfmaq_n_f32(acc[0][i][1], b1, a[i]);
        acc[0][i][2] = vfmaq_n_f32(acc[0][i][2], b2, a[i]);
      }
      a += R;
    }
#pragma GCC unroll 4
    for (int u = 1; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i)
        for (int v = 0; v < 3; ++v) acc[0][i][v] = vaddq_f32(acc[0][i][v], acc[u][i][v]);
    float bn[kNr] = {};
    if (e.bias_n != nullptr) std::memcpy(bn, e.bias_n, sizeof(float) * static_cast<size_t>(cols));
    const float32x4_t bn0 = vld1q_f32(bn), bn1 = vld1q_f32(bn + 4), bn2 = vld1q_f32(bn + 8);
#pragma GCC unroll 64
    for (int i = 0; i < R; ++i) {
      const float32x4_t bm = vdupq_n_f32(e.bias_m != nullptr ? e.bias_m[i] : 0.0f);
      float32x4_t v0 = vaddq_f32(vfmaq_n_f32(bn0, acc[0][i][0], e.alpha), bm);
      float32x4_t v1 = vaddq_f32(vfmaq_n_f32(bn1, acc[0][i][1], e.alpha), bm);
      float32x4_t v2 = vaddq_f32(vfmaq_n_f32(bn2, acc[0][i][2], e.alpha), bm);
      v0 = activate(v0, e.act, e.act_alpha, e.act_beta);
      v1 = activate(v1, e.act, e.act_alpha, e.act_beta);
      v2 = activate(v2, e.act, e.act_alpha, e.act_beta);
      float* ci = c + i * ldc;
      if (cols >= kNr) {
        vst1q_f32(ci, v0);
        vst1q_f32(ci + 4, v1);
        vst1q_f32(ci + 8, v2);
      } else {
        float t[kNr];
        vst1q_f32(t, v0);
        vst1q_f32(t + 4, v1);
        vst1q_f32(t + 8, v2);
        std::memcpy(ci, t, sizeof(float) * static_cast<size_t>(cols));
      }
    }
  }
};

constexpr TileTable<Tile, kMr> kTiles{};

void run(const GemmF32Args& args) { run_driver<kMr, kNr>(args, kTiles.fns); }

void minmax(const float* x, int64_t n, float* mn, float* mx) {
  float32x4_t lo = vdupq_n_f32(INFINITY), hi = vdupq_n_f32(-INFINITY);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    lo = vminq_f32(lo, v);  // FMIN / FMAX: a NaN lane stays NaN
    hi = vmaxq_f32(hi, v);
  }
  float a = vminvq_f32(lo), b = vmaxvq_f32(hi);  // NaN if any lane is
  bool nan = a != a;
  for (; i < n; ++i) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
    nan |= x[i] != x[i];
  }
  *mn = nan ? NAN : a;
  *mx = nan ? NAN : b;
}

struct NeonVec {
  using V = float32x4_t;
  static constexpr int kLanes = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static V set1(float a) { return vdupq_n_f32(a); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V max(V a, V b) { return vbslq_f32(vceqq_f32(a, a), vmaxq_f32(a, b), a); }
  static V activate(V v, FusedActivation act, float a, float b) { return edgeinfer::activate(v, act, a, b); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static V load_partial(const float* p, int n) {
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int l = 0; l < n; ++l) lanes[l] = p[l];
    return vld1q_f32(lanes);
  }
  static void store_partial(float* p, V v, int n) {
    if (n >= 2) vst1_f32(p, vget_low_f32(v));
    if (n == 3) vst1q_lane_f32(p + 2, v, 2);
    if (n == 1) vst1q_lane_f32(p, v, 0);
  }
};

void half_to_float_n(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(in + i))));
  half_to_float_scalar(in + i, out + i, n - i);
}

}  // namespace

extern const GemmF32Variant kGemmF32Neon = {"f32_gemm_8x12__neon", Isa::kNeon, kMr, kNr, run, minmax, activate_n<NeonVec>,
                                            IgemmTiles<NeonVec, 6, 2>::family(), IgemmTiles<NeonVec, 6, 4>::family(),
                                            IgemmTiles<NeonVec, 4, 6>::family(),
    rows_epilogue<NeonVec>, column_sums<NeonVec>, half_to_float_n};

}  // namespace edgeinfer
