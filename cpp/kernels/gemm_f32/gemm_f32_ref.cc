// The portable FP32 GEMM: scalar register tile (4 rows x 8 columns) over the shared driver; the definition
// of correct for the SIMD variants (same packing, same epilogue order: alpha * acc + bias_n + bias_m, then
// the activation). Accumulation is in k order, one float per output.
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

using namespace gemm_f32_detail;

constexpr int kMr = 4, kNr = 8;

template <int R>
struct RefTile {
  static void run(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
                  const Epilogue& e) {
    float acc[R][kNr] = {};
    for (int64_t kk = 0; kk < k; ++kk) {
      const float* bk = b + kk * ldb;
      const float* ak = a + kk * R;
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < kNr; ++j) acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < cols; ++j) {
        float v = e.alpha * acc[i][j];
        if (e.bias_n != nullptr) v += e.bias_n[j];
        if (e.bias_m != nullptr) v += e.bias_m[i];
        c[i * ldc + j] = activate_scalar(v, e.act, e.act_alpha, e.act_beta);
      }
  }
};

constexpr TileTable<RefTile, kMr> kTiles{};

void run(const GemmF32Args& args) { run_driver<kMr, kNr>(args, kTiles.fns); }

}  // namespace

extern const GemmF32Variant kGemmF32Ref = {"f32_gemm_4x8__ref", Isa::kRef, kMr, kNr, run, minmax_scalar,
                                           activate_scalar_n, IgemmTiles<ScalarVec4, 4, 1>::family(),
                                           IgemmTiles<ScalarVec4, 4, 2>::family(), IgemmTiles<ScalarVec4, 4, 3>::family(),
    rows_epilogue<ScalarVec4>, column_sums<ScalarVec4>, half_to_float_scalar};

}  // namespace edgeinfer
