// The portable INT8 GEMM: plain loops, the definition of correct. nr = kr = 1, so the packed data is
// simply W transposed (column n holds its k weights contiguously).
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_common.h"

namespace edgeinfer {

namespace {

void gemm_s8_ref_run(const GemmS8Args& args) {
  using namespace gemm_s8_detail;
  const PackedWeightsS8& w = *args.w;
  const int64_t k = w.k;
  const int64_t n_end = resolved_n_end(args);
  const int8_t* weights = w.weights();
  const float* scale = w.scale();
  const float* bias = w.bias_values();
  const auto* a_u8 = static_cast<const uint8_t*>(args.a);
  const auto* a_s8 = static_cast<const int8_t*>(args.a);
  const int64_t segment_k = k / args.segments;
  for (int64_t i = 0; i < args.m; ++i) {
    const int64_t row = a_offset(args, k, i, 0);
    for (int64_t j = args.n_begin; j < n_end; ++j) {
      const int8_t* col = weights + j * k;
      // int64 sum, then wrapped to int32 (two's complement), which is what the SIMD variants compute.
      int64_t sum = 0;
      for (int64_t s = 0; s < args.segments; ++s) {
        const int64_t run = row + s * args.segment_stride;
        for (int64_t kk = 0; kk < segment_k; ++kk) {
          const int32_t a = args.a_signed ? int32_t{a_s8[run + kk]} : int32_t{a_u8[run + kk]};
          sum += int64_t{a - args.a_zero_point} * col[s * segment_k + kk];
        }
      }
      const auto acc = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
      if (args.c_i32 != nullptr) {
        args.c_i32[i * args.ldc + j] = acc;
      } else {
        const float y = std::fma(static_cast<float>(acc), args.a_scale * scale[j], bias[j]);
        args.c_f32[i * args.ldc + j] = apply_activation_scalar(y, args.activation);
      }
    }
  }
}

}  // namespace

extern const GemmS8Variant kGemmS8Ref = {"qs8_gemm_1x1__ref", Isa::kRef, 1, 1, gemm_s8_ref_run, nullptr, true};

}  // namespace edgeinfer
