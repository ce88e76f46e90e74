// INT8 GEMM with AVX-512 VNNI on a 6 x 64 register tile (24 accumulators, kr = 4): the sibling of the 8 x 48
// tile for output widths that are multiples of 64 (64, 128, 256, 512 channels: most CNNs), where 48-wide
// panels waste up to a third of every vpdpbusd on padding columns (N = 64 pads to 96). pack_weights_s8
// picks, per weight matrix, whichever of the two pads N less. Same driver, epilogue and conventions as the
// 8 x 48 file (gemm_s8_vnni_impl.h); only the K loops differ.
// GCC 12 reports a bogus -Wmaybe-uninitialized inside the AVX-512 intrinsic headers (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "kernels/gemm_s8/gemm_s8_vnni_impl.h"
#include "kernels/gemm_s8/gemm_s8_zmm_ops.h"

// ---- assembly building blocks for the MR x 64 VNNI tile --------------------------------------------
// Accumulators zmm0..23 (row r, vector v -> zmm(4r + v)), B in zmm24..27, A broadcasts alternate
// zmm28 / zmm30, the s8 -> u8 flip constant (0x80 bytes) in zmm29.
#define EI_Z(n) "%%zmm" #n
#define EI_DP4(a, c0, c1, c2, c3)                   \
  "vpdpbusd %%zmm24, " EI_Z(a) ", " EI_Z(c0) "\n\t" \
  "vpdpbusd %%zmm25, " EI_Z(a) ", " EI_Z(c1) "\n\t" \
  "vpdpbusd %%zmm26, " EI_Z(a) ", " EI_Z(c2) "\n\t" \
  "vpdpbusd %%zmm27, " EI_Z(a) ", " EI_Z(c3) "\n\t"
#define EI_ROW_U(addr, a, c0, c1, c2, c3) "vpbroadcastd " addr ", " EI_Z(a) "\n\t" EI_DP4(a, c0, c1, c2, c3)
#define EI_ROW_S(addr, a, c0, c1, c2, c3) \
  "vpbroadcastd " addr ", " EI_Z(a) "\n\tvpxord %%zmm29, " EI_Z(a) ", " EI_Z(a) "\n\t" EI_DP4(a, c0, c1, c2, c3)
#define EI_LOAD_B                   \
  "vmovdqu64 (%[b]), %%zmm24\n\t"   \
  "vmovdqu64 64(%[b]), %%zmm25\n\t" \
  "vmovdqu64 128(%[b]), %%zmm26\n\t" \
  "vmovdqu64 192(%[b]), %%zmm27\n\t"
#define EI_FLIP_CONST                               \
  "vpternlogd $0xff, %%zmm29, %%zmm29, %%zmm29\n\t" \
  "vpabsb %%zmm29, %%zmm29\n\t"                     \
  "vpsllw $7, %%zmm29, %%zmm29\n\t"
// Main-loop rows: A row r at a0 / a3 + {0, 1, 2} * lda.
#define EI_R0(F) F("(%[a0])", 28, 0, 1, 2, 3)
#define EI_R1(F) F("(%[a0],%[lda],1)", 30, 4, 5, 6, 7)
#define EI_R2(F) F("(%[a0],%[lda],2)", 28, 8, 9, 10, 11)
#define EI_R3(F) F("(%[a3])", 30, 12, 13, 14, 15)
#define EI_R4(F) F("(%[a3],%[lda],1)", 28, 16, 17, 18, 19)
#define EI_R5(F) F("(%[a3],%[lda],2)", 30, 20, 21, 22, 23)
#define EI_ROWS_1(F) EI_R0(F)
#define EI_ROWS_2(F) EI_ROWS_1(F) EI_R1(F)
#define EI_ROWS_3(F) EI_ROWS_2(F) EI_R2(F)
#define EI_ROWS_4(F) EI_ROWS_3(F) EI_R3(F)
#define EI_ROWS_5(F) EI_ROWS_4(F) EI_R4(F)
#define EI_ROWS_6(F) EI_ROWS_5(F) EI_R5(F)
#define EI_ADV_A0 "add $4, %[a0]\n\t"
#define EI_ADV_A3 "add $4, %[a3]\n\t"
#define EI_ADVANCE_2 EI_ADV_A0
#define EI_ADVANCE_3 EI_ADV_A0
#define EI_ADVANCE_4 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_5 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_6 EI_ADV_A0 EI_ADV_A3
// Tail group: row r's dword at t + 4r (t = params->tails; already flipped).
#define EI_T(r, a, c0, c1, c2, c3) EI_ROW_U(#r "*4(%[t])", a, c0, c1, c2, c3)
#define EI_TAILS_1 EI_T(0, 28, 0, 1, 2, 3)
#define EI_TAILS_2 EI_TAILS_1 EI_T(1, 30, 4, 5, 6, 7)
#define EI_TAILS_3 EI_TAILS_2 EI_T(2, 28, 8, 9, 10, 11)
#define EI_TAILS_4 EI_TAILS_3 EI_T(3, 30, 12, 13, 14, 15)
#define EI_TAILS_5 EI_TAILS_4 EI_T(4, 28, 16, 17, 18, 19)
#define EI_TAILS_6 EI_TAILS_5 EI_T(5, 30, 20, 21, 22, 23)
#define EI_TAIL_BLOCK(MR_)          \
  "cmpq $0, 32(%[p])\n\t"           \
  "jz 3f\n\t"                       \
  "mov 24(%[p]), %[t]\n\t" EI_LOAD_B EI_TAILS_##MR_ "3:\n\t"
// Accumulators start at params->init (the zero-point correction row, -zp_eff * colsum), copied to every row.
#define EI_C4(c0, c1, c2, c3)                                                                            \
  "vmovdqa64 %%zmm0, " EI_Z(c0) "\n\tvmovdqa64 %%zmm1, " EI_Z(c1) "\n\tvmovdqa64 %%zmm2, " EI_Z(c2) \
  "\n\tvmovdqa64 %%zmm3, " EI_Z(c3) "\n\t"
#define EI_INIT_1                  \
  "mov 0(%[p]), %[t]\n\t"          \
  "vmovdqu64 (%[t]), %%zmm0\n\t"   \
  "vmovdqu64 64(%[t]), %%zmm1\n\t" \
  "vmovdqu64 128(%[t]), %%zmm2\n\t" \
  "vmovdqu64 192(%[t]), %%zmm3\n\t"
#define EI_INIT_2 EI_INIT_1 EI_C4(4, 5, 6, 7)
#define EI_INIT_3 EI_INIT_2 EI_C4(8, 9, 10, 11)
#define EI_INIT_4 EI_INIT_3 EI_C4(12, 13, 14, 15)
#define EI_INIT_5 EI_INIT_4 EI_C4(16, 17, 18, 19)
#define EI_INIT_6 EI_INIT_5 EI_C4(20, 21, 22, 23)
// Rows go to params->out + r * params->ldo (bytes): t = out, a0 = ldo, a3 = row 3.
#define EI_OUT_ADDR               \
  "mov 8(%[p]), %[t]\n\t"         \
  "mov 16(%[p]), %[a0]\n\t"       \
  "lea (%[t],%[a0],2), %[a3]\n\t" \
  "add %[a0], %[a3]\n\t"
#define EI_SR(addr, c0, c1, c2, c3)            \
  "vmovdqu64 " EI_Z(c0) ", " addr "\n\t"       \
  "vmovdqu64 " EI_Z(c1) ", 64" addr "\n\t"     \
  "vmovdqu64 " EI_Z(c2) ", 128" addr "\n\t"    \
  "vmovdqu64 " EI_Z(c3) ", 192" addr "\n\t"
#define EI_STORE_1 EI_OUT_ADDR EI_SR("(%[t])", 0, 1, 2, 3)
#define EI_STORE_2 EI_STORE_1 EI_SR("(%[t],%[a0],1)", 4, 5, 6, 7)
#define EI_STORE_3 EI_STORE_2 EI_SR("(%[t],%[a0],2)", 8, 9, 10, 11)
#define EI_STORE_4 EI_STORE_3 EI_SR("(%[a3])", 12, 13, 14, 15)
#define EI_STORE_5 EI_STORE_4 EI_SR("(%[a3],%[a0],1)", 16, 17, 18, 19)
#define EI_STORE_6 EI_STORE_5 EI_SR("(%[a3],%[a0],2)", 20, 21, 22, 23)

namespace edgeinfer {
namespace {

struct Zmm64 : ZmmOps {
  // One row (GEMV, memory bound): four groups of k in flight per iteration on four accumulator sets
  // (zmm0..15, B straight from memory) so no single dependency chain limits it; set 0 starts at
  // params->init, the others at zero; remaining groups (count % 4) and the tail go to set 0.
  template <bool FLIP>
  static void gemv_kernel(const uint8_t* a0, const int8_t* b, int64_t count, const vnni_impl::AsmParams* p) {
    int64_t quads = count / 4;
    int64_t rest = count % 4;
    const int32_t* t;
#define EI_ZERO_SETS                                                                      \
  "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"                                                     \
  "vmovdqa64 %%zmm4, %%zmm5\n\tvmovdqa64 %%zmm4, %%zmm6\n\tvmovdqa64 %%zmm4, %%zmm7\n\t"   \
  "vmovdqa64 %%zmm4, %%zmm8\n\tvmovdqa64 %%zmm4, %%zmm9\n\tvmovdqa64 %%zmm4, %%zmm10\n\t"  \
  "vmovdqa64 %%zmm4, %%zmm11\n\tvmovdqa64 %%zmm4, %%zmm12\n\tvmovdqa64 %%zmm4, %%zmm13\n\t" \
  "vmovdqa64 %%zmm4, %%zmm14\n\tvmovdqa64 %%zmm4, %%zmm15\n\t"
#define EI_G1(aoff, areg, boff, c0, c1, c2, c3)                        \
  "vpbroadcastd " #aoff "(%[a0]), " EI_Z(areg) "\n\t" EI_GFLIP(areg) \
  "vpdpbusd " #boff "+0(%[b]), " EI_Z(areg) ", " EI_Z(c0) "\n\t"       \
  "vpdpbusd " #boff "+64(%[b]), " EI_Z(areg) ", " EI_Z(c1) "\n\t"      \
  "vpdpbusd " #boff "+128(%[b]), " EI_Z(areg) ", " EI_Z(c2) "\n\t"     \
  "vpdpbusd " #boff "+192(%[b]), " EI_Z(areg) ", " EI_Z(c3) "\n\t"
#define EI_GEMV_ASM                                                                                            \
  asm volatile(EI_INIT_1 EI_ZERO_SETS EI_FLIP_CONST "test %[quads], %[quads]\n\t"                              \
               "jz 2f\n\t"                                                                                     \
               ".p2align 5\n\t"                                                                                \
               "1:\n\t"                                                                                        \
               "prefetcht0 2048(%[b])\n\t"                                                                     \
               "prefetcht0 2304(%[b])\n\t" EI_G1(0, 16, 0, 0, 1, 2, 3) EI_G1(4, 17, 256, 4, 5, 6, 7)            \
               "prefetcht0 2560(%[b])\n\t"                                                                     \
               "prefetcht0 2816(%[b])\n\t" EI_G1(8, 18, 512, 8, 9, 10, 11) EI_G1(12, 19, 768, 12, 13, 14, 15)   \
               "add $16, %[a0]\n\t"                                                                            \
               "add $1024, %[b]\n\t"                                                                           \
               "dec %[quads]\n\t"                                                                              \
               "jnz 1b\n\t"                                                                                    \
               "2:\n\t"                                                                                        \
               "test %[rest], %[rest]\n\t"                                                                     \
               "jz 4f\n\t"                                                                                     \
               "3:\n\t" EI_G1(0, 16, 0, 0, 1, 2, 3)                                                            \
               "add $4, %[a0]\n\t"                                                                             \
               "add $256, %[b]\n\t"                                                                            \
               "dec %[rest]\n\t"                                                                               \
               "jnz 3b\n\t"                                                                                    \
               "4:\n\t"                                                                                        \
               "cmpq $0, 32(%[p])\n\t"                                                                         \
               "jz 5f\n\t"                                                                                     \
               "mov 24(%[p]), %[t]\n\t" EI_LOAD_B EI_TAILS_1 "5:\n\t"                                          \
               "vpaddd %%zmm4, %%zmm0, %%zmm0\n\tvpaddd %%zmm5, %%zmm1, %%zmm1\n\t"                             \
               "vpaddd %%zmm6, %%zmm2, %%zmm2\n\tvpaddd %%zmm7, %%zmm3, %%zmm3\n\t"                             \
               "vpaddd %%zmm12, %%zmm8, %%zmm8\n\tvpaddd %%zmm13, %%zmm9, %%zmm9\n\t"                           \
               "vpaddd %%zmm14, %%zmm10, %%zmm10\n\tvpaddd %%zmm15, %%zmm11, %%zmm11\n\t"                       \
               "vpaddd %%zmm8, %%zmm0, %%zmm0\n\tvpaddd %%zmm9, %%zmm1, %%zmm1\n\t"                             \
               "vpaddd %%zmm10, %%zmm2, %%zmm2\n\tvpaddd %%zmm11, %%zmm3, %%zmm3\n\t"                           \
               "mov 8(%[p]), %[t]\n\t" EI_SR("(%[t])", 0, 1, 2, 3)                                             \
               : [a0] "+r"(a0), [b] "+r"(b), [quads] "+r"(quads), [rest] "+r"(rest), [t] "=&r"(t)               \
               : [p] "r"(p)                                                                                    \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",        \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",      \
                 "xmm19", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29")
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

  // MR x 64 tiles (MR = 1..6), K loop in assembly. Rows are evenly spaced by `lda` (true inside a row
  // block). See vnni_impl::AsmParams for the initial values, the tail and where the result goes.
  template <int MR, int NV>
  static constexpr bool has_asm_kernel() { return NV == 4 && MR >= 1 && MR <= 6; }
  template <int MR, bool FLIP>
  static void asm_kernel(const uint8_t* const* rows, const int8_t* b, int64_t count, const vnni_impl::AsmParams* p) {
    const uint8_t* a0 = rows[0];
    const uint8_t* a3 = MR > 3 ? rows[3] : rows[0];
    const int64_t lda = MR > 1 ? rows[1] - rows[0] : 0;
    const int32_t* t;
    int64_t segs;
#define EI_ASM(MR_, ROW)                                                                                  \
  asm volatile(EI_INIT_##MR_ EI_FLIP_CONST EI_SEGMENT_BEGIN                                               \
               ".p2align 5\n\t"                                                                           \
               "1:\n\t" EI_LOAD_B "prefetcht0 2048(%[b])\n\t" EI_ROWS_##MR_(ROW) EI_ADVANCE_##MR_         \
               "add $256, %[b]\n\t"                                                                       \
               "dec %[count]\n\t"                                                                         \
               "jnz 1b\n\t" EI_SEGMENT_END(EI_JUMP(a0) EI_JUMP(a3))                                       \
               EI_TAIL_BLOCK(MR_) EI_STORE_##MR_                                                          \
               : [a0] "+r"(a0), [a3] "+r"(a3), [b] "+r"(b), [count] "+r"(count), [t] "=&r"(t), [segs] "=&r"(segs) \
               : [lda] "r"(lda), [p] "r"(p)                                                               \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",  \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", \
                 "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", \
                 "xmm29", "xmm30")
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
    EI_CASE(2) EI_CASE(3) EI_CASE(4) EI_CASE(5) EI_CASE(6)
#undef EI_CASE
#undef EI_ASM
  }
};

constexpr int kMr = 6;
constexpr int kNv = 4;

void gemm_s8_6x64_avx512vnni_run(const GemmS8Args& args) { vnni_impl::run<Zmm64, kMr, kNv>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8Avx512Vnni6x64 = {"qs8_gemm_6x64c4__avx512vnni", Isa::kAvx512Vnni, 16 * kNv, 4,
                                                    gemm_s8_6x64_avx512vnni_run, nullptr, true, kMr};

}  // namespace edgeinfer
