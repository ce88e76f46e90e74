// GemmF32: float GEMM with packed weights (FP32) and its INT8 forms through gemm_s8: weights int8 per output
// channel (quantized here at creation, or by the model for QDQ), activations uint8 per tensor per run (from
// their min / max, or the model's fixed parameters). Portable glue: the math runs in the variants chosen by
// the kernel table.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "edgeinfer/packed_weights.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "kernels/gemm_f32/half_weights.h"
#include "runtime/thread_pool.h"

namespace edgeinfer {

namespace {

constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
constexpr int64_t kMaxDim = int64_t{1} << 24;

void check_shape(int64_t k, int64_t n, ActivationParams act) {
  require(k > 0 && n > 0 && k <= kMaxDim && n <= kMaxDim && k * n <= (int64_t{1} << 32), kBad,
          "Gemm: bad weight dimensions");
  require(static_cast<uint8_t>(act.kind) <= static_cast<uint8_t>(kLastFusedActivation), kBad,
          "Gemm: unknown fused activation");
}

void check_common(const float* w, int64_t k, int64_t n, float alpha, float beta, ActivationParams act) {
  require(w != nullptr, kBad, "Gemm: weights are null");
  check_shape(k, n, act);
  require(std::isfinite(alpha) && std::isfinite(beta), kBad, "Gemm: alpha and beta must be finite");
}

class GemmF32Impl final : public GemmF32 {
 public:
  GemmF32Impl(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias, float alpha, float beta,
              ActivationParams act, bool half)
      : variant_(kernels().gemm_f32), k_(k), n_(n), alpha_(alpha), act_(act) {
    const auto floats = static_cast<size_t>(gemm_f32_packed_b_floats(k, n, variant_->nr));
    packed_ = AlignedBuffer(sizeof(float) * floats);
    gemm_f32_pack_b(w, k, n, trans_b, variant_->nr, packed_.as<float>());
    if (half) {
      half_ = HalfWeights(packed_.as<float>(), floats);
      packed_ = AlignedBuffer();
    }
    if (bias != nullptr) {
      bias_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) bias_.as<float>()[j] = beta * bias[j];
    }
  }
  int64_t k() const override { return k_; }
  int64_t n() const override { return n_; }
  size_t scratch_bytes(int64_t m) const override {
    return (m > 1 ? align_up(sizeof(float) * static_cast<size_t>(m * k_)) : 0) + half_.float_bytes();
  }
  size_t weight_bytes() const override { return packed_.size() + half_.bytes() + bias_.size(); }
  const char* kernel_name() const override { return variant_->name; }

  void run(int64_t m, const float* a, int64_t lda, float* y, int64_t ldy, void* scratch,
           ThreadPool* pool) const override {
    require(m >= 0 && (m <= 1 || lda >= k_) && (m <= 1 || ldy >= n_), kBad, "Gemm: bad run arguments");
    if (m == 0) return;
    require(a != nullptr && y != nullptr && ((m == 1 && half_.empty()) || scratch != nullptr), kBad, "Gemm: null buffer");
    const size_t a_bytes = m > 1 ? align_up(sizeof(float) * static_cast<size_t>(m * k_)) : 0;
    if (m > 1) gemm_f32_pack_a(a, lda, m, k_, false, variant_->mr, static_cast<float*>(scratch));
    float* expanded = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + a_bytes);
    if (!half_.empty() && m <= kPanelByPanelRows) {
      run_half_by_panel(m, m == 1 ? a : static_cast<const float*>(scratch), y, ldy, expanded);
      return;
    }
    const float* weights = half_.empty() ? packed_.as<float>() : half_.expand(expanded);
    GemmF32Args args;
    args.m = m;
    args.n = n_;
    args.k = k_;
    if (m == 1) {
      args.a = a;
    } else {
      args.a = static_cast<const float*>(scratch);
    }
    args.b_mode = GemmF32BMode::kPacked;
    args.b = weights;
    args.c = y;
    args.ldc = ldy;
    args.bias_n = bias_.size() != 0 ? bias_.as<float>() : nullptr;
    args.alpha = alpha_;
    args.activation = act_.kind;
    args.act_alpha = act_.alpha;
    args.act_beta = act_.beta;
    gemm_f32_detail::run_split_n(variant_, args, m * n_ * k_, pool);
  }

 private:
  const GemmF32Variant* variant_;
  int64_t k_, n_;
  float alpha_;
  ActivationParams act_;
  AlignedBuffer packed_, bias_;
  HalfWeights half_;

  // Few rows (a GEMV): every weight is used once per run, so expanding all of them first would write and
  // read back the whole FP32 matrix; one column panel at a time stays in cache. Single-threaded.
  static constexpr int64_t kPanelByPanelRows = 4;
  void run_half_by_panel(int64_t m, const float* a_packed, float* y, int64_t ldy, float* panel) const {
    const int64_t nr = variant_->nr;
    const auto panel_floats = static_cast<size_t>(k_ * nr);
    GemmF32Args args;
    args.m = m;
    args.k = k_;
    args.a = a_packed;
    args.b_mode = GemmF32BMode::kPacked;
    args.b = panel;
    args.ldc = ldy;
    args.alpha = alpha_;
    args.activation = act_.kind;
    args.act_alpha = act_.alpha;
    args.act_beta = act_.beta;
    for (int64_t j0 = 0; j0 < n_; j0 += nr) {
      half_.expand(static_cast<size_t>(j0 / nr) * panel_floats, panel_floats, panel);
      args.n = std::min(nr, n_ - j0);
      args.c = y + j0;
      args.bias_n = bias_.size() != 0 ? bias_.as<float>() + j0 : nullptr;
      variant_->run(args);
    }
  }
};

// INT8: weights packed once; activations quantized to uint8 per call, from their min / max (dynamic) or with
// the model's fixed parameters (static QDQ).
class GemmS8Impl final : public GemmF32 {
 public:
  GemmS8Impl(PackedWeightsS8 packed, ActivationQuantization quantization, ActivationParams act)
      : helper_(kernels().gemm_f32), k_(packed.k), n_(packed.n), quantization_(quantization), act_(act),
        s8_act_(gemm_f32_detail::s8_activation(act.kind)), packed_(std::move(packed)) {}
  int64_t k() const override { return k_; }
  int64_t n() const override { return n_; }
  size_t scratch_bytes(int64_t m) const override { return align_up(static_cast<size_t>(std::max<int64_t>(m, 1) * k_)); }
  size_t weight_bytes() const override { return packed_.bytes(); }
  const char* kernel_name() const override { return packed_.variant->name; }

  void run(int64_t m, const float* a, int64_t lda, float* y, int64_t ldy, void* scratch,
           ThreadPool* pool) const override {
    require(m >= 0 && (m <= 1 || lda >= k_) && (m <= 1 || ldy >= n_), kBad, "Gemm: bad run arguments");
    if (m == 0) return;
    require(a != nullptr && y != nullptr && scratch != nullptr, kBad, "Gemm: null buffer");
    auto* aq = static_cast<uint8_t*>(scratch);
    const gemm_f32_detail::QuantParams qp = gemm_f32_detail::activation_params_u8(helper_, quantization_, a, m, k_, lda);
    if (!qp.finite) {  // NaN / inf in the activations: no INT8 result, every output NaN
      const int64_t ldc = m == 1 ? n_ : ldy;
      for (int64_t i = 0; i < m; ++i) std::fill_n(y + i * ldc, n_, std::numeric_limits<float>::quiet_NaN());
      return;
    }
    gemm_f32_detail::quantize_rows_u8(qp, a, m, k_, lda, aq, k_);
    GemmS8Args args;
    args.m = m;
    args.a = aq;
    args.lda = k_;
    args.a_signed = false;
    args.a_zero_point = qp.zero_point;
    args.w = &packed_;
    args.c_f32 = y;
    args.ldc = m == 1 ? n_ : ldy;
    args.a_scale = qp.scale;
    args.activation = s8_act_;
    gemm_f32_detail::run_s8_split_n(args, m * n_ * k_, pool, helper_, act_, s8_act_);
  }

 private:
  const GemmF32Variant* helper_;
  int64_t k_, n_;
  ActivationQuantization quantization_;
  ActivationParams act_;
  Activation s8_act_;
  PackedWeightsS8 packed_;
};

// w' = alpha * w quantized symmetric per output column (scale = max|w'| / 127) and packed with beta * bias.
PackedWeightsS8 quantize_and_pack(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias, float alpha,
                                  float beta) {
  std::vector<int8_t> q(static_cast<size_t>(k * n));
  std::vector<float> scales(static_cast<size_t>(n));
  std::vector<float> b(static_cast<size_t>(n), 0.0f);
  auto at = [&](int64_t kk, int64_t j) { return alpha * (trans_b ? w[j * k + kk] : w[kk * n + j]); };
  for (int64_t j = 0; j < n; ++j) {
    // Each weight is checked: std::max skips a NaN, which then reached the int8 cast below (undefined
    // behaviour); NaN weights are refused like infinite ones. A maximum so small that max / 127 underflows
    // to 0 quantizes every weight to 0 with any scale; a zero scale would make 0 / 0 = NaN.
    float mx = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float v = std::fabs(at(kk, j));
      require(std::isfinite(v), kBad, "Gemm: weights must be finite");
      mx = std::max(mx, v);
    }
    const float s = mx / 127.0f > 0.0f ? mx / 127.0f : 1.0f;
    scales[j] = s;
    for (int64_t kk = 0; kk < k; ++kk)
      q[kk * n + j] = static_cast<int8_t>(std::clamp(std::nearbyint(at(kk, j) / s), -127.0f, 127.0f));
    if (bias != nullptr) b[j] = beta * bias[j];
  }
  PackWeightsArgs pa;
  pa.weights = q.data();
  pa.k = k;
  pa.n = n;
  pa.layout = WeightLayout::kKN;
  pa.scales = scales.data();
  pa.scale_count = n;
  pa.bias = b.data();
  return pack_weights_s8(pa);
}

}  // namespace

std::unique_ptr<GemmF32> GemmF32::create(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias,
                                         float alpha, float beta, ActivationParams act) {
  check_common(w, k, n, alpha, beta, act);
  return std::make_unique<GemmF32Impl>(w, k, n, trans_b, bias, alpha, beta, act, false);
}

std::unique_ptr<GemmF32> GemmF32::create_f16(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias,
                                             float alpha, float beta, ActivationParams act) {
  check_common(w, k, n, alpha, beta, act);
  return std::make_unique<GemmF32Impl>(w, k, n, trans_b, bias, alpha, beta, act, true);
}

std::unique_ptr<GemmF32> GemmF32::create_int8(const float* w, int64_t k, int64_t n, bool trans_b,
                                              const float* bias, float alpha, float beta, ActivationParams act) {
  check_common(w, k, n, alpha, beta, act);
  return std::make_unique<GemmS8Impl>(quantize_and_pack(w, k, n, trans_b, bias, alpha, beta), ActivationQuantization{}, act);
}

std::unique_ptr<GemmF32> GemmF32::create_quantized(const QuantizedWeightsS8& w, int64_t k, int64_t n, bool trans_b,
                                                   const float* bias, ActivationQuantization quantization,
                                                   ActivationParams act) {
  require(w.data != nullptr, kBad, "Gemm: weights are null");
  require(w.scale_count == 1 || w.scale_count == n, kBad, "Gemm: weight scales must be one or one per output column");
  check_shape(k, n, act);
  gemm_f32_detail::check_quantization(quantization, "Gemm");
  PackWeightsArgs pa;
  pa.weights = w.data;
  pa.k = k;
  pa.n = n;
  pa.layout = trans_b ? WeightLayout::kNK : WeightLayout::kKN;
  pa.scales = w.scales;
  pa.scale_count = w.scale_count;
  pa.bias = bias;
  return std::make_unique<GemmS8Impl>(pack_weights_s8(pa), quantization, act);
}

}  // namespace edgeinfer
