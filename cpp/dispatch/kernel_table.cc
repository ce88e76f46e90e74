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

std::span<const GemmS8Variant* const> gemm_s8_variants() { return kGemmS8Variants; }
std::span<const QuantizeVariant* const> quantize_variants() { return kQuantizeVariants; }
std::span<const LayerNormGeluVariant* const> layernorm_gelu_variants() { return kLayerNormGeluVariants; }
std::span<const GemmF32Variant* const> gemm_f32_variants() { return kGemmF32Variants; }

const KernelTable& kernels() {
  static const KernelTable table = build_table();
  return table;
}

}  // namespace edgeinfer
