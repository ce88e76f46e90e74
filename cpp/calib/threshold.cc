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

// The range a threshold t on |x| gives: [-t, t], or on an asymmetric grid the observed [min, max] clipped to it
// (a ReLU output keeps [0, t]; a short side is not cut as hard as a long one).
Range range_within(const TensorStatistics& statistics, double t, bool symmetric) {
  if (symmetric) return {-t, t};
  return {std::max<double>(statistics.min(), -t), std::min<double>(statistics.max(), t)};
}

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

namespace {

// hi + lo holds a sum to about twice double's precision (Knuth's TwoSum). Prefix sums are kept this way so
// that the difference of two of them (one group's sum) stays accurate relative to the group, not to the whole
// histogram: sum p log p of a group cancels against P_g log q_g down to the (small) divergence.
struct CompensatedSum {
  double hi = 0.0, lo = 0.0;
  void add(double x) {
    const double s = hi + x, x_part = s - hi;
    lo += (hi - (s - x_part)) + (x - x_part);
    hi = s;
  }
};

double difference(const CompensatedSum& a, const CompensatedSum& b) { return (a.hi - b.hi) + (a.lo - b.lo); }

// (h - t) log(h - t) = h log h - t (log h + 1) + sum_{m >= 2} t^m / (m (m - 1) h^(m - 1)). Summed over the
// non-zero bins of a prefix, every term but h log h only needs sums of log h and h^-1 .. h^-(kSeriesTerms - 1),
// which do not depend on t. With t <= h / kSeriesRatio the first dropped term is under h 2^-54 / 72 < 1e-18 h
// per bin, far below the rounding of h log h itself.
constexpr int kSeriesTerms = 8;
constexpr double kSeriesRatio = 64.0;

// The t-independent sums over some non-zero bins (h log h is kept per prefix by the caller, for the groups).
struct SeriesSums {
  double log_h = 0.0, count = 0.0;
  double inverse_powers[kSeriesTerms - 1] = {};  // [m] = sum of h^-(m + 1)
  double min_h = kInfinity;

  // `bins` bins of value h (log_of_h = log h).
  void add(double h, double log_of_h, double bins = 1.0) {
    log_h += bins * log_of_h;
    count += bins;
    double inverse = 1.0;
    for (double& sum : inverse_powers) sum += bins * (inverse /= h);
    min_h = std::min(min_h, h);
  }
  // sum (h - t) log(h - t) - sum h log h over these bins, or false where t is too large a share of the
  // smallest h for the series (or a power of a tiny h overflowed): the caller then sums bin by bin.
  bool correction(double t, double& result) const {
    result = 0.0;
    if (t == 0.0) return true;
    if (!(t * kSeriesRatio <= min_h)) return false;
    double tail = 0.0;  // sum_{m >= 2} t^(m - 2) inverse_powers[m - 2] / (m (m - 1)), Horner from the top
    for (int m = kSeriesTerms; m >= 2; --m) tail = tail * t + inverse_powers[m - 2] / (m * (m - 1.0));
    result = t * t * tail - t * (log_h + count);
    return std::isfinite(result);
  }
};

// One group of a candidate whose p are not all equal to its q: its smoothed Q value, its smoothed P mass (sum
// of p over its non-zero bins), its sum of p log p (before the series correction) and its number of non-zero
// bins.
struct GroupTerm {
  double q, p_mass, entropy, count;
};

// What a group beginning or ending at bin k reads, k the index in a table of them.
struct Prefix {
  // Over the bins [0, k):
  CompensatedSum mass;     // sum of h
  CompensatedSum entropy;  // sum of h log h (per candidate where the series does not apply: of p log p)
  size_t nonzero = 0;      // how many h != 0
  // From bin k on:
  size_t first_nonzero = 0;  // the first bin with h != 0 (n if none)
  size_t equal_until = 0;    // the first bin after it with h != 0 and another value (n if none)
};

}  // namespace

// The definition, bin by bin, is in the header (and tests/test_calib.cc has it literally). A candidate costs
// O(levels) here instead of O(i): P differs from h only in bin i - 1, so group sums and non-zero counts come
// from prefix sums of h, and sum p log p over the smoothed P from prefix sums of h log h plus the series above.
// That leaves at most one log per non-empty group. Where the series does not apply, sum p log p is taken bin
// by bin.
std::vector<double> kl_divergences(const double* h, size_t n, int32_t levels) {
  if (levels < 1 || n < static_cast<size_t>(levels)) return {};
  const auto groups = static_cast<size_t>(levels);
  std::vector<double> outliers(n + 1, 0.0);  // outliers[i] = sum of h[i..n)
  for (size_t k = n; k-- > 0;) outliers[k] = outliers[k + 1] + h[k];
  std::vector<double> log_h(n, 0.0);
  std::vector<Prefix> prefixes(n + 1);
  for (size_t k = 0; k < n; ++k) {
    Prefix& next = prefixes[k + 1];
    next = prefixes[k];
    next.mass.add(h[k]);
    if (h[k] == 0.0) continue;
    log_h[k] = std::log(h[k]);
    next.entropy.add(h[k] * log_h[k]);
    ++next.nonzero;
  }
  // A group whose non-zero p all equal its q adds exactly 0 to sum p log(p/q) bin by bin; it is left out
  // rather than left to cancel, so that such groups add no rounding noise (and a candidate made only of them
  // scores exactly 0: ties are common on sparse histograms, and the first candidate of least divergence wins).
  // A group [begin, end) has all its non-zero h equal iff prefixes[begin].equal_until >= end.
  prefixes[n].first_nonzero = prefixes[n].equal_until = n;
  for (size_t k = n; k-- > 0;) {
    Prefix& at = prefixes[k];
    const size_t next = prefixes[k + 1].first_nonzero;
    if (h[k] == 0.0) {
      at.first_nonzero = next;
      at.equal_until = prefixes[k + 1].equal_until;
    } else {
      at.first_nonzero = k;
      at.equal_until = next == n || h[next] != h[k] ? next : prefixes[next].equal_until;
    }
  }
  SeriesSums below;            // over the non-zero bins of [0, i - 1), grown with i
  std::vector<Prefix> direct;  // `prefixes` with p log p summed bin by bin, where the series does not apply
  std::vector<GroupTerm> terms(groups);
  std::vector<double> log_q(groups);
  std::vector<double> divergences;
  divergences.reserve(n - groups + 1);
  for (size_t i = groups; i <= n; ++i) {
    const size_t last = i - 1;
    for (size_t k = i == groups ? 0 : last - 1; k < last; ++k)
      if (h[k] != 0.0) below.add(h[k], log_h[k]);
    const double p_last = h[last] + outliers[i];
    const size_t p_last_nonzero = p_last != 0.0 ? 1 : 0;
    // Group g is bins [ceil(g i / levels), ceil((g + 1) i / levels)): the bins k with k * levels / i == g. The
    // last group always holds bin i - 1.
    const size_t whole = i / groups, part = i % groups;
    const size_t last_begin = (groups - 1) * whole + ((groups - 1) * part + groups - 1) / groups;
    // P is non-zero where h is, and in bin i - 1 where p_last is; Q where P is and the group's sum of h is:
    // all groups but the last have h == P.
    const size_t p_nonzero = prefixes[last].nonzero + p_last_nonzero;
    const size_t last_h_count = prefixes[last].nonzero - prefixes[last_begin].nonzero;  // bins [begin, i - 1)
    const size_t last_count = last_h_count + p_last_nonzero;
    const bool last_group_empty = prefixes[i].nonzero == prefixes[last_begin].nonzero;  // h (not P) is zero there
    const size_t q_nonzero = prefixes[last_begin].nonzero + (last_group_empty ? 0 : last_count);
    if (p_nonzero == 0 || q_nonzero == 0) {
      divergences.push_back(kInfinity);
      continue;
    }
    const size_t p_zeros = i - p_nonzero, q_zeros = i - q_nonzero;
    const double p_take = kSmoothingEpsilon * static_cast<double>(p_zeros) / static_cast<double>(i - p_zeros);
    const double q_take = kSmoothingEpsilon * static_cast<double>(q_zeros) / static_cast<double>(i - q_zeros);
    // Smoothing must leave every non-zero p positive.
    if (!(p_take < below.min_h && (p_last == 0.0 || p_last - p_take > 0.0))) {
      divergences.push_back(kInfinity);
      continue;
    }
    // sum p log p of a group = its part of the h log h sums + its part of `correction` (all of it is added at
    // the end, less that of the groups left out), or its part of the p log p sums in `direct`.
    double correction = 0.0;
    const Prefix* prefix = prefixes.data();
    const bool series = below.correction(p_take, correction);
    if (!series) {
      correction = 0.0;
      direct.assign(prefixes.begin(), prefixes.begin() + static_cast<std::ptrdiff_t>(i + 1));  // mass up to bin i
      for (size_t k = 0; k < last; ++k) {  // p log p up to bin i - 1, the last one read
        direct[k + 1].entropy = direct[k].entropy;
        if (h[k] != 0.0) direct[k + 1].entropy.add((h[k] - p_take) * std::log(h[k] - p_take));
      }
      prefix = direct.data();
    }
    // The correction of `bins` bins of value h[k], to take a group left out back out of `correction`.
    auto correction_of = [&](size_t k, double bins) {
      if (p_take == 0.0) return 0.0;
      SeriesSums sums;
      sums.add(h[k], log_h[k], bins);
      double result = 0.0;
      sums.correction(p_take, result);
      return result;
    };

    // The non-empty groups. ceil(g i / L) = g (i / L) + ceil(g (i % L) / L), walked without dividing.
    bool valid = true;
    size_t used = 0;        // groups in `terms`
    double left_out = 0.0;  // P mass (= Q mass) of the groups left out
    size_t begin = 0, floor_part = 0, remainder = 0;  // floor(g part / L), g part mod L
    for (size_t g = 1; g < groups; ++g) {
      remainder += part;
      if (remainder >= groups) remainder -= groups, ++floor_part;
      const size_t end = g * whole + floor_part + (remainder != 0 ? 1 : 0);
      const Prefix &from = prefix[begin], &to = prefix[end];
      if (const size_t count = to.nonzero - from.nonzero; count != 0) {
        const size_t first = from.first_nonzero;
        // A difference of prefix sums can be an ulp off: not for a lone non-zero bin, often a group's only one.
        const double h_sum = count == 1 ? h[first] : difference(to.mass, from.mass);
        const double c = static_cast<double>(count), q = h_sum / c - q_take, p_mass = h_sum - p_take * c;
        valid &= q > 0.0;
        if (from.equal_until >= end && h[first] - p_take == q) {
          left_out += p_mass;
          if (series) correction -= correction_of(first, c);
        } else {
          terms[used++] = {q, p_mass, difference(to.entropy, from.entropy), c};
        }
      }
      begin = end;
    }
    if (last_count != 0) {
      const Prefix &from = prefix[last_begin], &to = prefix[last];  // bin i - 1 apart
      const size_t first = from.first_nonzero;
      const size_t h_count = prefix[i].nonzero - from.nonzero;  // bins [begin, i)
      const double h_sum = h_count == 1 ? h[first] : difference(prefix[i].mass, from.mass);
      const double c = static_cast<double>(last_count);
      const double q = last_group_empty ? kSmoothingEpsilon : h_sum / c - q_take;
      valid &= q > 0.0;
      const double h_sum_before_last = last_h_count == 1 ? h[first] : difference(to.mass, from.mass);
      const double p_mass = h_sum_before_last - p_take * c + p_last;
      if ((first >= last || (from.equal_until >= last && h[first] - p_take == q)) &&
          (p_last == 0.0 || p_last - p_take == q)) {
        left_out += p_mass;
        if (series && first < last) correction -= correction_of(first, static_cast<double>(last_h_count));
      } else {
        double entropy = difference(to.entropy, from.entropy);
        if (p_last != 0.0) entropy += (p_last - p_take) * std::log(p_last - p_take);
        terms[used++] = {q, p_mass, entropy, c};
      }
    }
    if (!valid || used == 0) {  // every p equal to its q: exactly 0
      divergences.push_back(valid ? 0.0 : kInfinity);
      continue;
    }
    // KL of the normalised distributions = (1/Sp) sum p log(p/q) + log(Sq/Sp), where sum p log(p/q) =
    // sum_g (sum p log p - P_g log q_g), each group's difference small. Where P is zero, Q is too: both smooth
    // to eps there and add their mass to Sp and Sq alike, as do the groups left out. Sq / Sp is usually close
    // to 1: then log1p of the (separately summed) relative difference keeps its digits. The logs are a loop of
    // their own, so that the sums stay in registers.
    for (size_t g = 0; g < used; ++g) log_q[g] = std::log(terms[g].q);
    double weighted = correction, p_sum = static_cast<double>(p_zeros) * kSmoothingEpsilon + left_out;
    double q_sum = p_sum, q_minus_p = 0.0;
    for (size_t g = 0; g < used; ++g) {
      const GroupTerm& term = terms[g];
      weighted += term.entropy - term.p_mass * log_q[g];
      p_sum += term.p_mass;
      q_sum += term.count * term.q;
      q_minus_p += term.count * term.q - term.p_mass;
    }
    const double relative = q_minus_p / p_sum;
    const double log_ratio = std::fabs(relative) < 0.5 ? std::log1p(relative) : std::log(q_sum / p_sum);
    divergences.push_back(weighted / p_sum + log_ratio);
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

void flatten_point_masses(std::vector<double>& h) {
  constexpr size_t kReach = 3;
  const size_t n = h.size();
  if (n < 2 * kReach + 2) return;
  const std::vector<double> original = h;
  std::vector<double> window;
  window.reserve(2 * kReach + 1);
  for (size_t k = 1; k < n; ++k) {
    const size_t begin = k >= kReach ? k - kReach : 0, end = std::min(n, k + kReach + 1);
    window.assign(original.begin() + static_cast<std::ptrdiff_t>(begin), original.begin() + static_cast<std::ptrdiff_t>(end));
    const auto middle = window.begin() + static_cast<std::ptrdiff_t>(window.size() / 2);
    std::nth_element(window.begin(), middle, window.end());
    const double level = *middle;
    if (original[k] > 2.0 * level && original[k] - level > 6.0 * std::sqrt(level + 1.0)) h[k] = level;
  }
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
        // The percentile of |x|, as TensorRT's and ONNX Runtime's calibrators take it. Cutting each signed tail
        // separately would clip the short side of a one-sided distribution (LeakyReLU's few negatives) as hard
        // as the long one.
        const std::vector<double> magnitudes = statistics.magnitude_histogram();
        view.counts = magnitudes.data();
        view.size = magnitudes.size();
        view.max = max_abs;
        range = range_within(statistics, histogram_quantile(view, options.percentile / 100.0), options.symmetric);
        break;
      }
      case Method::kEntropy: {
        std::vector<double> magnitudes = statistics.magnitude_histogram();
        // Point masses on values that every candidate grid holds exactly carry no rounding error, yet the KL
        // search pays for merging them with their neighbours and so shrinks the range to keep them apart:
        // ReLU's zeros (the zero bin: NVIDIA's pytorch-quantization replaces it by its neighbour) and, on an
        // asymmetric grid, the nearer range end, a clamp such as Max(x, -0.4) (its lowest level for every
        // threshold beyond it). Both bins count as their inner neighbour in the search.
        if (magnitudes.size() > 1) magnitudes[0] = magnitudes[1];
        const double inner_end = std::min(std::fabs(static_cast<double>(statistics.min())), std::fabs(static_cast<double>(statistics.max())));
        if (!options.symmetric && inner_end > 0.0) {
          const size_t k = static_cast<size_t>(inner_end / statistics.bin_width());
          if (k > 0 && k < magnitudes.size()) magnitudes[k] = magnitudes[k - 1];
        }
        // Other point masses (a repeated value anywhere) cost the search far more than their rounding error.
        flatten_point_masses(magnitudes);
        int32_t levels = options.levels != 0 ? options.levels : 128;
        const double span = static_cast<double>(statistics.max()) - statistics.min();
        if (options.levels == 0 && !options.symmetric && span > 0.0)
          levels = static_cast<int32_t>(std::clamp(std::lround(256.0 * max_abs / span), 128L, 256L));
        const size_t bins = entropy_threshold_bins(magnitudes.data(), magnitudes.size(), levels);
        range = range_within(statistics, std::min(static_cast<double>(bins) * statistics.bin_width(), max_abs), options.symmetric);
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
