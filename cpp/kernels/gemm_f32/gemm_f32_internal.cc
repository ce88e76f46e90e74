// Thread splitting and activation quantization (dynamic or static) for the GEMM and Conv implementations.
#include "kernels/gemm_f32/gemm_f32_internal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "edgeinfer/error.h"
#include "edgeinfer/packed_weights.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::gemm_f32_detail {

void run_split_n(const GemmF32Variant* variant, const GemmF32Args& args, int64_t macs, ThreadPool* pool,
                 float* scratch, size_t slot_floats, int slots) {
  const int64_t nr = variant->nr;
  const int64_t panels = (args.n + nr - 1) / nr;
  int64_t t = 1;
  if (pool != nullptr && pool->threads() > 1 && macs >= kParallelMacs)
    t = std::min<int64_t>({static_cast<int64_t>(slots), static_cast<int64_t>(pool->threads()), panels});
  if (t <= 1) {
    GemmF32Args a = args;
    a.n_begin = 0;
    a.n_end = args.n;
    a.scratch = scratch;
    variant->run(a);
    return;
  }
  pool->parallel_for(t, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      GemmF32Args a = args;
      a.n_begin = panels * s / t * nr;
      a.n_end = std::min<int64_t>(panels * (s + 1) / t * nr, args.n);
      a.scratch = scratch != nullptr ? scratch + static_cast<size_t>(s) * slot_floats : nullptr;
      if (a.n_end > a.n_begin) variant->run(a);
    }
  });
}

QuantParams choose_u8_params(float lo, float hi) {
  constexpr float kBig = kMaxDynamicRange;
  lo = std::clamp(std::min(lo, 0.0f), -kBig, 0.0f);
  hi = std::clamp(std::max(hi, 0.0f), 0.0f, kBig);
  float scale = (hi - lo) / 255.0f;
  if (!(scale > 0.0f) || !std::isfinite(scale)) return {1.0f, 0};
  // The minimum is often a clamp value shared by many elements (LeakyRelu + Max, ReLU6's 0 ...): make it
  // land exactly on level 0 by rounding the zero point down and widening the scale to match, so those
  // elements carry no rounding error (they would all round the same way, a bias no later layer averages out).
  const float zp = std::floor(-lo / scale);
  if (lo < 0.0f && zp >= 1.0f) {
    const float exact = -lo / zp;
    if (exact >= scale && std::isfinite(exact)) return {exact, static_cast<int32_t>(std::min(zp, 255.0f))};
  }
  return {scale, static_cast<int32_t>(std::clamp(std::nearbyint(-lo / scale), 0.0f, 255.0f))};
}

QuantParams activation_params_u8(const GemmF32Variant* helper, const ActivationQuantization& quantization,
                                 const float* a, int64_t m, int64_t k, int64_t lda) {
  if (!quantization.dynamic) return {quantization.scale, quantization.zero_point};
  float lo = INFINITY, hi = -INFINITY;
  if (m == 1 || lda == k) {
    helper->minmax(a, m * k, &lo, &hi);
  } else {
    for (int64_t i = 0; i < m; ++i) {
      float l, h;
      helper->minmax(a + i * lda, k, &l, &h);
      lo = l < lo || l != l ? l : lo;  // minmax gives NaN for a row holding NaN: keep it
      hi = h > hi || h != h ? h : hi;
    }
  }
  if (!(lo >= -kMaxDynamicRange && hi <= kMaxDynamicRange)) return {NAN, 0, false};  // NaN fails both
  return quantization.onnx_range ? onnx_u8_params(lo, hi) : choose_u8_params(lo, hi);
}

QuantParams onnx_u8_params(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float scale = (hi - lo) / 255.0f;
  if (!(scale > 0.0f)) return {1.0f, 0};  // all zeros (ONNX Runtime's scale 1)
  return {scale, static_cast<int32_t>(std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f)))};
}

void check_quantization(const ActivationQuantization& quantization, const char* what, bool levels_allowed) {
  if (quantization.levels && (quantization.dynamic || !levels_allowed))
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": uint8 level input is for static channels-last convolutions");
  if (quantization.dynamic) return;
  if (!(std::isfinite(quantization.scale) && quantization.scale > 0.0f))
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": the activation scale must be finite and positive");
  if (quantization.zero_point < 0 || quantization.zero_point > 255)
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": the activation zero point must be a uint8 level");
}

void quantize_rows_u8(QuantParams qp, const float* a, int64_t m, int64_t k, int64_t lda, uint8_t* out, int64_t ldo) {
  QuantizeArgs q;
  q.y_signed = false;
  q.scales = &qp.scale;
  q.zero_points = &qp.zero_point;
  const QuantizeVariant* qv = kernels().quantize;
  if ((m == 1 || lda == k) && ldo == k) {
    q.x = a;
    q.y = out;
    q.inner = m * k;
    qv->quantize(q);
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    q.x = a + i * lda;
    q.y = out + i * ldo;
    q.inner = k;
    qv->quantize(q);
  }
}

Activation s8_activation(FusedActivation act) {
  switch (act) {
    case FusedActivation::kNone: return Activation::kNone;
    case FusedActivation::kRelu: return Activation::kRelu;
    case FusedActivation::kGeluErf: return Activation::kGeluErf;
    case FusedActivation::kGeluTanh: return Activation::kGeluTanh;
    default: return Activation::kNone;
  }
}

void run_s8_split_n(const GemmS8Args& args, int64_t macs, ThreadPool* pool, const GemmF32Variant* helper,
                    ActivationParams act, Activation s8_act) {
  const bool post = act.kind != FusedActivation::kNone && s8_act == Activation::kNone;
  const int64_t n = args.w->n;
  auto chunk = [&](int64_t n_begin, int64_t n_end) {
    GemmS8Args a = args;
    a.n_begin = n_begin;
    a.n_end = n_end;
    gemm_s8(a);
    if (post)
      for (int64_t i = 0; i < args.m; ++i)
        helper->activate(args.c_f32 + i * args.ldc + n_begin, n_end - n_begin, act.kind, act.alpha, act.beta);
  };
  const int64_t nr = args.w->variant->nr;
  const int64_t panels = (n + nr - 1) / nr;
  int64_t t = 1;
  if (pool != nullptr && pool->threads() > 1 && macs >= 4 * kParallelMacs)
    t = std::min<int64_t>(pool->threads(), panels);
  if (t <= 1) {
    chunk(0, n);
    return;
  }
  pool->parallel_for(t, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t b = panels * s / t * nr, e = std::min<int64_t>(panels * (s + 1) / t * nr, n);
      if (e > b) chunk(b, e);
    }
  });
}

}  // namespace edgeinfer::gemm_f32_detail
