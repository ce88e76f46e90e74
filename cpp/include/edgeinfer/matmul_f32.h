// Batched FP32 matmul of two activations (MatMul / Gemm with a non-constant B): one MatMulF32Variant call
// per matrix pair or column range, spread over the thread pool across batch x column panels. Scratch comes
// from the caller (the step's arena scratch), so a run allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

class ThreadPool;  // cpp/runtime/thread_pool.h; null means run on the calling thread

// Batch entry i: A at a + a_offsets[i], B at b + b_offsets[i] (offsets in floats, broadcast entries repeat
// an offset), C at c + i * c_batch_stride. Layouts and alpha as in MatMulF32Args.
struct BatchedMatMulF32Args {
  int64_t batches = 0, m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const int64_t* a_offsets = nullptr;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool b_trans = false;
  const int64_t* b_offsets = nullptr;
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t c_batch_stride = 0;
  float alpha = 1.0f;
};

// Scratch for a pool of `threads` threads (one slot per concurrent chunk, at most a fixed number).
size_t batched_matmul_f32_scratch_bytes(const MatMulF32Variant* variant, int64_t k, int threads);
void batched_matmul_f32(const MatMulF32Variant* variant, const BatchedMatMulF32Args& args, void* scratch,
                        ThreadPool* pool);

}  // namespace edgeinfer
