// Weight packing for the INT8 GEMM variants and the checked gemm_s8() entry point.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/packed_weights.h"
#include "kernels/gemm_s8/gemm_s8_common.h"

namespace edgeinfer {

namespace {

// Large enough for any real layer, small enough that k_padded * n_padded and the int32 column sums
// (|sum| <= 128 * k) cannot overflow.
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxElements = int64_t{1} << 34;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

PackedWeightsS8 pack_weights_s8(const PackWeightsArgs& args, const GemmS8Variant* variant) {
  constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
  if (variant == nullptr) {
    variant = kernels().gemm_s8;
    const GemmS8Variant* sibling = variant != nullptr ? variant->sibling : nullptr;
    if (sibling != nullptr && args.n > 0 && round_up(args.n, sibling->nr) < round_up(args.n, variant->nr)) variant = sibling;
  }
  require(variant != nullptr && variant->run != nullptr, kBad, "pack_weights_s8: no GEMM variant");
  require(variant->nr > 0 && variant->kr > 0 && variant->nr <= 1024 && variant->kr <= 64, kBad,
          "pack_weights_s8: variant has an invalid tile");
  require(args.weights != nullptr, kBad, "pack_weights_s8: weights is null");
  require(args.k > 0 && args.n > 0, kBad, "pack_weights_s8: k and n must be positive");
  require(args.k <= kMaxDim && args.n <= kMaxDim, kBad, "pack_weights_s8: k or n too large");
  require(args.layout == WeightLayout::kKN || args.layout == WeightLayout::kNK, kBad,
          "pack_weights_s8: unknown weight layout");
  require(args.scale_count == 0 || args.scale_count == 1 || args.scale_count == args.n, kBad,
          "pack_weights_s8: scale_count must be 0, 1 or n");
  require(args.scale_count == 0 || args.scales != nullptr, kBad, "pack_weights_s8: scales is null");
  for (int64_t i = 0; i < args.scale_count; ++i) {
    const float s = args.scales[i];
    require(std::isfinite(s) && s > 0.0f, kBad, "pack_weights_s8: scales must be finite and positive");
  }
  if (args.bias != nullptr)
    for (int64_t i = 0; i < args.n; ++i)
      require(std::isfinite(args.bias[i]), kBad, "pack_weights_s8: bias must be finite");

  const int64_t k = args.k, n = args.n;
  const int64_t nr = variant->nr, kr = variant->kr;
  const int64_t k_padded = round_up(k, kr), n_padded = round_up(n, nr);
  require(k_padded * n_padded <= kMaxElements, kBad, "pack_weights_s8: weight matrix too large");

  PackedWeightsS8 packed;
  packed.variant = variant;
  packed.k = k;
  packed.n = n;
  packed.k_padded = k_padded;
  packed.n_padded = n_padded;
  packed.data = AlignedBuffer(static_cast<size_t>(k_padded * n_padded));
  packed.column_sums = AlignedBuffer(static_cast<size_t>(n_padded) * sizeof(int32_t));
  packed.scales = AlignedBuffer(static_cast<size_t>(n_padded) * sizeof(float));
  packed.bias = AlignedBuffer(static_cast<size_t>(n_padded) * sizeof(float));
  packed.has_bias = args.bias != nullptr;

  const int8_t* w = args.weights;
  const bool kn = args.layout == WeightLayout::kKN;
  auto at = [&](int64_t kk, int64_t nn) -> int8_t { return kn ? w[kk * n + nn] : w[nn * k + kk]; };

  int8_t* out = packed.data.as<int8_t>();
  const int64_t k_groups = k_padded / kr;
  const int64_t panels = n_padded / nr;
  for (int64_t p = 0; p < panels; ++p) {
    int8_t* panel = out + p * k_groups * nr * kr;
    const int64_t cols = std::min<int64_t>(nr, n - p * nr);
    // Buffers are zeroed on allocation: only the real weights are written.
    for (int64_t g = 0; g < k_groups; ++g) {
      const int64_t rows = std::min<int64_t>(kr, k - g * kr);
      int8_t* group = panel + g * nr * kr;
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t r = 0; r < rows; ++r) group[j * kr + r] = at(g * kr + r, p * nr + j);
    }
  }

  int32_t* sums = packed.column_sums.as<int32_t>();
  float* scales = packed.scales.as<float>();
  float* bias = packed.bias.as<float>();
  if (kn) {
    for (int64_t kk = 0; kk < k; ++kk)
      for (int64_t nn = 0; nn < n; ++nn) sums[nn] += w[kk * n + nn];
  } else {
    for (int64_t nn = 0; nn < n; ++nn) {
      int32_t s = 0;
      for (int64_t kk = 0; kk < k; ++kk) s += w[nn * k + kk];
      sums[nn] = s;
    }
  }
  for (int64_t nn = 0; nn < n; ++nn) {
    scales[nn] = args.scale_count == 0 ? 1.0f : args.scale_count == 1 ? args.scales[0] : args.scales[nn];
    bias[nn] = args.bias != nullptr ? args.bias[nn] : 0.0f;
  }
  return packed;
}

void gemm_s8(const GemmS8Args& args) {
  constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
  const PackedWeightsS8* w = args.w;
  require(w != nullptr, kBad, "gemm_s8: packed weights are null");
  const GemmS8Variant* v = w->variant;
  require(v != nullptr && v->run != nullptr, kBad, "gemm_s8: weights were not packed (no variant)");
  require(isa_supported(v->isa), kBad, "gemm_s8: weights were packed for an ISA this CPU does not support");
  require(v->nr > 0 && v->kr > 0, kBad, "gemm_s8: variant has an invalid tile");
  require(w->k > 0 && w->n > 0 && w->k <= kMaxDim && w->n <= kMaxDim, kBad, "gemm_s8: packed weights have bad sizes");
  require(w->k_padded == round_up(w->k, v->kr) && w->n_padded == round_up(w->n, v->nr), kBad,
          "gemm_s8: packed weights do not match their variant's tile");
  require(w->data.size() >= static_cast<size_t>(w->k_padded * w->n_padded) &&
              w->column_sums.size() >= static_cast<size_t>(w->n_padded) * sizeof(int32_t) &&
              w->scales.size() >= static_cast<size_t>(w->n_padded) * sizeof(float) &&
              w->bias.size() >= static_cast<size_t>(w->n_padded) * sizeof(float),
          kBad, "gemm_s8: packed weight buffers are too small");
  require(args.m >= 0, kBad, "gemm_s8: m must be >= 0");
  const bool implicit = args.row_group != 0 || args.segments != 1;
  if (implicit) {
    require(v->implicit_rows, kBad, "gemm_s8: this variant reads plain rows only (no row groups or segments)");
    require(args.row_group >= 0 && args.group_stride >= 0 && args.lda >= 0, kBad,
            "gemm_s8: row_group, group_stride and lda must be >= 0");
    require(args.segments >= 1 && args.segments <= w->k && w->k % args.segments == 0 &&
                (w->k / args.segments) % v->kr == 0,
            kBad, "gemm_s8: segments must split k into runs that are whole multiples of the variant's kr");
    require(args.segments == 1 || args.segment_stride >= w->k / args.segments, kBad,
            "gemm_s8: segment_stride must be >= k / segments (runs do not overlap)");
    require(args.m <= kMaxDim && args.lda <= kMaxDim * 64 && args.group_stride <= kMaxDim * kMaxDim &&
                args.segment_stride <= kMaxDim * kMaxDim,
            kBad, "gemm_s8: implicit row strides are out of range");
  } else {
    require(args.lda >= w->k, kBad, "gemm_s8: lda must be >= k");
  }
  require(args.m == 0 || args.a != nullptr, kBad, "gemm_s8: a is null");
  require((args.c_i32 != nullptr) != (args.c_f32 != nullptr), kBad,
          "gemm_s8: exactly one of c_i32 / c_f32 must be set");
  require(args.ldc >= w->n, kBad, "gemm_s8: ldc must be >= n");
  if (args.a_signed)
    require(args.a_zero_point >= -128 && args.a_zero_point <= 127, kBad,
            "gemm_s8: int8 activation zero point must be in -128..127");
  else
    require(args.a_zero_point >= 0 && args.a_zero_point <= 255, kBad,
            "gemm_s8: uint8 activation zero point must be in 0..255");
  require(args.activation == Activation::kNone || args.activation == Activation::kRelu ||
              args.activation == Activation::kGeluErf || args.activation == Activation::kGeluTanh,
          kBad, "gemm_s8: unknown activation");
  if (args.c_f32 != nullptr) {
    require(std::isfinite(args.a_scale) && args.a_scale > 0.0f, kBad, "gemm_s8: a_scale must be finite and positive");
  } else {
    require(args.activation == Activation::kNone, kBad, "gemm_s8: activation needs float output");
  }
  const int64_t n_end = args.n_end == 0 ? w->n : args.n_end;
  require(args.n_begin >= 0 && args.n_begin % v->nr == 0, kBad, "gemm_s8: n_begin must be a multiple of nr");
  require(n_end > args.n_begin && n_end <= w->n, kBad, "gemm_s8: n range out of bounds");
  // Row extents must be addressable without overflow.
  require(args.m <= std::numeric_limits<int64_t>::max() / std::max<int64_t>(args.lda, 1) &&
              args.m <= std::numeric_limits<int64_t>::max() / 4 / std::max<int64_t>(args.ldc, 1),
          kBad, "gemm_s8: m * stride overflows");
  if (args.m == 0) return;

  GemmS8Args resolved = args;
  resolved.n_end = n_end;
  v->run(resolved);
}

}  // namespace edgeinfer
