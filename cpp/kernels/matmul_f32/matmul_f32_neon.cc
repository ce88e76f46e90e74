// NEON FP32 matmul of two activations: tiles of up to 6 rows x 4 q registers (24 accumulators of 32), B
// read in place, A values broadcast with ld1r.
#include <arm_neon.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/matmul_f32/matmul_f32_common.h"

namespace edgeinfer {

namespace {

using namespace matmul_f32_detail;

constexpr int kMr = 6, kNv = 4;

struct NeonVec {
  using V = float32x4_t;
  static constexpr int kLanes = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static V set1(float a) { return vdupq_n_f32(a); }
  static V fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static float hsum(V v) { return vaddvq_f32(v); }
  static void store(float* p, V v) { vst1q_f32(p, v); }
  static void store_partial(float* p, V v, int n) {
    if (n >= 2) vst1_f32(p, vget_low_f32(v));
    if (n == 3) vst1q_lane_f32(p + 2, v, 2);
    if (n == 1) vst1q_lane_f32(p, v, 0);
  }
};

constexpr TileTable<NeonVec, kMr, kNv> kTiles{};

void run(const MatMulF32Args& args) { run_driver(args, kTiles); }

}  // namespace

extern const MatMulF32Variant kMatMulF32Neon = {"f32_matmul_6x16__neon", Isa::kNeon, kMr, kNv * 4, run};

}  // namespace edgeinfer
