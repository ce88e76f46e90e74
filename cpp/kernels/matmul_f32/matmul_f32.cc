// Batched FP32 matmul of two activations: batch x column-panel work units split in contiguous ranges over the
// thread pool, one scratch slot per concurrent range. Portable glue; the math runs in the table's variant.
#include "edgeinfer/matmul_f32.h"

#include <algorithm>

#include "edgeinfer/aligned_buffer.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "runtime/thread_pool.h"

namespace edgeinfer {

namespace {

size_t slot_floats(const MatMulF32Variant* variant, int64_t k) {
  return align_up(matmul_f32_scratch_floats(variant, k) * sizeof(float)) / sizeof(float);
}

int slot_count(int threads) { return std::clamp(threads, 1, gemm_f32_detail::kMaxSlots); }

}  // namespace

size_t matmul_f32_scratch_floats(const MatMulF32Variant* variant, int64_t k) {
  return static_cast<size_t>(std::max<int64_t>(k, 1) * variant->nr);  // one packed [k][nr] panel
}

size_t batched_matmul_f32_scratch_bytes(const MatMulF32Variant* variant, int64_t k, int threads) {
  return sizeof(float) * slot_floats(variant, k) * static_cast<size_t>(slot_count(threads));
}

void batched_matmul_f32(const MatMulF32Variant* variant, const BatchedMatMulF32Args& args, void* scratch,
                        ThreadPool* pool) {
  if (args.batches <= 0 || args.m <= 0 || args.n <= 0) return;
  const int64_t nr = variant->nr;
  const int64_t panels = (args.n + nr - 1) / nr;
  const int64_t units = args.batches * panels;
  const size_t slot = slot_floats(variant, args.k);
  // Units [begin, end) on scratch slot s: per batch entry, one call over its consecutive column panels.
  auto run_units = [&](int64_t begin, int64_t end, int64_t s) {
    MatMulF32Args p;
    p.m = args.m;
    p.n = args.n;
    p.k = args.k;
    p.lda = args.lda;
    p.ldb = args.ldb;
    p.b_trans = args.b_trans;
    p.ldc = args.ldc;
    p.alpha = args.alpha;
    p.scratch = static_cast<float*>(scratch) + static_cast<size_t>(s) * slot;
    for (int64_t u = begin; u < end;) {
      const int64_t bi = u / panels, p0 = u % panels, p1 = std::min(panels, p0 + (end - u));
      p.a = args.a + args.a_offsets[bi];
      p.b = args.b + args.b_offsets[bi];
      p.c = args.c + bi * args.c_batch_stride;
      p.n_begin = p0 * nr;
      p.n_end = std::min(args.n, p1 * nr);
      variant->run(p);
      u += p1 - p0;
    }
  };
  const int64_t macs = args.batches * args.m * args.n * std::max<int64_t>(args.k, 1);
  int64_t t = 1;
  if (pool != nullptr && pool->threads() > 1 && macs >= gemm_f32_detail::kParallelMacs)
    t = std::min<int64_t>({static_cast<int64_t>(slot_count(pool->threads())), units});
  if (t <= 1) {
    run_units(0, units, 0);
    return;
  }
  pool->parallel_for(t, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) run_units(units * s / t, units * (s + 1) / t, s);
  });
}

}  // namespace edgeinfer
