// Packing for the FP32 GEMM variants (portable, used at weight creation and for A per call).
#include <algorithm>
#include <cstring>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

size_t gemm_f32_scratch_floats(const GemmF32Variant* variant, int64_t k) {
  // One gathered B panel ([k][nr]) plus slack so SIMD tails may read a vector past the panel.
  return static_cast<size_t>(std::max<int64_t>(k, 1) * variant->nr + 64);
}

int64_t gemm_f32_packed_b_floats(int64_t k, int64_t n, int nr) { return (n + nr - 1) / nr * nr * k; }

void gemm_f32_pack_b(const float* w, int64_t k, int64_t n, bool trans, int nr, float* out) {
  const int64_t panels = (n + nr - 1) / nr;
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(panels * nr * k));
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = out + p * k * nr;
    const int64_t cols = std::min<int64_t>(nr, n - p * nr);
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t col = p * nr + j;
        panel[kk * nr + j] = trans ? w[col * k + kk] : w[kk * n + col];
      }
  }
}

void gemm_f32_pack_a(const float* a, int64_t lda, int64_t m, int64_t k, bool trans, int mr, float* out) {
  for (int64_t i0 = 0; i0 < m; i0 += mr) {
    const int64_t rows = std::min<int64_t>(mr, m - i0);
    float* panel = out + i0 * k;
    if (!trans) {
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = a + (i0 + i) * lda;
        for (int64_t kk = 0; kk < k; ++kk) panel[kk * rows + i] = src[kk];
      }
    } else {
      for (int64_t kk = 0; kk < k; ++kk) std::memcpy(panel + kk * rows, a + kk * lda + i0, sizeof(float) * rows);
    }
  }
}

}  // namespace edgeinfer
