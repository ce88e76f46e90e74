// libFuzzer harness: the element-wise kernel entry points of cpp/include/edgeinfer/kernels.h that take a
// tensor description from the caller: quantize / dequantize (QuantizeArgs / DequantizeArgs: outer, channels,
// inner, scales, zero points) and layer_norm / gelu (LayerNormArgs / GeluArgs: rows, width, gamma, beta,
// epsilon, activation). Each input runs one call on every variant this CPU supports (reference included).
// Errors (edgeinfer::Error) are fine; crashes, sanitizer reports and other exceptions are bugs, and so is a
// quantize / dequantize variant that differs from the reference (integer outputs and one exact float
// multiply: bit-exact by contract, kernels.h and quantize_common.h).
//
// Who calls these, and what they guarantee (mirrored here so nothing a caller cannot pass is reported):
//   binding/quantize_wrap.cc: outer, channels, inner >= 1; x and y lengths == outer * channels * inner;
//     scales and zero points have `channels` values; scales finite and > 0; zero points in the type's range.
//   runtime QuantizeLinear / DequantizeLinear / QuantizeDequantize (cpp/runtime/ops/quantize.cc): the same
//     shapes, but the scales come from a tensor (a model input, or a constant nobody checks), so ANY float
//     reaches the kernel: NaN, 0, -0, +-Inf, negative, subnormal. The zero points are widened from the
//     tensor's uint8 / int8, so they are in range. The harness therefore fuzzes every scale value and keeps
//     zero points in range unless the core checks them itself (check_args does: raw values are fuzzed too).
//   binding/layernorm_wrap.cc: rows, width >= 1, lengths == rows * width, gamma / beta null or width long,
//     epsilon finite and >= 0 (as a double; the float it becomes may be +Inf), activation 0..3 except 1.
//   runtime LayerNorm: epsilon >= 0 (+Inf passes), activation none / gelu erf / gelu tanh; y == x allowed.
//   So epsilon is fuzzed over [0, +Inf] (NaN and negative epsilons are refused by both callers).
//   gelu: n >= 1 and both lengths == n (binding); y may alias x.
// Lengths are the caller's promise (the kernels cannot check them): buffers are exactly that long.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "fuzz/fuzz_input.h"

namespace {

using namespace edgeinfer;

constexpr int64_t kMaxElements = int64_t{1} << 16;

template <typename T>
std::unique_ptr<T[]> exact(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n)]);
}

// memcpy that accepts an empty (possibly null) source.
void copy(void* dst, const void* src, size_t bytes) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
}

bool same_float_bits(float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0; }

[[noreturn]] void mismatch(const char* what, const char* variant, int64_t index, double got, double want) {
  std::fprintf(stderr, "%s: variant %s differs from the reference at %lld: got %.9g, want %.9g\n", what, variant,
               static_cast<long long>(index), got, want);
  std::abort();
}

// Runs `call(variant)` on each supported variant, reference first; an edgeinfer::Error is a correct answer
// (all variants share check_args, so they refuse the same arguments).
template <typename Variant, typename Call>
void for_each_variant(std::span<const Variant* const> variants, const Call& call) {
  for (const Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    try {
      call(v);
    } catch (const Error&) {
    }
  }
}

void fuzz_quantize(fuzz::FuzzInput& in, bool dequant) {
  const uint8_t flags = in.u8();
  const bool is_signed = flags & 1;
  const bool raw_zero_points = flags & 2;   // the core checks them (check_args): any int32
  const bool odd_shape = flags & 4;         // outer / inner 0 or negative: the core's own checks
  int64_t outer = in.u8() % 5 + (odd_shape ? -1 : 1);
  int64_t channels = in.u8() % 9 + (odd_shape ? -1 : 1);
  int64_t inner = in.u16() % 520 + (odd_shape ? -1 : 1);
  const int64_t count = std::max<int64_t>(0, outer) * std::max<int64_t>(0, channels) * std::max<int64_t>(0, inner);
  if (count > kMaxElements) return;
  const int64_t nc = std::max<int64_t>(channels, 0);
  auto scales = exact<float>(nc);
  auto zero_points = exact<int32_t>(nc);
  const int32_t lo = is_signed ? -128 : 0;
  for (int64_t c = 0; c < nc; ++c) {
    scales[c] = in.number();
    zero_points[c] = raw_zero_points ? static_cast<int32_t>(in.u32()) : lo + in.u8();
  }
  const int64_t shift = (flags >> 3) & 3;  // element offset into the allocation (unaligned views)
  std::vector<float> values(static_cast<size_t>(count) + static_cast<size_t>(shift));
  std::vector<uint8_t> qvalues(static_cast<size_t>(count) + static_cast<size_t>(shift));
  for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(shift + i)] = in.number();
  in.fill(qvalues.data() + shift, static_cast<size_t>(count));

  const auto variants = quantize_variants();
  auto expected_q = exact<uint8_t>(count);
  auto expected_x = exact<float>(count);
  bool have_expected = false;
  for_each_variant(variants, [&](const QuantizeVariant* v) {
    // Fresh exact-size buffers per variant (ASan sees over-reads and over-writes).
    auto x = exact<float>(count + shift);
    auto q = exact<uint8_t>(count + shift);
    copy(x.get(), values.data(), sizeof(float) * static_cast<size_t>(count + shift));
    copy(q.get(), qvalues.data(), static_cast<size_t>(count + shift));
    if (!dequant) {
      QuantizeArgs a;
      a.x = x.get() + shift;
      a.y = q.get() + shift;
      a.y_signed = is_signed;
      a.outer = outer, a.channels = channels, a.inner = inner;
      a.scales = scales.get();
      a.zero_points = zero_points.get();
      v->quantize(a);
      if (!have_expected) {
        copy(expected_q.get(), q.get() + shift, static_cast<size_t>(count));
        have_expected = true;
        return;
      }
      for (int64_t i = 0; i < count; ++i)
        if (q[shift + i] != expected_q[i])
          mismatch("quantize", v->name, i, is_signed ? static_cast<int8_t>(q[shift + i]) : q[shift + i],
                   is_signed ? static_cast<int8_t>(expected_q[i]) : expected_q[i]);
    } else {
      DequantizeArgs a;
      a.q = q.get() + shift;
      a.q_signed = is_signed;
      a.x = x.get() + shift;
      a.outer = outer, a.channels = channels, a.inner = inner;
      a.scales = scales.get();
      a.zero_points = zero_points.get();
      v->dequantize(a);
      if (!have_expected) {
        copy(expected_x.get(), x.get() + shift, sizeof(float) * static_cast<size_t>(count));
        have_expected = true;
        return;
      }
      for (int64_t i = 0; i < count; ++i)
        if (!same_float_bits(x[shift + i], expected_x[i])) mismatch("dequantize", v->name, i, x[shift + i], expected_x[i]);
    }
  });
}

void fuzz_layer_norm(fuzz::FuzzInput& in, bool gelu_only) {
  const uint8_t flags = in.u8();
  const bool in_place = flags & 1;
  const bool has_gamma = flags & 2, has_beta = flags & 4;
  const bool odd_shape = flags & 8;  // 0 / negative sizes: the core's own checks
  const int64_t shift = (flags >> 4) & 3;
  int64_t rows = in.u8() % 6 + (odd_shape ? -1 : 1);
  int64_t width = in.u16() % 1100 + (odd_shape ? -1 : 1);
  const int64_t count = gelu_only ? std::max<int64_t>(0, width * std::max<int64_t>(rows, 0))
                                  : std::max<int64_t>(0, rows) * std::max<int64_t>(0, width);
  if (count > kMaxElements) return;
  float epsilon = in.number();
  // Both callers refuse a NaN or negative epsilon (binding: finite and >= 0; runtime: >= 0).
  if (!(epsilon >= 0.0f)) epsilon = std::fabs(epsilon);
  if (std::isnan(epsilon)) epsilon = 0.0f;
  // Activation: none, relu (the core refuses it), gelu erf, gelu tanh, or an unknown code (refused too).
  const uint8_t act_code = in.u8();
  const auto activation = static_cast<Activation>(act_code % 5);
  const bool tanh_approximation = act_code & 0x80;
  const int64_t nw = gelu_only ? 0 : std::max<int64_t>(width, 0);  // gamma / beta: layer_norm only
  std::vector<float> x0(static_cast<size_t>(count)), gamma(static_cast<size_t>(nw)), beta(static_cast<size_t>(nw));
  for (float& v : gamma) v = in.number();
  for (float& v : beta) v = in.number();
  for (float& v : x0) v = in.number();

  for_each_variant(layernorm_gelu_variants(), [&](const LayerNormGeluVariant* v) {
    auto x = exact<float>(count + shift);
    auto y = exact<float>(count + shift);
    copy(x.get() + shift, x0.data(), sizeof(float) * static_cast<size_t>(count));
    auto g = exact<float>(nw);
    auto b = exact<float>(nw);
    copy(g.get(), gamma.data(), sizeof(float) * static_cast<size_t>(nw));
    copy(b.get(), beta.data(), sizeof(float) * static_cast<size_t>(nw));
    float* out = in_place ? x.get() + shift : y.get() + shift;
    if (gelu_only) {
      GeluArgs a;
      a.x = x.get() + shift;
      a.y = out;
      a.n = odd_shape && count == 0 ? std::min<int64_t>(rows, width) : count;  // 0 or -1 when odd
      a.tanh_approximation = tanh_approximation;
      v->gelu(a);
    } else {
      LayerNormArgs a;
      a.x = x.get() + shift;
      a.y = out;
      a.rows = rows;
      a.width = width;
      a.gamma = has_gamma ? g.get() : nullptr;
      a.beta = has_beta ? b.get() : nullptr;
      a.epsilon = epsilon;
      a.activation = activation;
      v->layer_norm(a);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  switch (in.u8() % 4) {
    case 0: fuzz_quantize(in, false); break;
    case 1: fuzz_quantize(in, true); break;
    case 2: fuzz_layer_norm(in, false); break;
    default: fuzz_layer_norm(in, true); break;
  }
  return 0;
}
