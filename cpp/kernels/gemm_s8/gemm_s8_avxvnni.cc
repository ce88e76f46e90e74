// INT8 GEMM with AVX-VNNI: vpdpbusd on ymm (VEX), 6 x 16 register tile (12 accumulators), kr = 4.
// The K loops are inline assembly (rows 1..6); blocking, tails and the epilogue are in gemm_s8_vnni_impl.h.
#include <immintrin.h>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "kernels/gemm_s8/gemm_s8_vnni_impl.h"

// ---- assembly building blocks for the MR x 16 AVX-VNNI tile (VEX encoding: ymm0..15 only) -------------
// Accumulators ymm0..11 (row r, vector v -> ymm(2r + v)), B in ymm12..13, A broadcasts in ymm14 (and
// ymm15 for u8), the s8 -> u8 flip constant (0x80 bytes) in ymm15.
#define EI_Y(n) "%%ymm" #n
#define EI_DP2(a, c0, c1)                                  \
  "%{vex%} vpdpbusd %%ymm12, " EI_Y(a) ", " EI_Y(c0) "\n\t" \
  "%{vex%} vpdpbusd %%ymm13, " EI_Y(a) ", " EI_Y(c1) "\n\t"
// u8 rows alternate the broadcast register between ymm14 and ymm15 (`a`); s8 rows need ymm15 for the flip
// constant and always use ymm14.
#define EI_ROW_U(addr, a, c0, c1) "vpbroadcastd " addr ", " EI_Y(a) "\n\t" EI_DP2(a, c0, c1)
#define EI_ROW_S(addr, a, c0, c1) \
  "vpbroadcastd " addr ", %%ymm14\n\tvpxor %%ymm15, %%ymm14, %%ymm14\n\t" EI_DP2(14, c0, c1)
#define EI_LOAD_B                  \
  "vmovdqu (%[b]), %%ymm12\n\t"    \
  "vmovdqu 32(%[b]), %%ymm13\n\t"
#define EI_FLIP_CONST                       \
  "vpcmpeqd %%ymm15, %%ymm15, %%ymm15\n\t"  \
  "vpabsb %%ymm15, %%ymm15\n\t"             \
  "vpsllw $7, %%ymm15, %%ymm15\n\t"
#define EI_R0(F) F("(%[a0])", 14, 0, 1)
#define EI_R1(F) F("(%[a0],%[lda],1)", 15, 2, 3)
#define EI_R2(F) F("(%[a0],%[lda],2)", 14, 4, 5)
#define EI_R3(F) F("(%[a3])", 15, 6, 7)
#define EI_R4(F) F("(%[a3],%[lda],1)", 14, 8, 9)
#define EI_R5(F) F("(%[a3],%[lda],2)", 15, 10, 11)
#define EI_ROWS_1(F) EI_R0(F)
#define EI_ROWS_2(F) EI_ROWS_1(F) EI_R1(F)
#define EI_ROWS_3(F) EI_ROWS_2(F) EI_R2(F)
#define EI_ROWS_4(F) EI_ROWS_3(F) EI_R3(F)
#define EI_ROWS_5(F) EI_ROWS_4(F) EI_R4(F)
#define EI_ROWS_6(F) EI_ROWS_5(F) EI_R5(F)
#define EI_ADV_A0 "add $4, %[a0]\n\t"
#define EI_ADV_A3 "add $4, %[a3]\n\t"
#define EI_ADVANCE_1 EI_ADV_A0
#define EI_ADVANCE_2 EI_ADV_A0
#define EI_ADVANCE_3 EI_ADV_A0
#define EI_ADVANCE_4 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_5 EI_ADV_A0 EI_ADV_A3
#define EI_ADVANCE_6 EI_ADV_A0 EI_ADV_A3
// Tail group: row r's dword at t + 4r (t = params->tails; already flipped).
#define EI_T(r, c0, c1) EI_ROW_U(#r "*4(%[t])", 14, c0, c1)
#define EI_TAILS_1 EI_T(0, 0, 1)
#define EI_TAILS_2 EI_TAILS_1 EI_T(1, 2, 3)
#define EI_TAILS_3 EI_TAILS_2 EI_T(2, 4, 5)
#define EI_TAILS_4 EI_TAILS_3 EI_T(3, 6, 7)
#define EI_TAILS_5 EI_TAILS_4 EI_T(4, 8, 9)
#define EI_TAILS_6 EI_TAILS_5 EI_T(5, 10, 11)
#define EI_TAIL_BLOCK(MR_)          \
  "cmpq $0, 32(%[p])\n\t"           \
  "jz 3f\n\t"                       \
  "mov 24(%[p]), %[t]\n\t" EI_LOAD_B EI_TAILS_##MR_ "3:\n\t"
// Accumulators start at params->init (the zero-point correction row), copied to every row.
#define EI_C2(c0, c1) "vmovdqa %%ymm0, " EI_Y(c0) "\n\tvmovdqa %%ymm1, " EI_Y(c1) "\n\t"
#define EI_INIT_1                  \
  "mov 0(%[p]), %[t]\n\t"          \
  "vmovdqu (%[t]), %%ymm0\n\t"     \
  "vmovdqu 32(%[t]), %%ymm1\n\t"
#define EI_INIT_2 EI_INIT_1 EI_C2(2, 3)
#define EI_INIT_3 EI_INIT_2 EI_C2(4, 5)
#define EI_INIT_4 EI_INIT_3 EI_C2(6, 7)
#define EI_INIT_5 EI_INIT_4 EI_C2(8, 9)
#define EI_INIT_6 EI_INIT_5 EI_C2(10, 11)
// Rows go to params->out + r * params->ldo (bytes): t = out, a0 = ldo, a3 = row 3.
#define EI_OUT_ADDR                  \
  "mov 8(%[p]), %[t]\n\t"            \
  "mov 16(%[p]), %[a0]\n\t"          \
  "lea (%[t],%[a0],2), %[a3]\n\t"    \
  "add %[a0], %[a3]\n\t"
#define EI_SR(addr, c0, c1) "vmovdqu " EI_Y(c0) ", " addr "\n\tvmovdqu " EI_Y(c1) ", 32" addr "\n\t"
#define EI_STORE_1 EI_OUT_ADDR EI_SR("(%[t])", 0, 1)
#define EI_STORE_2 EI_STORE_1 EI_SR("(%[t],%[a0],1)", 2, 3)
#define EI_STORE_3 EI_STORE_2 EI_SR("(%[t],%[a0],2)", 4, 5)
#define EI_STORE_4 EI_STORE_3 EI_SR("(%[a3])", 6, 7)
#define EI_STORE_5 EI_STORE_4 EI_SR("(%[a3],%[a0],1)", 8, 9)
#define EI_STORE_6 EI_STORE_5 EI_SR("(%[a3],%[a0],2)", 10, 11)

namespace edgeinfer {
namespace {

struct Ymm {
  using V = __m256i;
  using F = __m256;
  static constexpr int kLanes = 8;
  static constexpr int64_t kChunkBytes = 384 * 1024;
  static V set1(int32_t x) { return _mm256_set1_epi32(x); }
  static V load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static void store_aligned(void* p, V v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }
  static V sub(V a, V b) { return _mm256_sub_epi32(a, b); }
  static V mullo(V a, V b) { return _mm256_mullo_epi32(a, b); }
  static V mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static void store_i32(int32_t* p, V m, V v) { _mm256_maskstore_epi32(reinterpret_cast<int*>(p), m, v); }
  static F set1_ps(float x) { return _mm256_set1_ps(x); }
  static F load_ps(const float* p) { return _mm256_loadu_ps(p); }
  static F mul_ps(F a, F b) { return _mm256_mul_ps(a, b); }
  static F cvt_ps(V v) { return _mm256_cvtepi32_ps(v); }
  static F fmadd_ps(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F max0_ps(F a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }  // NaN in a (second) stays
  static void store_ps(float* p, V m, F v) { _mm256_maskstore_ps(p, m, v); }
  static F gelu_erf_ps(F x) { return vm256::gelu_erf_ps(x); }
  static F gelu_tanh_ps(F x) { return vm256::gelu_tanh_ps(x); }
  // MR x 16 tiles (MR = 1..6), K loop in assembly (GCC spills the intrinsics version). Same contract as
  // the AVX-512 one: rows evenly spaced by `lda`, vnni_impl::AsmParams for the rest.
  template <int MR, int NV>
  static constexpr bool has_asm_kernel() { return NV == 2 && MR >= 1 && MR <= 6; }
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
               "1:\n\t" EI_LOAD_B "prefetcht0 512(%[b])\n\t" EI_ROWS_##MR_(ROW) EI_ADVANCE_##MR_          \
               "add $64, %[b]\n\t"                                                                        \
               "dec %[count]\n\t"                                                                         \
               "jnz 1b\n\t" EI_SEGMENT_END(EI_JUMP(a0) EI_JUMP(a3))                                       \
               EI_TAIL_BLOCK(MR_) EI_STORE_##MR_ "vzeroupper\n\t"                                         \
               : [a0] "+r"(a0), [a3] "+r"(a3), [b] "+r"(b), [count] "+r"(count), [t] "=&r"(t), [segs] "=&r"(segs) \
               : [lda] "r"(lda), [p] "r"(p)                                                               \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",  \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")
#define EI_CASE(MR_)                      \
  if constexpr (MR == MR_) {              \
    if constexpr (FLIP) {                 \
      EI_ASM(MR_, EI_ROW_S);              \
    } else {                              \
      EI_ASM(MR_, EI_ROW_U);              \
    }                                     \
  }
    EI_CASE(1) EI_CASE(2) EI_CASE(3) EI_CASE(4) EI_CASE(5) EI_CASE(6)
#undef EI_CASE
#undef EI_ASM
  }
};

constexpr int kMr = 6;
constexpr int kNv = 2;

void gemm_s8_avxvnni_run(const GemmS8Args& args) { vnni_impl::run<Ymm, kMr, kNv>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8AvxVnni = {"qs8_gemm_6x16c4__avxvnni", Isa::kAvxVnni, 8 * kNv, 4,
                                             gemm_s8_avxvnni_run, nullptr, true, kMr};

}  // namespace edgeinfer
