// libFuzzer harness: weight packing and the GEMMs over packed weights, with caller-given sizes.
//   mode 0: pack_weights_s8 (cpp/kernels/gemm_s8/pack_weights.cc) for a variant this CPU supports, then the
//           checked gemm_s8() entry point with fuzzed m, lda, ldc, signedness, zero point, output type,
//           activation scale, activation and column range. int32 outputs must equal the reference variant
//           bit for bit (kernels.h); bytes of the output outside the computed columns must stay untouched.
//   mode 1: GemmF32::create / create_f16 / create_int8 / create_quantized (FP32, FP16 and INT8 packing,
//           nn_kernels.h) and run() with fuzzed m, lda, ldy, alpha, beta, bias, fused activation and an
//           optional thread pool.
//   mode 2: gemm_f32_pack_b / gemm_f32_pack_a (kernels.h) into buffers of exactly the documented size; the
//           packed layout is checked element by element.
// Errors (edgeinfer::Error) are fine; crashes, sanitizer reports, other exceptions and mismatches are bugs.
//
// Who calls these, and what they guarantee (mirrored, so nothing a caller cannot pass is reported):
//   binding/packed_weights_wrap.cc packWeights: k, n in [1, 2^24]; weights length == k * n; scales absent, 1
//     or n values (any float: the core checks them); bias absent or n values (any float: checked by core).
//   binding/gemm_wrap.cc gemmS8: m, lda, ldc in [1, 2^31]; lda >= k, ldc >= n; a has >= (m-1)*lda + k
//     elements of the right signedness, out >= (m-1)*ldc + n; zero point in the type's range; aScale finite
//     and > 0 for float output; activation 0..3 and only with float output; n range always the full one.
//     The core re-checks all of that except the buffer lengths (it cannot see them): buffers here are exactly
//     (m-1)*ld + width long. Zero points, scales, activations, strides and the n range are fuzzed beyond the
//     binding's ranges, since the core checks them itself (gemm_s8() is also called by the runtime).
//   GemmF32 (runtime Gemm / MatMul / QLinear*): weights, bias, alpha and beta come from plan constants and
//     attributes: any float. k, n from tensor dims. run() gets lda == k, ldy == n and scratch of
//     scratch_bytes(m) from the executor; here lda / ldy may be larger and scratch is exactly that size.
//   gemm_f32_pack_*: internal; the contract is the caller's sizes (out of gemm_f32_packed_b_floats / m * k).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "edgeinfer/packed_weights.h"
#include "fuzz/fuzz_input.h"
#include "runtime/thread_pool.h"

namespace {

using namespace edgeinfer;

constexpr int64_t kMaxWeights = int64_t{1} << 15;
constexpr int64_t kMaxBuffer = int64_t{1} << 17;

template <typename T>
std::unique_ptr<T[]> exact(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 0))]);
}

// A 64-byte aligned block of exactly `bytes` (ASan tracks the exact size; AlignedBuffer rounds up).
struct AlignedExact {
  void* p;
  explicit AlignedExact(size_t bytes) : p(::operator new(bytes, std::align_val_t{64})) { std::memset(p, 0, bytes); }
  ~AlignedExact() { ::operator delete(p, std::align_val_t{64}); }
  AlignedExact(const AlignedExact&) = delete;
  AlignedExact& operator=(const AlignedExact&) = delete;
};

ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_packed_weights: %s\n", what);
  std::abort();
}

// ------------------------------------------------------------------ mode 0: INT8 packing + gemm_s8
void fuzz_gemm_s8(fuzz::FuzzInput& in) {
  const uint8_t flags = in.u8();
  std::vector<const GemmS8Variant*> variants;
  for (const GemmS8Variant* v : gemm_s8_variants())
    if (isa_supported(v->isa)) variants.push_back(v);
  const GemmS8Variant* variant = variants[in.u8() % variants.size()];
  // k, n: [1, ...] as the binding passes; with flag bit 0 also 0 and -1 (the core refuses them).
  const int64_t k = in.u16() % 700 + ((flags & 1) ? -1 : 1);
  const int64_t n = in.u16() % 300 + ((flags & 1) ? -1 : 1);
  if (k > 0 && n > 0 && k * n > kMaxWeights) return;
  const int64_t kn = k > 0 && n > 0 ? k * n : 0;
  auto weights = exact<int8_t>(kn);
  in.fill(weights.get(), static_cast<size_t>(kn));
  // scale_count: 0, 1, n, or another count (the core must refuse it before reading).
  const uint8_t scale_mode = in.u8() % 4;
  const int64_t scale_count = scale_mode == 0 ? 0 : scale_mode == 1 ? 1 : scale_mode == 2 ? std::max<int64_t>(n, 0)
                                                                                             : in.u8() % 5;
  auto scales = exact<float>(scale_count);
  for (int64_t i = 0; i < scale_count; ++i) scales[i] = in.number();
  const bool has_bias = flags & 2;
  auto bias = exact<float>(has_bias ? std::max<int64_t>(n, 0) : 0);
  if (has_bias)
    for (int64_t i = 0; i < n; ++i) bias[i] = in.number();

  PackWeightsArgs pa;
  pa.weights = weights.get();
  pa.k = k;
  pa.n = n;
  pa.layout = (flags & 4) ? WeightLayout::kNK : WeightLayout::kKN;
  pa.scales = scale_count > 0 ? scales.get() : nullptr;
  pa.scale_count = scale_count;
  pa.bias = has_bias ? bias.get() : nullptr;
  PackedWeightsS8 packed, packed_ref;
  try {
    packed = pack_weights_s8(pa, variant);
  } catch (const Error&) {
    return;
  }
  packed_ref = pack_weights_s8(pa, gemm_s8_variants()[0]);  // the same arguments were accepted once

  // The call. m >= 1, lda >= k, ldc >= n are what the binding passes; 0 / short strides test the core.
  const uint8_t call = in.u8();
  const int64_t m = in.u8() % 9 + ((call & 1) ? -1 : 0);
  const int64_t lda = k + in.u8() % 6 + ((call & 2) ? -1 : 0);
  const int64_t ldc = n + in.u8() % 6 + ((call & 2) ? -1 : 0);
  const bool a_signed = call & 4;
  const bool float_out = call & 8;
  const int32_t zero_point = (call & 16) ? static_cast<int32_t>(in.u32()) : (a_signed ? -128 : 0) + in.u8();
  const float a_scale = in.number();
  const auto activation = static_cast<Activation>(in.u8() % 5);  // 4: unknown
  int64_t n_begin = 0, n_end = 0;
  if (call & 32) {
    n_begin = variant->nr * (in.u8() % 3);
    n_end = in.u8() % (n + 2);
  }
  const int64_t a_len = m > 0 ? (m - 1) * lda + k : 0;
  const int64_t c_len = m > 0 ? (m - 1) * ldc + n : 0;
  if (a_len > kMaxBuffer || c_len > kMaxBuffer || a_len < 0 || c_len < 0) return;
  auto a = exact<uint8_t>(a_len);
  in.fill(a.get(), static_cast<size_t>(a_len));
  constexpr uint32_t kSentinel = 0x7fa5a5a5u;
  auto c = exact<uint32_t>(c_len);
  std::fill(c.get(), c.get() + c_len, kSentinel);

  GemmS8Args args;
  args.m = m;
  args.a = m > 0 ? a.get() : nullptr;
  args.lda = lda;
  args.a_signed = a_signed;
  args.a_zero_point = zero_point;
  args.w = &packed;
  args.c_i32 = float_out ? nullptr : reinterpret_cast<int32_t*>(c.get());
  args.c_f32 = float_out ? reinterpret_cast<float*>(c.get()) : nullptr;
  args.ldc = ldc;
  args.a_scale = a_scale;
  args.activation = activation;
  args.n_begin = n_begin;
  args.n_end = n_end;
  try {
    gemm_s8(args);
  } catch (const Error&) {
    return;
  }
  const int64_t end = n_end == 0 ? n : n_end;
  // Nothing outside rows x [n_begin, end) is written.
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < (i + 1 < m ? ldc : n); ++j)
      if ((j < n_begin || j >= end) && c[i * ldc + j] != kSentinel) bug("gemm_s8 wrote outside its column range");
  if (float_out) return;
  // int32 output: bit-exact against the reference on the same arguments (full column range).
  auto c_ref = exact<int32_t>(c_len);
  GemmS8Args ref = args;
  ref.w = &packed_ref;
  ref.c_i32 = c_ref.get();
  ref.n_begin = 0;
  ref.n_end = 0;
  gemm_s8(ref);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n_begin; j < end; ++j)
      if (static_cast<int32_t>(c[i * ldc + j]) != c_ref[i * ldc + j]) {
        std::fprintf(stderr, "%s: m=%lld k=%lld n=%lld row %lld col %lld: got %d, reference %d\n", variant->name,
                     static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n),
                     static_cast<long long>(i), static_cast<long long>(j), static_cast<int32_t>(c[i * ldc + j]),
                     c_ref[i * ldc + j]);
        bug("gemm_s8 int32 output differs from the reference");
      }
}

// ------------------------------------------------------------------ mode 1: GemmF32 (FP32 / FP16 / INT8)
void fuzz_gemm_f32(fuzz::FuzzInput& in) {
  const uint8_t flags = in.u8();
  const int kind = flags & 3;  // create, create_f16, create_int8, create_quantized
  const int64_t k = in.u8() % 80 + ((flags & 4) ? -1 : 1);
  const int64_t n = in.u8() % 80 + ((flags & 4) ? -1 : 1);
  const bool trans_b = flags & 8;
  const bool has_bias = flags & 16;
  const bool use_pool = flags & 32;
  const int64_t kn = k > 0 && n > 0 ? k * n : 0;
  const float alpha = in.number(), beta = in.number();
  ActivationParams act;
  act.kind = static_cast<FusedActivation>(in.u8() % 9);  // 8: unknown
  act.alpha = in.number();
  act.beta = in.number();
  const int64_t nb = std::max<int64_t>(n, 0);
  auto bias = exact<float>(has_bias ? nb : 0);
  if (has_bias)
    for (int64_t j = 0; j < nb; ++j) bias[j] = in.number();

  std::unique_ptr<GemmF32> gemm;
  try {
    if (kind == 3) {
      auto q = exact<int8_t>(kn);
      in.fill(q.get(), static_cast<size_t>(kn));
      const int64_t scale_count = (in.u8() & 1) ? 1 : nb;
      auto scales = exact<float>(scale_count);
      for (int64_t j = 0; j < scale_count; ++j) scales[j] = in.number();
      ActivationQuantization quantization;
      quantization.dynamic = in.bit();
      quantization.scale = in.number();
      quantization.zero_point = in.u8() + ((flags & 64) ? 1 : 0);  // 256: refused by the core
      QuantizedWeightsS8 w{q.get(), scales.get(), scale_count};
      gemm = GemmF32::create_quantized(w, k, n, trans_b, has_bias ? bias.get() : nullptr, quantization, act);
    } else {
      auto w = exact<float>(kn);
      for (int64_t i = 0; i < kn; ++i) w[i] = in.number();
      const float* b = has_bias ? bias.get() : nullptr;
      if (kind == 0) gemm = GemmF32::create(w.get(), k, n, trans_b, b, alpha, beta, act);
      else if (kind == 1) gemm = GemmF32::create_f16(w.get(), k, n, trans_b, b, alpha, beta, act);
      else gemm = GemmF32::create_int8(w.get(), k, n, trans_b, b, alpha, beta, act);
    }
  } catch (const Error&) {
    return;
  }
  if (gemm->k() != k || gemm->n() != n) bug("GemmF32 reports other sizes than it was created with");

  const uint8_t call = in.u8();
  const int64_t m = call & 7;
  const int64_t lda = k + (call >> 3) % 3;
  const int64_t ldy = n + (call >> 5) % 3;
  const int64_t a_len = m > 0 ? (m - 1) * lda + k : 0;
  const int64_t y_len = m > 0 ? (m - 1) * ldy + n : 0;
  auto a = exact<float>(a_len);
  for (int64_t i = 0; i < a_len; ++i) a[i] = in.number();
  auto y = exact<float>(y_len);
  std::fill(y.get(), y.get() + y_len, 12345.0f);
  AlignedExact scratch(gemm->scratch_bytes(m));
  try {
    gemm->run(m, a.get(), lda, y.get(), ldy, scratch.p, use_pool ? &pool() : nullptr);
  } catch (const Error&) {
    return;
  }
  // Row padding (columns n .. ldy) is the caller's: untouched.
  for (int64_t i = 0; i + 1 < m; ++i)
    for (int64_t j = n; j < ldy; ++j)
      if (y[i * ldy + j] != 12345.0f) bug("GemmF32::run wrote into the row padding");
}

// ------------------------------------------------------------------ mode 2: FP32 packing layouts
void fuzz_pack_f32(fuzz::FuzzInput& in) {
  const uint8_t flags = in.u8();
  const bool trans = flags & 1;
  const int64_t k = in.u8() % 70 + 1, n = in.u8() % 70 + 1;
  std::vector<int> tiles;
  for (const GemmF32Variant* v : gemm_f32_variants()) tiles.push_back((flags & 2) ? v->mr : v->nr);
  const int tile = tiles[in.u8() % tiles.size()];
  if (!(flags & 2)) {
    // B [k, n] (or [n, k] when trans), dense: lda is the row length.
    const int64_t floats = gemm_f32_packed_b_floats(k, n, tile);
    auto dense = exact<float>(k * n);
    for (int64_t i = 0; i < k * n; ++i) dense[i] = static_cast<float>(i + 1);
    auto out = exact<float>(floats);
    gemm_f32_pack_b(dense.get(), k, n, trans, tile, out.get());
    for (int64_t p = 0; p * tile < n; ++p)
      for (int64_t kk = 0; kk < k; ++kk)
        for (int64_t j = 0; j < tile; ++j) {
          const int64_t col = p * tile + j;
          const float want = col >= n ? 0.0f : trans ? dense[col * k + kk] : dense[kk * n + col];
          if (out[p * k * tile + kk * tile + j] != want) bug("gemm_f32_pack_b layout");
        }
  } else {
    // A: m = n rows of k floats with row stride lda (or, when trans, k rows of m: a[kk * lda + i]).
    const int64_t m = n;
    const int64_t lda = (trans ? m : k) + in.u8() % 4;
    const int64_t w_len = trans ? (k - 1) * lda + m : (m - 1) * lda + k;
    auto w = exact<float>(w_len);
    for (int64_t i = 0; i < w_len; ++i) w[i] = static_cast<float>(i);
    auto out = exact<float>(m * k);
    gemm_f32_pack_a(w.get(), lda, m, k, trans, tile, out.get());
    for (int64_t i0 = 0; i0 < m; i0 += tile) {
      const int64_t rows = std::min<int64_t>(tile, m - i0);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t kk = 0; kk < k; ++kk) {
          const float want = trans ? w[kk * lda + i0 + i] : w[(i0 + i) * lda + kk];
          if (out[i0 * k + kk * rows + i] != want) bug("gemm_f32_pack_a layout");
        }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  switch (in.u8() % 3) {
    case 0: fuzz_gemm_s8(in); break;
    case 1: fuzz_gemm_f32(in); break;
    default: fuzz_pack_f32(in); break;
  }
  return 0;
}
