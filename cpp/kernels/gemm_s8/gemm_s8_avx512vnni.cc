// INT8 GEMM with AVX-512 VNNI: vpdpbusd on zmm, 8 x 48 register tile (24 accumulators), kr = 4.
// The K loops are inline assembly (rows 1..8; one row is a GEMV loop with four accumulator sets);
// blocking, tails and the epilogue are in gemm_s8_vnni_impl.h.
// GCC 12 reports a bogus -Wmaybe-uninitialized inside the AVX-512 intrinsic headers (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "kernels/gemm_s8/gemm_s8_vnni_impl.h"
#include "kernels/gemm_s8/gemm_s8_zmm_ops.h"

// ---- assembly building blocks for the MR x 48 VNNI tile --------------------------------------------
// Accumulators zmm0..23 (row r, vector v -> zmm(3r + v)), B in zmm24..26, A broadcasts alternate
// zmm27 / zmm28, the s8 -> u8 flip constant (0x80 bytes) in zmm29.
#define EI_Z(n) "%%zmm" #n
#define EI_DP3(a, c0, c1, c2)                                    \
  "vpdpbusd %%zmm24, " EI_Z(a) ", " EI_Z(c0) "\n\t"              \
  "vpdpbusd %%zmm25, " EI_Z(a) ", " EI_Z(c1) "\n\t"              \
  "vpdpbusd %%zmm26, " EI_Z(a) ", " EI_Z(c2) "\n\t"
#define EI_ROW_U(addr, a, c0, c1, c2) "vpbroadcastd " addr ", " EI_Z(a) "\n\t" EI_DP3(a, c0, c1, c2)
#define EI_ROW_S(addr, a, c0, c1, c2) \
  "vpbroadcastd " addr ", " EI_Z(a) "\n\tvpxord %%zmm29, " EI_Z(a) ", " EI_Z(a) "\n\t" EI_DP3(a, c0, c1, c2)
#define EI_LOAD_B                     \
  "vmovdqu64 (%[b]), %%zmm24\n\t"     \
  "vmovdqu64 64(%[b]), %%zmm25\n\t"   \
  "vmovdqu64 128(%[b]), %%zmm26\n\t"
#define EI_FLIP_CONST                               \
  "vpternlogd $0xff, %%zmm29, %%zmm29, %%zmm29\n\t" \
  "vpabsb %%zmm29, %%zmm29\n\t"                     \
  "vpsllw $7, %%zmm29, %%zmm29\n\t"
// Main-loop rows: A row r at a0 / a3 / a6 + {0, 1, 2} * lda.
#define EI_R0(F) F("(%[a0])", 27, 0, 1, 2)
#define EI_R1(F) F("(%[a0],%[lda],1)", 28, 3, 4, 5)
#define EI_R2(F) F("(%[a0],%[lda],2)", 27, 6, 7, 8)
#define EI_R3(F) F("(%[a3])", 28, 9, 10, 11)
#define EI_R4(F) F("(%[a3],%[lda],1)", 27, 12, 13, 14)
#define EI_R5(F) F("(%[a3],%[lda],2)", 28, 15, 16, 17)
#define EI_R6(F) F("(%[a6])", 27, 18, 19, 20)
#define EI_R7(F) F("(%[a6],%[lda],1)", 28, 21, 22, 23)
#define EI_ROWS_1(F) EI_R0(F)
#define EI_ROWS_2(F) EI_ROWS_1(F) EI_R1(F)
#define EI_ROWS_3(F) EI_ROWS_2(F) EI_R2(F)
#define EI_ROWS_4(F) EI_ROWS_3(F) EI_R3(F)
#define EI_ROWS_5(F) EI_ROWS_4(F) EI_R4(F)
#define EI_ROWS_6(F) EI_ROWS_5(F) EI_R5(F)
#define EI_ROWS_7(F) EI_ROWS_6(F) EI_R6(F)
#define EI_ROWS_8(F) EI_ROWS_7(F) EI_R7(F)
#define EI_ADV_A0 "add $4, %[a0]\n\t"
#define EI_ADV_A3 "add $4, %[a3]\n\t"
#define EI_ADV_A6 "add $4, %[a6]\n\t"
#define EI_ADVANCE_1 EI_ADV_A0
#define EI_ADVANCE_2 EI_ADV_A0
#define EI_ADVANCE_3 EI_ADV_A0
#define EI_ADVANCE_4 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_5 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_6 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_7 EI_ADV_A0 EI_ADV_A3 EI_ADV_A6
#define EI_ADVANCE_8 EI_ADV_A0 EI_ADV_A3 EI_ADV_A6
// Tail group: row r's dword at t + 4r (t = params->tails; already flipped).
#define EI_T(r, a, c0, c1, c2) EI_ROW_U(#r "*4(%[t])", a, c0, c1, c2)
#define EI_TAILS_1 EI_T(0, 27, 0, 1, 2)
#define EI_TAILS_2 EI_TAILS_1 EI_T(1, 28, 3, 4, 5)
#define EI_TAILS_3 EI_TAILS_2 EI_T(2, 27, 6, 7, 8)
#define EI_TAILS_4 EI_TAILS_3 EI_T(3, 28, 9, 10, 11)
#define EI_TAILS_5 EI_TAILS_4 EI_T(4, 27, 12, 13, 14)
#define EI_TAILS_6 EI_TAILS_5 EI_T(5, 28, 15, 16, 17)
#define EI_TAILS_7 EI_TAILS_6 EI_T(6, 27, 18, 19, 20)
#define EI_TAILS_8 EI_TAILS_7 EI_T(7, 28, 21, 22, 23)
#define EI_TAIL_BLOCK(MR_)          \
  "cmpq $0, 32(%[p])\n\t"           \
  "jz 3f\n\t"                       \
  "mov 24(%[p]), %[t]\n\t" EI_LOAD_B EI_TAILS_##MR_ "3:\n\t"
// Accumulators start at params->init (the zero-point correction row, -zp_eff * colsum), copied to every row.
#define EI_C3(c0, c1, c2) "vmovdqa64 %%zmm0, " EI_Z(c0) "\n\tvmovdqa64 %%zmm1, " EI_Z(c1) "\n\tvmovdqa64 %%zmm2, " EI_Z(c2) "\n\t"
#define EI_INIT_1                        \
  "mov 0(%[p]), %[t]\n\t"                \
  "vmovdqu64 (%[t]), %%zmm0\n\t"         \
  "vmovdqu64 64(%[t]), %%zmm1\n\t"       \
  "vmovdqu64 128(%[t]), %%zmm2\n\t"
#define EI_INIT_2 EI_INIT_1 EI_C3(3, 4, 5)
#define EI_INIT_3 EI_INIT_2 EI_C3(6, 7, 8)
#define EI_INIT_4 EI_INIT_3 EI_C3(9, 10, 11)
#define EI_INIT_5 EI_INIT_4 EI_C3(12, 13, 14)
#define EI_INIT_6 EI_INIT_5 EI_C3(15, 16, 17)
#define EI_INIT_7 EI_INIT_6 EI_C3(18, 19, 20)
#define EI_INIT_8 EI_INIT_7 EI_C3(21, 22, 23)
// Rows go to params->out + r * params->ldo (bytes): t = out, a0 = ldo, a3 / a6 = rows 3 / 6.
#define EI_OUT_ADDR                           \
  "mov 8(%[p]), %[t]\n\t"                     \
  "mov 16(%[p]), %[a0]\n\t"                   \
  "lea (%[t],%[a0],2), %[a3]\n\t"             \
  "add %[a0], %[a3]\n\t"                      \
  "lea (%[a3],%[a0],2), %[a6]\n\t"            \
  "add %[a0], %[a6]\n\t"
#define EI_SR(addr, c0, c1, c2)                       \
  "vmovdqu64 " EI_Z(c0) ", " addr "\n\t"              \
  "vmovdqu64 " EI_Z(c1) ", 64" addr "\n\t"            \
  "vmovdqu64 " EI_Z(c2) ", 128" addr "\n\t"
#define EI_STORE_1 EI_OUT_ADDR EI_SR("(%[t])", 0, 1, 2)
#define EI_STORE_2 EI_STORE_1 EI_SR("(%[t],%[a0],1)", 3, 4, 5)
#define EI_STORE_3 EI_STORE_2 EI_SR("(%[t],%[a0],2)", 6, 7, 8)
#define EI_STORE_4 EI_STORE_3 EI_SR("(%[a3])", 9, 10, 11)
#define EI_STORE_5 EI_STORE_4 EI_SR("(%[a3],%[a0],1)", 12, 13, 14)
#define EI_STORE_6 EI_STORE_5 EI_SR("(%[a3],%[a0],2)", 15, 16, 17)
#define EI_STORE_7 EI_STORE_6 EI_SR("(%[a6])", 18, 19, 20)
#define EI_STORE_8 EI_STORE_7 EI_SR("(%[a6],%[a0],1)", 21, 22, 23)

namespace edgeinfer {
namespace {

struct Zmm : ZmmOps {
  // One row (GEMV, memory bound): a single 3-accumulator chain would be latency bound, so four groups of
  // k are in flight per iteration on four accumulator sets (zmm0..11, B straight from memory), summed at
  // the end. Set 0 starts at params->init, the others at zero; remaining groups (count % 4) and the tail go
  // to set 0.
  template <bool FLIP>
  static void gemv_kernel(const uint8_t* a0, const int8_t* b, int64_t count, const vnni_impl::AsmParams* p) {
    int64_t quads = count / 4;
    int64_t rest = count % 4;
    const int32_t* t;
#define EI_ZERO_SETS                                                                            \
  "vpxord %%zmm3, %%zmm3, %%zmm3\n\t"                                                           \
  "vmovdqa64 %%zmm3, %%zmm4\n\tvmovdqa64 %%zmm3, %%zmm5\n\tvmovdqa64 %%zmm3, %%zmm6\n\t"         \
  "vmovdqa64 %%zmm3, %%zmm7\n\tvmovdqa64 %%zmm3, %%zmm8\n\tvmovdqa64 %%zmm3, %%zmm9\n\t"         \
  "vmovdqa64 %%zmm3, %%zmm10\n\tvmovdqa64 %%zmm3, %%zmm11\n\t"
#define EI_G1(aoff, areg, boff, c0, c1, c2)                                   \
  "vpbroadcastd " #aoff "(%[a0]), " EI_Z(areg) "\n\t" EI_GFLIP(areg)        \
  "vpdpbusd " #boff "+0(%[b]), " EI_Z(areg) ", " EI_Z(c0) "\n\t"              \
  "vpdpbusd " #boff "+64(%[b]), " EI_Z(areg) ", " EI_Z(c1) "\n\t"             \
  "vpdpbusd " #boff "+128(%[b]), " EI_Z(areg) ", " EI_Z(c2) "\n\t"
#define EI_GEMV_ASM                                                                                        \
  asm volatile(EI_INIT_1 EI_ZERO_SETS EI_FLIP_CONST "test %[quads], %[quads]\n\t"                                       \
               "jz 2f\n\t"                                                                                 \
               ".p2align 5\n\t"                                                                            \
               "1:\n\t"                                                                                    \
               "prefetcht0 1536(%[b])\n\t"                                                                 \
               "prefetcht0 1600(%[b])\n\t"                                                                 \
               "prefetcht0 1664(%[b])\n\t" EI_G1(0, 12, 0, 0, 1, 2) EI_G1(4, 13, 192, 3, 4, 5)              \
               "prefetcht0 1728(%[b])\n\t"                                                                 \
               "prefetcht0 1792(%[b])\n\t"                                                                 \
               "prefetcht0 1856(%[b])\n\t" EI_G1(8, 14, 384, 6, 7, 8) EI_G1(12, 15, 576, 9, 10, 11)          \
               "add $16, %[a0]\n\t"                                                                        \
               "add $768, %[b]\n\t"                                                                        \
               "dec %[quads]\n\t"                                                                          \
               "jnz 1b\n\t"                                                                                \
               "2:\n\t"                                                                                    \
               "test %[rest], %[rest]\n\t"                                                                 \
               "jz 4f\n\t"                                                                                 \
               "3:\n\t" EI_G1(0, 12, 0, 0, 1, 2)                                                           \
               "add $4, %[a0]\n\t"                                                                         \
               "add $192, %[b]\n\t"                                                                        \
               "dec %[rest]\n\t"                                                                           \
               "jnz 3b\n\t"                                                                                \
               "4:\n\t"                                                                                    \
               "cmpq $0, 32(%[p])\n\t"                                                                     \
               "jz 5f\n\t"                                                                                 \
               "mov 24(%[p]), %[t]\n\t" EI_LOAD_B EI_TAILS_1 "5:\n\t"                                      \
               "vpaddd %%zmm3, %%zmm0, %%zmm0\n\t"                                                         \
               "vpaddd %%zmm4, %%zmm1, %%zmm1\n\t"                                                         \
               "vpaddd %%zmm5, %%zmm2, %%zmm2\n\t"                                                         \
               "vpaddd %%zmm9, %%zmm6, %%zmm6\n\t"                                                         \
               "vpaddd %%zmm10, %%zmm7, %%zmm7\n\t"                                                        \
               "vpaddd %%zmm11, %%zmm8, %%zmm8\n\t"                                                        \
               "vpaddd %%zmm6, %%zmm0, %%zmm0\n\t"                                                         \
               "vpaddd %%zmm7, %%zmm1, %%zmm1\n\t"                                                         \
               "vpaddd %%zmm8, %%zmm2, %%zmm2\n\t"                                                         \
               "mov 8(%[p]), %[t]\n\t" EI_SR("(%[t])", 0, 1, 2)                                            \
               : [a0] "+r"(a0), [b] "+r"(b), [quads] "+r"(quads), [rest] "+r"(rest), [t] "=&r"(t)           \
               : [p] "r"(p)                                                                                \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",    \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm24", "xmm25", "xmm26",  \
                 "xmm27", "xmm28", "xmm29")
    if constexpr (FLIP) {
#define EI_GFLIP(areg) "vpxord %%zmm29, " EI_Z(areg) ", " EI_Z(areg) "\n\t"
      EI_GEMV_ASM;
#undef EI_GFLIP
    } else {
#define EI_GFLIP(areg)
      EI_GEMV_ASM;
#undef EI_GFLIP
    }
#undef EI_GEMV_ASM
#undef EI_ZERO_SETS
#undef EI_G1
  }

  // MR x 48 tiles (MR = 1..8), K loop in assembly (GCC spills a 24-accumulator tile written with
  // intrinsics). Rows are evenly spaced by `lda` (true inside a row block). See vnni_impl::AsmParams for
  // the initial values, the tail and where the MR x 48 int32 result goes.
  template <int MR, int NV>
  static constexpr bool has_asm_kernel() { return NV == 3 && MR >= 1 && MR <= 8; }
  template <int MR, bool FLIP>
  static void asm_kernel(const uint8_t* const* rows, const int8_t* b, int64_t count, const vnni_impl::AsmParams* p) {
    const uint8_t* a0 = rows[0];
    const uint8_t* a3 = MR > 3 ? rows[3] : rows[0];
    const uint8_t* a6 = MR > 6 ? rows[6] : rows[0];
    const int64_t lda = MR > 1 ? rows[1] - rows[0] : 0;
    const int32_t* t;
    int64_t segs;
#define EI_ASM(MR_, ROW)                                                                                  \
  asm volatile(EI_INIT_##MR_ EI_FLIP_CONST EI_SEGMENT_BEGIN                                               \
               ".p2align 5\n\t"                                                                           \
               "1:\n\t" EI_LOAD_B "prefetcht0 1536(%[b])\n\t" EI_ROWS_##MR_(ROW) EI_ADVANCE_##MR_         \
               "add $192, %[b]\n\t"                                                                       \
               "dec %[count]\n\t"                                                                         \
               "jnz 1b\n\t" EI_SEGMENT_END(EI_JUMP(a0) EI_JUMP(a3) EI_JUMP(a6))                           \
               EI_TAIL_BLOCK(MR_) EI_STORE_##MR_                                                          \
               : [a0] "+r"(a0), [a3] "+r"(a3), [a6] "+r"(a6), [b] "+r"(b), [count] "+r"(count),           \
                 [t] "=&r"(t), [segs] "=&r"(segs)                                                         \
               : [lda] "r"(lda), [p] "r"(p)                                                               \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",  \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", \
                 "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", \
                 "xmm29")
#define EI_CASE(MR_)                      \
  if constexpr (MR == MR_) {              \
    if constexpr (FLIP) {                 \
      EI_ASM(MR_, EI_ROW_S);              \
    } else {                              \
      EI_ASM(MR_, EI_ROW_U);              \
    }                                     \
  }
    if constexpr (MR == 1) {
      gemv_kernel<FLIP>(a0, b, count, p);
    }
    EI_CASE(2) EI_CASE(3) EI_CASE(4) EI_CASE(5) EI_CASE(6) EI_CASE(7) EI_CASE(8)
#undef EI_CASE
#undef EI_ASM
  }
};


constexpr int kMr = 8;
constexpr int kNv = 3;

void gemm_s8_avx512vnni_run(const GemmS8Args& args) { vnni_impl::run<Zmm, kMr, kNv>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8Avx512Vnni6x64;  // gemm_s8_6x64_avx512vnni.cc
extern const GemmS8Variant kGemmS8Avx512Vnni = {"qs8_gemm_8x48c4__avx512vnni", Isa::kAvx512Vnni, 16 * kNv, 4,
                                                gemm_s8_avx512vnni_run, &kGemmS8Avx512Vnni6x64, true, kMr};

}  // namespace edgeinfer
