// The one list of compiled kernel variants per operation, and the table chosen from them once.
// A variant is listed only if its file was compiled (EDGEINFER_BUILT_<FILE>, set by cmake), so an uncompiled kernel
// can never be selected.
#include <cstdlib>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer {

extern const GemmS8Variant kGemmS8Ref;
#if EDGEINFER_BUILT_GEMM_S8_AVX2
extern const GemmS8Variant kGemmS8Avx2;
#endif
#if EDGEINFER_BUILT_GEMM_S8_AVXVNNI
extern const GemmS8Variant kGemmS8AvxVnni;
#endif
#if EDGEINFER_BUILT_GEMM_S8_AVX512VNNI
extern const GemmS8Variant kGemmS8Avx512Vnni;
extern const GemmS8Variant kGemmS8Avx512Vnni6x64;
#endif
#if EDGEINFER_BUILT_GEMM_S8_NEON
extern const GemmS8Variant kGemmS8Neon;
#endif
#if EDGEINFER_BUILT_GEMM_S8_NEONDOT
extern const GemmS8Variant kGemmS8NeonDot;
#endif
#if EDGEINFER_BUILT_GEMM_S8_I8MM
extern const GemmS8Variant kGemmS8I8mm;
#endif
extern const QuantizeVariant kQuantizeRef;
#if EDGEINFER_BUILT_QUANTIZE_AVX2
extern const QuantizeVariant kQuantizeAvx2;
#endif
#if EDGEINFER_BUILT_QUANTIZE_AVX512
extern const QuantizeVariant kQuantizeAvx512;
#endif
#if EDGEINFER_BUILT_QUANTIZE_NEON
extern const QuantizeVariant kQuantizeNeon;
#endif
extern const LayerNormGeluVariant kLayerNormGeluRef;
#if EDGEINFER_BUILT_LAYERNORM_GELU_AVX2
extern const LayerNormGeluVariant kLayerNormGeluAvx2;
#endif
#if EDGEINFER_BUILT_LAYERNORM_GELU_AVX512
extern const LayerNormGeluVariant kLayerNormGeluAvx512;
#endif
#if EDGEINFER_BUILT_LAYERNORM_GELU_NEON
extern const LayerNormGeluVariant kLayerNormGeluNeon;
#endif
extern const GemmF32Variant kGemmF32Ref;
#if EDGEINFER_BUILT_GEMM_F32_AVX2
extern const GemmF32Variant kGemmF32Avx2;
#endif
#if EDGEINFER_BUILT_GEMM_F32_AVX512
extern const GemmF32Variant kGemmF32Avx512;
#endif
#if EDGEINFER_BUILT_GEMM_F32_NEON
extern const GemmF32Variant kGemmF32Neon;
#endif
extern const MatMulF32Variant kMatMulF32Ref;
#if EDGEINFER_BUILT_MATMUL_F32_AVX2
extern const MatMulF32Variant kMatMulF32Avx2;
#endif
#if EDGEINFER_BUILT_MATMUL_F32_AVX512
extern const MatMulF32Variant kMatMulF32Avx512;
#endif
#if EDGEINFER_BUILT_MATMUL_F32_NEON
extern const MatMulF32Variant kMatMulF32Neon;
#endif
extern const DwConvF32Variant kDwConvF32Ref;
#if EDGEINFER_BUILT_DWCONV_F32_AVX2
extern const DwConvF32Variant kDwConvF32Avx2;
#endif
#if EDGEINFER_BUILT_DWCONV_F32_AVX512
extern const DwConvF32Variant kDwConvF32Avx512;
#endif
#if EDGEINFER_BUILT_DWCONV_F32_NEON
extern const DwConvF32Variant kDwConvF32Neon;
#endif
extern const ElementwiseF32Variant kElementwiseF32Ref;
#if EDGEINFER_BUILT_ELEMENTWISE_F32_AVX2
extern const ElementwiseF32Variant kElementwiseF32Avx2;
#endif
#if EDGEINFER_BUILT_ELEMENTWISE_F32_AVX512
extern const ElementwiseF32Variant kElementwiseF32Avx512;
#endif
#if EDGEINFER_BUILT_ELEMENTWISE_F32_NEON
extern const ElementwiseF32Variant kElementwiseF32Neon;
#endif
extern const DwConvS8Variant kDwConvS8Ref;
#if EDGEINFER_BUILT_DWCONV_S8_AVX2
extern const DwConvS8Variant kDwConvS8Avx2;
#endif
#if EDGEINFER_BUILT_DWCONV_S8_AVX512
extern const DwConvS8Variant kDwConvS8Avx512;
#endif
#if EDGEINFER_BUILT_DWCONV_S8_NEON
extern const DwConvS8Variant kDwConvS8Neon;
#endif
extern const GConvF32Variant kGConvF32Ref;
#if EDGEINFER_BUILT_GCONV_F32_AVX2
extern const GConvF32Variant kGConvF32Avx2;
#endif
#if EDGEINFER_BUILT_GCONV_F32_AVX512
extern const GConvF32Variant kGConvF32Avx512;
#endif
#if EDGEINFER_BUILT_GCONV_F32_NEON
extern const GConvF32Variant kGConvF32Neon;
#endif

namespace {

const GemmS8Variant* const kGemmS8Variants[] = {
    &kGemmS8Ref,
#if EDGEINFER_BUILT_GEMM_S8_AVX2
    &kGemmS8Avx2,
#endif
#if EDGEINFER_BUILT_GEMM_S8_AVXVNNI
    &kGemmS8AvxVnni,
#endif
#if EDGEINFER_BUILT_GEMM_S8_AVX512VNNI
    &kGemmS8Avx512Vnni6x64,  // before the 8 x 48 tile: the table keeps the last of a rank; the 6 x 64 is its sibling
    &kGemmS8Avx512Vnni,
#endif
#if EDGEINFER_BUILT_GEMM_S8_NEON
    &kGemmS8Neon,
#endif
#if EDGEINFER_BUILT_GEMM_S8_NEONDOT
    &kGemmS8NeonDot,
#endif
#if EDGEINFER_BUILT_GEMM_S8_I8MM
    &kGemmS8I8mm,
#endif
};

const QuantizeVariant* const kQuantizeVariants[] = {
    &kQuantizeRef,
#if EDGEINFER_BUILT_QUANTIZE_AVX2
    &kQuantizeAvx2,
#endif
#if EDGEINFER_BUILT_QUANTIZE_AVX512
    &kQuantizeAvx512,
#endif
#if EDGEINFER_BUILT_QUANTIZE_NEON
    &kQuantizeNeon,
#endif
};

const LayerNormGeluVariant* const kLayerNormGeluVariants[] = {
    &kLayerNormGeluRef,
#if EDGEINFER_BUILT_LAYERNORM_GELU_AVX2
    &kLayerNormGeluAvx2,
#endif
#if EDGEINFER_BUILT_LAYERNORM_GELU_AVX512
    &kLayerNormGeluAvx512,
#endif
#if EDGEINFER_BUILT_LAYERNORM_GELU_NEON
    &kLayerNormGeluNeon,
#endif
};

const GemmF32Variant* const kGemmF32Variants[] = {
    &kGemmF32Ref,
#if EDGEINFER_BUILT_GEMM_F32_AVX2
    &kGemmF32Avx2,
#endif
#if EDGEINFER_BUILT_GEMM_F32_AVX512
    &kGemmF32Avx512,
#endif
#if EDGEINFER_BUILT_GEMM_F32_NEON
    &kGemmF32Neon,
#endif
};

const MatMulF32Variant* const kMatMulF32Variants[] = {
    &kMatMulF32Ref,
#if EDGEINFER_BUILT_MATMUL_F32_AVX2
    &kMatMulF32Avx2,
#endif
#if EDGEINFER_BUILT_MATMUL_F32_AVX512
    &kMatMulF32Avx512,
#endif
#if EDGEINFER_BUILT_MATMUL_F32_NEON
    &kMatMulF32Neon,
#endif
};

const DwConvF32Variant* const kDwConvF32Variants[] = {
    &kDwConvF32Ref,
#if EDGEINFER_BUILT_DWCONV_F32_AVX2
    &kDwConvF32Avx2,
#endif
#if EDGEINFER_BUILT_DWCONV_F32_AVX512
    &kDwConvF32Avx512,
#endif
#if EDGEINFER_BUILT_DWCONV_F32_NEON
    &kDwConvF32Neon,
#endif
};

const DwConvS8Variant* const kDwConvS8Variants[] = {
    &kDwConvS8Ref,
#if EDGEINFER_BUILT_DWCONV_S8_AVX2
    &kDwConvS8Avx2,
#endif
#if EDGEINFER_BUILT_DWCONV_S8_AVX512
    &kDwConvS8Avx512,
#endif
#if EDGEINFER_BUILT_DWCONV_S8_NEON
    &kDwConvS8Neon,
#endif
};

const GConvF32Variant* const kGConvF32Variants[] = {
    &kGConvF32Ref,
#if EDGEINFER_BUILT_GCONV_F32_AVX2
    &kGConvF32Avx2,
#endif
#if EDGEINFER_BUILT_GCONV_F32_AVX512
    &kGConvF32Avx512,
#endif
#if EDGEINFER_BUILT_GCONV_F32_NEON
    &kGConvF32Neon,
#endif
};

const ElementwiseF32Variant* const kElementwiseF32Variants[] = {
    &kElementwiseF32Ref,
#if EDGEINFER_BUILT_ELEMENTWISE_F32_AVX2
    &kElementwiseF32Avx2,
#endif
#if EDGEINFER_BUILT_ELEMENTWISE_F32_AVX512
    &kElementwiseF32Avx512,
#endif
#if EDGEINFER_BUILT_ELEMENTWISE_F32_NEON
    &kElementwiseF32Neon,
#endif
};

Isa best_supported_isa() {
  Isa best = Isa::kRef;
  for (Isa isa : {Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot, Isa::kI8mm})
    if (isa_supported(isa) && isa_rank(isa) > isa_rank(best)) best = isa;
  return best;
}

KernelTable build_table() {
  KernelTable table{};
  table.ceiling = best_supported_isa();
  table.forced = false;
  if (const char* forced = std::getenv("EDGEINFER_ISA"); forced != nullptr && *forced != '\0') {
    const auto isa = isa_from_name(forced);
    if (!isa) fail(ErrorCode::kInvalidArgument, std::string("EDGEINFER_ISA=") + forced + " is not a known ISA");
    if (!isa_supported(*isa))
      fail(ErrorCode::kInvalidArgument, std::string("EDGEINFER_ISA=") + forced + " is not supported by this CPU");
    table.ceiling = *isa;
    table.forced = true;
  }
  table.gemm_s8 = select_variant(gemm_s8_variants(), table.ceiling);
  table.quantize = select_variant(quantize_variants(), table.ceiling);
  table.layernorm_gelu = select_variant(layernorm_gelu_variants(), table.ceiling);
  table.gemm_f32 = select_variant(gemm_f32_variants(), table.ceiling);
  table.matmul_f32 = select_variant(matmul_f32_variants(), table.ceiling);
  table.dwconv_f32 = select_variant(dwconv_f32_variants(), table.ceiling);
  table.elementwise_f32 = select_variant(elementwise_f32_variants(), table.ceiling);
  table.dwconv_s8 = select_variant(dwconv_s8_variants(), table.ceiling);
  table.gconv_f32 = select_variant(gconv_f32_variants(), table.ceiling);
  return table;
}

}  // namespace

template <typename Variant>
const Variant* select_variant(std::span<const Variant* const> variants, Isa ceiling) {
  const Variant* chosen = variants.front();  // the reference
  for (const Variant* variant : variants) {
    const bool same_family = variant->isa == Isa::kRef || isa_rank(ceiling) == 0 ||
                             ((variant->isa >= Isa::kNeon) == (ceiling >= Isa::kNeon));
    if (same_family && isa_supported(variant->isa) && isa_rank(variant->isa) <= isa_rank(ceiling) &&
        isa_rank(variant->isa) >= isa_rank(chosen->isa))
      chosen = variant;
  }
  return chosen;
}

template const GemmS8Variant* select_variant(std::span<const GemmS8Variant* const>, Isa);
template const QuantizeVariant* select_variant(std::span<const QuantizeVariant* const>, Isa);
template const LayerNormGeluVariant* select_variant(std::span<const LayerNormGeluVariant* const>, Isa);
template const GemmF32Variant* select_variant(std::span<const GemmF32Variant* const>, Isa);
template const MatMulF32Variant* select_variant(std::span<const MatMulF32Variant* const>, Isa);
template const DwConvF32Variant* select_variant(std::span<const DwConvF32Variant* const>, Isa);
template const ElementwiseF32Variant* select_variant(std::span<const ElementwiseF32Variant* const>, Isa);
template const DwConvS8Variant* select_variant(std::span<const DwConvS8Variant* const>, Isa);
template const GConvF32Variant* select_variant(std::span<const GConvF32Variant* const>, Isa);

std::span<const GemmS8Variant* const> gemm_s8_variants() { return kGemmS8Variants; }
std::span<const QuantizeVariant* const> quantize_variants() { return kQuantizeVariants; }
std::span<const LayerNormGeluVariant* const> layernorm_gelu_variants() { return kLayerNormGeluVariants; }
std::span<const GemmF32Variant* const> gemm_f32_variants() { return kGemmF32Variants; }
std::span<const MatMulF32Variant* const> matmul_f32_variants() { return kMatMulF32Variants; }
std::span<const DwConvF32Variant* const> dwconv_f32_variants() { return kDwConvF32Variants; }
std::span<const ElementwiseF32Variant* const> elementwise_f32_variants() { return kElementwiseF32Variants; }
std::span<const DwConvS8Variant* const> dwconv_s8_variants() { return kDwConvS8Variants; }
std::span<const GConvF32Variant* const> gconv_f32_variants() { return kGConvF32Variants; }

const KernelTable& kernels() {
  static const KernelTable table = build_table();
  return table;
}

}  // namespace edgeinfer
