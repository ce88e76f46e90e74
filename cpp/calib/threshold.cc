#include "edgeinfer/calib/threshold.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "edgeinfer/error.h"

namespace edgeinfer::calib {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
// ONNX Runtime's and MXNet's smoothing constant for zero bins.
constexpr double kSmoothingEpsilon = 1e-4;

// ∫ from -1/2 to y of (t - round(t))^2 dt: each whole unit cell around an integer contributes 1/12.
double rounding_error_integral(double y) {
  const double cell = std::floor(y + 0.5);
  const double r = y - cell;
  return cell / 12.0 + (r * r * r + 0.125) / 3.0;
}

// ∫ from u to v of (x - g)^2 dx.
double clipping_error_integral(double u, double v, double g) {
  const double a = u - g, b = v - g;
  return (b * b * b - a * a * a) / 3.0;
}

// ∫ over [a, b] of (x - Q(x))^2, Q the clamped grid s * k for k in [low, high] (low = qmin - zp, high = qmax - zp).
double squared_error_integral(double a, double b, double s, double low, double high) {
  const double lower = s * low, upper = s * high;
  double sum = 0.0;
  if (a < lower) sum += clipping_error_integral(a, std::min(b, lower), lower);
  if (b > upper) sum += clipping_error_integral(std::max(a, upper), b, upper);
  const double u = std::max(a, lower), v = std::min(b, upper);
  if (v > u) sum += s * s * s * (rounding_error_integral(v / s) - rounding_error_integral(u / s));
  return sum;
}

double quantization_error(double x, double s, double low, double high) {
  const double q = std::clamp(std::nearbyint(x / s), low, high) * s;
  return (x - q) * (x - q);
}

struct Range {
  double lo = 0.0, hi = 0.0;
};

// The shrink factor in (0, 1] minimising error_at: 128 even steps, then 128 finer ones around the best.
template <typename ErrorAt>
double best_shrink(const ErrorAt& error_at) {
  constexpr int kSteps = 128;
  double best = 1.0, best_error = error_at(1.0);
  for (int i = 1; i < kSteps; ++i) {
    const double shrink = static_cast<double>(i) / kSteps, error = error_at(shrink);
    if (error < best_error) best = shrink, best_error = error;
  }
  const double from = std::max(best - 1.0 / kSteps, 1.0 / (kSteps * kSteps)), to = std::min(best + 1.0 / kSteps, 1.0);
  for (int i = 0; i <= kSteps; ++i) {
    const double shrink = from + (to - from) * i / kSteps, error = error_at(shrink);
    if (error < best_error) best = shrink, best_error = error;
  }
  return best;
}

// Symmetric: one shrink of [-max|x|, max|x|]. Asymmetric: each end shrunk on its own, alternating a few
// rounds (a one-sided outlier must not make the other side clip).
Range mse_range(const TensorStatistics& statistics, const ThresholdOptions& options) {
  HistogramView view;
  const std::vector<double> counts = statistics.occupied_signed_histogram(view.first_edge);
  view.counts = counts.data();
  view.size = counts.size();
  view.width = statistics.bin_width();
  view.min = statistics.min();
  view.max = statistics.max();
  auto error_of = [&](double lo, double hi) {
    return expected_squared_error(view, quantization_params(lo, hi, options.symmetric, options.type));
  };
  if (options.symmetric) {
    const double t = statistics.max_abs();
    const double shrink = best_shrink([&](double a) { return error_of(-a * t, a * t); });
    return {-shrink * t, shrink * t};
  }
  const double base_lo = std::min<double>(statistics.min(), 0.0), base_hi = std::max<double>(statistics.max(), 0.0);
  Range range{base_lo, base_hi};
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    if (base_hi > 0.0) range.hi = base_hi * best_shrink([&](double a) { return error_of(range.lo, a * base_hi); });
    if (base_lo < 0.0) range.lo = base_lo * best_shrink([&](double a) { return error_of(a * base_lo, range.hi); });
  }
  return range;
}

}  // namespace

bool parse_method(std::string_view name, Method& method) {
  if (name == "minmax") method = Method::kMinMax;
  else if (name == "percentile") method = Method::kPercentile;
  else if (name == "entropy") method = Method::kEntropy;
  else if (name == "mse") method = Method::kMse;
  else return false;
  return true;
}

const char* method_name(Method method) {
  switch (method) {
    case Method::kMinMax: return "minmax";
    case Method::kPercentile: return "percentile";
    case Method::kEntropy: return "entropy";
    case Method::kMse: return "mse";
  }
  return "unknown";
}

bool parse_quantized_type(std::string_view name, QuantizedType& type) {
  if (name == "int8") type = QuantizedType::kInt8;
  else if (name == "uint8") type = QuantizedType::kUint8;
  else return false;
  return true;
}

void validate(const ThresholdOptions& options) {
  if (!(options.percentile > 0.0 && options.percentile <= 100.0))
    fail(ErrorCode::kInvalidArgument, "percentile must be in (0, 100], got " + std::to_string(options.percentile));
  if (options.levels != 0 && (options.levels < 2 || options.levels > (1 << 16)))
    fail(ErrorCode::kInvalidArgument, "levels must be 0 (from the grid) or in [2, 65536], got " + std::to_string(options.levels));
}

QuantizationParams quantization_params(double range_min, double range_max, bool symmetric, QuantizedType type) {
  QuantizationParams params;
  const bool is_signed = type == QuantizedType::kInt8;
  params.qmin = is_signed ? (symmetric ? -127 : -128) : 0;
  params.qmax = is_signed ? 127 : 255;
  double lo = std::min(range_min, 0.0), hi = std::max(range_max, 0.0);
  if (symmetric) {
    const double magnitude = std::max(-lo, hi);
    lo = -magnitude;
    hi = magnitude;
  }
  const double scale = (hi - lo) / static_cast<double>(params.qmax - params.qmin);
  if (!(static_cast<float>(scale) >= FLT_MIN)) {
    params.scale = 1.0f;
    params.zero_point = 0;
    return params;
  }
  params.scale = static_cast<float>(scale);
  const double zero_point = std::nearbyint(params.qmin - lo / scale);  // half to even in the default rounding mode
  params.zero_point = static_cast<int32_t>(std::clamp(zero_point, static_cast<double>(params.qmin), static_cast<double>(params.qmax)));
  return params;
}

void per_channel_params(const float* data, int64_t outer, int64_t channels, int64_t inner, bool symmetric,
                        QuantizedType type, QuantizationParams* params) {
  std::vector<float> lo(static_cast<size_t>(channels)), hi(static_cast<size_t>(channels));
  channel_min_max(data, outer, channels, inner, lo.data(), hi.data());
  for (int64_t c = 0; c < channels; ++c)
    params[c] = quantization_params(lo[static_cast<size_t>(c)], hi[static_cast<size_t>(c)], symmetric, type);
}

std::vector<double> kl_divergences(const double* h, size_t n, int32_t levels) {
  if (levels < 1 || n < static_cast<size_t>(levels)) return {};
  const auto groups = static_cast<size_t>(levels);
  std::vector<double> outliers(n + 1, 0.0);  // outliers[i] = sum of h[i..n)
  for (size_t k = n; k-- > 0;) outliers[k] = outliers[k + 1] + h[k];
  std::vector<double> merged(groups), nonzero(groups), divergences;
  divergences.reserve(n - groups + 1);
  for (size_t i = groups; i <= n; ++i) {
    auto p_at = [&](size_t k) { return k + 1 == i ? h[k] + outliers[i] : h[k]; };
    // Group g is bins [ceil(g i / levels), ceil((g + 1) i / levels)): the bins k with k * levels / i == g.
    auto group_begin = [&](size_t g) { return (g * i + groups - 1) / groups; };
    size_t p_zeros = i, q_zeros = i;
    for (size_t g = 0; g < groups; ++g) {
      double sum = 0.0, count = 0.0;
      for (size_t k = group_begin(g), end = group_begin(g + 1); k < end; ++k) {
        sum += h[k];
        count += p_at(k) != 0.0 ? 1.0 : 0.0;
      }
      merged[g] = sum;
      nonzero[g] = count;
      p_zeros -= static_cast<size_t>(count);
      if (sum != 0.0) q_zeros -= static_cast<size_t>(count);  // Q is non-zero where P is and the group is
    }
    if (p_zeros == i || q_zeros == i) {
      divergences.push_back(kInfinity);
      continue;
    }
    const double p_take = kSmoothingEpsilon * static_cast<double>(p_zeros) / static_cast<double>(i - p_zeros);
    const double q_take = kSmoothingEpsilon * static_cast<double>(q_zeros) / static_cast<double>(i - q_zeros);
    // KL of the normalised distributions = (1/Sp) sum p log(p/q) + log(Sq/Sp). Where P is zero, Q is too:
    // both smooth to eps there and add nothing to the sum but their mass.
    double p_sum = static_cast<double>(p_zeros) * kSmoothingEpsilon, q_sum = p_sum, weighted = 0.0;
    bool valid = true;
    for (size_t g = 0; g < groups && valid; ++g) {
      if (nonzero[g] == 0.0) continue;
      const double q = merged[g] != 0.0 ? merged[g] / nonzero[g] - q_take : kSmoothingEpsilon;
      const double log_q = std::log(q);
      valid = q > 0.0;
      for (size_t k = group_begin(g), end = group_begin(g + 1); k < end; ++k) {
        const double p_raw = p_at(k);
        if (p_raw == 0.0) continue;
        const double p = p_raw - p_take;
        valid = valid && p > 0.0;
        p_sum += p;
        q_sum += q;
        weighted += p * (std::log(p) - log_q);
      }
    }
    divergences.push_back(valid ? weighted / p_sum + std::log(q_sum / p_sum) : kInfinity);
  }
  return divergences;
}

size_t entropy_threshold_bins(const double* magnitude_counts, size_t n, int32_t levels) {
  const std::vector<double> divergences = kl_divergences(magnitude_counts, n, levels);
  size_t best = n;
  double best_divergence = kInfinity;
  for (size_t c = 0; c < divergences.size(); ++c) {
    if (divergences[c] < best_divergence) {
      best_divergence = divergences[c];
      best = c + static_cast<size_t>(levels);
    }
  }
  return best;
}

double histogram_quantile(const HistogramView& histogram, double fraction) {
  double total = 0.0;
  for (size_t k = 0; k < histogram.size; ++k) total += histogram.counts[k];
  const double target = std::clamp(fraction, 0.0, 1.0) * total;
  double below = 0.0, value = histogram.max;
  for (size_t k = 0; k < histogram.size; ++k) {
    const double count = histogram.counts[k];
    if (count > 0.0 && below + count >= target) {
      value = histogram.first_edge + histogram.width * (static_cast<double>(k) + (target - below) / count);
      break;
    }
    below += count;
  }
  return std::clamp(value, histogram.min, histogram.max);
}

double expected_squared_error(const HistogramView& histogram, const QuantizationParams& params) {
  const double s = params.scale;
  const double low = static_cast<double>(params.qmin) - params.zero_point;
  const double high = static_cast<double>(params.qmax) - params.zero_point;
  double error = 0.0, total = 0.0;
  for (size_t k = 0; k < histogram.size; ++k) {
    const double count = histogram.counts[k];
    if (count == 0.0) continue;
    const double edge = histogram.first_edge + histogram.width * static_cast<double>(k);
    const double a = std::max(edge, histogram.min), b = std::min(edge + histogram.width, histogram.max);
    const double per_value = b > a ? squared_error_integral(a, b, s, low, high) / (b - a) : quantization_error(a, s, low, high);
    error += count * per_value;
    total += count;
  }
  return total > 0.0 ? error / total : 0.0;
}

Calibration calibrate(const TensorStatistics& statistics, const ThresholdOptions& options) {
  validate(options);
  if (statistics.finite_count() == 0)
    fail(ErrorCode::kInvalidArgument, "no finite value to calibrate on (" + std::to_string(statistics.nan_count()) +
                                          " NaN, " + std::to_string(statistics.inf_count()) + " infinite)");
  const double max_abs = statistics.max_abs();
  Range range;
  if (max_abs > 0.0) {
    switch (options.method) {
      case Method::kMinMax: {
        const double lo = options.moving_average ? statistics.moving_min() : statistics.min();
        const double hi = options.moving_average ? statistics.moving_max() : statistics.max();
        range = options.symmetric ? Range{-std::max(std::fabs(lo), std::fabs(hi)), std::max(std::fabs(lo), std::fabs(hi))} : Range{lo, hi};
        break;
      }
      case Method::kPercentile: {
        HistogramView view;
        view.width = statistics.bin_width();
        if (options.symmetric) {
          const std::vector<double> magnitudes = statistics.magnitude_histogram();
          view.counts = magnitudes.data();
          view.size = magnitudes.size();
          view.max = max_abs;
          const double t = histogram_quantile(view, options.percentile / 100.0);
          range = {-t, t};
        } else {
          const std::vector<double> counts = statistics.occupied_signed_histogram(view.first_edge);
          view.counts = counts.data();
          view.size = counts.size();
          view.min = statistics.min();
          view.max = statistics.max();
          const double cut = (100.0 - options.percentile) / 200.0;
          range = {histogram_quantile(view, cut), histogram_quantile(view, 1.0 - cut)};
        }
        break;
      }
      case Method::kEntropy: {
        const std::vector<double> magnitudes = statistics.magnitude_histogram();
        int32_t levels = options.levels != 0 ? options.levels : 128;
        const double span = static_cast<double>(statistics.max()) - statistics.min();
        if (options.levels == 0 && !options.symmetric && span > 0.0)
          levels = static_cast<int32_t>(std::clamp(std::lround(256.0 * max_abs / span), 128L, 256L));
        const size_t bins = entropy_threshold_bins(magnitudes.data(), magnitudes.size(), levels);
        const double t = std::min(static_cast<double>(bins) * statistics.bin_width(), max_abs);
        range = options.symmetric ? Range{-t, t}
                                  : Range{std::max<double>(statistics.min(), -t), std::min<double>(statistics.max(), t)};
        break;
      }
      case Method::kMse: range = mse_range(statistics, options); break;
    }
  }
  Calibration result;
  result.range_min = std::min(range.lo, 0.0);
  result.range_max = std::max(range.hi, 0.0);
  if (options.symmetric) {
    const double t = std::max(-result.range_min, result.range_max);
    result.range_min = -t;
    result.range_max = t;
  }
  result.threshold = std::max(-result.range_min, result.range_max);
  result.params = quantization_params(result.range_min, result.range_max, options.symmetric, options.type);
  return result;
}

}  // namespace edgeinfer::calib
