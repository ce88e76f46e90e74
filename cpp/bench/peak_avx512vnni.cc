// The CPU's INT8 register peak on one core: many independent vpdpbusd zmm accumulators, no memory
// traffic in the loop. Compiled with the avx512vnni flags (file-name suffix); bench_gemm_s8 calls it only
// when the CPU supports AVX-512 VNNI.
#include <immintrin.h>

#include <chrono>
#include <cstdint>

namespace {

// `iterations` rounds of 24 independent vpdpbusd zmm (registers zmm0..zmm23, sources zmm30 / zmm31),
// written in assembly so the compiler can neither spill nor fold anything.
void vnni_loop(int64_t iterations) {
  asm volatile(
      "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t"
      "vpabsb %%zmm30, %%zmm30\n\t"
      "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
#define EI_ZERO(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
      EI_ZERO(0) EI_ZERO(1) EI_ZERO(2) EI_ZERO(3) EI_ZERO(4) EI_ZERO(5) EI_ZERO(6) EI_ZERO(7) EI_ZERO(8)
      EI_ZERO(9) EI_ZERO(10) EI_ZERO(11) EI_ZERO(12) EI_ZERO(13) EI_ZERO(14) EI_ZERO(15) EI_ZERO(16)
      EI_ZERO(17) EI_ZERO(18) EI_ZERO(19) EI_ZERO(20) EI_ZERO(21) EI_ZERO(22) EI_ZERO(23)
#undef EI_ZERO
      "1:\n\t"
#define EI_DP(i) "vpdpbusd %%zmm31, %%zmm30, %%zmm" #i "\n\t"
      EI_DP(0) EI_DP(1) EI_DP(2) EI_DP(3) EI_DP(4) EI_DP(5) EI_DP(6) EI_DP(7) EI_DP(8) EI_DP(9) EI_DP(10)
      EI_DP(11) EI_DP(12) EI_DP(13) EI_DP(14) EI_DP(15) EI_DP(16) EI_DP(17) EI_DP(18) EI_DP(19) EI_DP(20)
      EI_DP(21) EI_DP(22) EI_DP(23)
#undef EI_DP
      "dec %0\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(iterations)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm30", "xmm31");
}

constexpr int kAcc = 24;

}  // namespace

extern "C" double edgeinfer_bench_peak_avx512vnni_gops(double min_seconds) {
  int64_t iterations = 1 << 14;
  double best = 0.0;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    vnni_loop(iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gops = static_cast<double>(iterations) * kAcc * 64 * 2 / seconds * 1e-9;
    if (gops > best) best = gops;
    if (seconds >= min_seconds) break;
    iterations *= 2;
  }
  return best;
}
