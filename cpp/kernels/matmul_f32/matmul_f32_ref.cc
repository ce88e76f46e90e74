// The portable FP32 matmul of two activations: the definition of correct for the SIMD variants. Each output
// is one float accumulated in k order, then scaled by alpha. Row-major B: a row of C gathers a[i, k] times
// row k of B (contiguous, so the compiler vectorises it at the baseline ISA); B^T: contiguous dot products.
#include <algorithm>
#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

namespace {

void run(const MatMulF32Args& p) {
  const int64_t j0 = p.n_begin, cols = p.n_end - p.n_begin;
  if (p.m <= 0 || cols <= 0) return;
  for (int64_t i = 0; i < p.m; ++i) {
    const float* ar = p.a + i * p.lda;
    float* __restrict cr = p.c + i * p.ldc + j0;
    if (p.b_trans) {
      for (int64_t j = 0; j < cols; ++j) {
        const float* bc = p.b + (j0 + j) * p.ldb;
        float total = 0.0f;
        for (int64_t kk = 0; kk < p.k; ++kk) total += ar[kk] * bc[kk];
        cr[j] = p.alpha * total;
      }
      continue;
    }
    std::fill_n(cr, cols, 0.0f);
    for (int64_t kk = 0; kk < p.k; ++kk) {
      const float av = ar[kk];
      const float* __restrict br = p.b + kk * p.ldb + j0;
      for (int64_t j = 0; j < cols; ++j) cr[j] += av * br[j];
    }
    for (int64_t j = 0; j < cols; ++j) cr[j] *= p.alpha;
  }
}

}  // namespace

// mr / nr: the column-panel granularity the batched driver splits threads on (no register tile here).
extern const MatMulF32Variant kMatMulF32Ref = {"f32_matmul__ref", Isa::kRef, 1, 16, run};

}  // namespace edgeinfer
