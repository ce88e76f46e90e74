// Calibration statistics and threshold selection: histogram growth by merging against one pass over the same
// data, the KL search against a plain transcription of TensorRT's / ONNX Runtime's algorithm, the methods on
// heavy-tailed data, scale / zero point conventions, NaN / Inf, and degenerate inputs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <cstdio>
#include <vector>

#include "edgeinfer/calib/histogram.h"
#include "edgeinfer/calib/threshold.h"
#include "tests/check.h"

using namespace edgeinfer::calib;

namespace {

TensorStatistics statistics_of(const std::vector<std::vector<float>>& batches, int32_t bins = 2048) {
  StatisticsOptions options;
  options.bins = bins;
  TensorStatistics statistics(options);
  for (const auto& batch : batches) statistics.add(batch.data(), batch.size());
  return statistics;
}

Calibration calibrate_with(const TensorStatistics& statistics, Method method, bool symmetric = true,
                           QuantizedType type = QuantizedType::kInt8, double percentile = 99.999) {
  ThresholdOptions options;
  options.method = method;
  options.symmetric = symmetric;
  options.type = type;
  options.percentile = percentile;
  return calibrate(statistics, options);
}

// Mean squared error of quantize-dequantize with ONNX QuantizeLinear semantics over `values`.
double round_trip_mse(const std::vector<float>& values, const QuantizationParams& p) {
  double sum = 0.0;
  const bool is_unsigned = p.qmin >= 0;
  for (float x : values) {
    const double q = std::clamp(static_cast<double>(std::nearbyint(x / p.scale)) + p.zero_point, is_unsigned ? 0.0 : -128.0, is_unsigned ? 255.0 : 127.0);
    const double back = (q - p.zero_point) * p.scale;
    sum += (x - back) * (x - back);
  }
  return sum / static_cast<double>(values.size());
}

HistogramView signed_view(const TensorStatistics& s, std::vector<double>& storage) {
  HistogramView view;
  storage = s.occupied_signed_histogram(view.first_edge);
  view.counts = storage.data();
  view.size = storage.size();
  view.width = s.bin_width();
  view.min = s.min();
  view.max = s.max();
  return view;
}

// ---- plain reference of the KL search: build P and Q as vectors, smooth, normalise, sum ----

bool smooth_reference(std::vector<double>& d) {
  size_t zeros = 0;
  for (double v : d) zeros += v == 0.0;
  const size_t nonzeros = d.size() - zeros;
  if (nonzeros == 0) return false;
  const double take = 1e-4 * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : d) v = v == 0.0 ? 1e-4 : v - take;
  for (double v : d)
    if (v <= 0.0) return false;
  return true;
}

double kl_reference(std::vector<double> p, std::vector<double> q) {
  double ps = 0, qs = 0;
  for (double v : p) ps += v;
  for (double v : q) qs += v;
  double kl = 0;
  for (size_t k = 0; k < p.size(); ++k) kl += (p[k] / ps) * std::log((p[k] / ps) / (q[k] / qs));
  return kl;
}

std::vector<double> kl_divergences_reference(const std::vector<double>& hist, int levels) {
  std::vector<double> out;
  for (size_t i = levels; i <= hist.size(); ++i) {
    std::vector<double> sliced(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i));
    std::vector<double> p = sliced;
    for (size_t k = i; k < hist.size(); ++k) p[i - 1] += hist[k];
    std::vector<double> q(i, 0.0);
    for (int g = 0; g < levels; ++g) {
      // group g holds bins k with floor(k * levels / i) == g
      double sum = 0, nonzero = 0;
      for (size_t k = 0; k < i; ++k)
        if (k * levels / i == static_cast<size_t>(g)) {
          sum += sliced[k];
          nonzero += p[k] != 0.0;
        }
      for (size_t k = 0; k < i; ++k)
        if (k * levels / i == static_cast<size_t>(g) && p[k] != 0.0) q[k] = sum / nonzero;
    }
    const bool ok = smooth_reference(p) && smooth_reference(q);
    out.push_back(ok ? kl_reference(p, q) : std::numeric_limits<double>::infinity());
  }
  return out;
}

// The entropy threshold of one batch on an asymmetric uint8 grid (a ReLU output's).
double uint8_entropy_threshold(const std::vector<float>& data) {
  ThresholdOptions options;
  options.method = Method::kEntropy;
  options.symmetric = false;
  options.type = QuantizedType::kUint8;
  TensorStatistics s;
  s.add(data.data(), data.size());
  return calibrate(s, options).threshold;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(mean, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

}  // namespace

EI_TEST("running and moving-average min / max follow ONNX Runtime's averaging") {
  StatisticsOptions options;
  options.averaging_constant = 0.25;
  TensorStatistics s(options);
  const std::vector<std::vector<float>> batches = {{-1.0f, 2.0f}, {-3.0f, 0.5f}, {0.0f, 10.0f}};
  for (const auto& b : batches) s.add(b.data(), b.size());
  EI_CHECK(s.min() == -3.0f && s.max() == 10.0f);
  double mn = -1.0, mx = 2.0;
  mn += 0.25 * (-3.0 - mn), mx += 0.25 * (0.5 - mx);
  mn += 0.25 * (0.0 - mn), mx += 0.25 * (10.0 - mx);
  EI_CHECK(std::fabs(s.moving_min() - mn) < 1e-12 && std::fabs(s.moving_max() - mx) < 1e-12);
  EI_CHECK(s.batches() == 3 && s.finite_count() == 6);
  ThresholdOptions moving;
  moving.method = Method::kMinMax;
  moving.symmetric = false;
  moving.moving_average = true;
  const Calibration c = calibrate(s, moving);
  EI_CHECK(std::fabs(c.range_min - mn) < 1e-9 && std::fabs(c.range_max - mx) < 1e-9);
}

EI_TEST("a histogram grown by merging equals one pass over the same data within one bin") {
  // Batches whose range keeps widening force several merges (factors 2, 3, ...).
  std::vector<std::vector<float>> batches;
  std::vector<float> all;
  for (int b = 0; b < 6; ++b) {
    auto batch = gaussian(20000, 100 + b, std::pow(1.9f, static_cast<float>(b)), 0.3f);
    all.insert(all.end(), batch.begin(), batch.end());
    batches.push_back(std::move(batch));
  }
  const TensorStatistics streamed = statistics_of(batches, 512);
  const TensorStatistics one_pass = statistics_of({all}, 512);
  EI_CHECK(streamed.finite_count() == one_pass.finite_count());
  EI_CHECK(streamed.min() == one_pass.min() && streamed.max() == one_pass.max());
  EI_CHECK(streamed.bin_width() >= one_pass.bin_width());
  std::vector<double> a, b;
  const HistogramView sv = signed_view(streamed, a), ov = signed_view(one_pass, b);
  double total = 0;
  for (double c : a) total += c;
  EI_CHECK(total == static_cast<double>(all.size()));
  std::vector<float> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  const double tolerance = streamed.bin_width() + one_pass.bin_width();
  for (double f = 0.001; f < 1.0; f += 0.0371) {
    const double exact = sorted[static_cast<size_t>(f * static_cast<double>(sorted.size()))];
    const double qs = histogram_quantile(sv, f), qo = histogram_quantile(ov, f);
    EI_CHECK_MSG(std::fabs(qs - qo) <= tolerance, "f=" + std::to_string(f) + " " + std::to_string(qs) + " vs " + std::to_string(qo));
    EI_CHECK_MSG(std::fabs(qs - exact) <= tolerance, "f=" + std::to_string(f));
  }
  // Thresholds agree within the tolerance too.
  // (Not entropy: the KL landscape depends on the bin grid by design; see the exact-growth test for it.)
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kMse}) {
    const double ts = calibrate_with(streamed, m).threshold, to = calibrate_with(one_pass, m).threshold;
    EI_CHECK_MSG(std::fabs(ts - to) <= 4 * tolerance, std::string(method_name(m)) + " " + std::to_string(ts) + " vs " + std::to_string(to));
  }
}

EI_TEST("growth by an integer factor gives exactly the one-pass histogram of that range") {
  // First batch spans [-1, 1] exactly, the second reaches 3: the range triples, and a one-pass histogram of
  // all the data has range 3 too. Bin edges are multiples of 3/256 in both.
  std::vector<float> first = {1.0f, -1.0f}, second = {3.0f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f), wide(-3.0f, 3.0f);
  for (int i = 0; i < 5000; ++i) first.push_back(uni(rng)), second.push_back(wide(rng));
  std::vector<float> all = first;
  all.insert(all.end(), second.begin(), second.end());
  const TensorStatistics streamed = statistics_of({first, second}, 256);
  const TensorStatistics one_pass = statistics_of({all}, 256);
  EI_CHECK(std::fabs(streamed.bin_width() - one_pass.bin_width()) <= 1e-12 * one_pass.bin_width());
  uint64_t differing = 0;
  for (size_t k = 0; k < streamed.signed_counts().size(); ++k) {
    const auto x = streamed.signed_counts()[k], y = one_pass.signed_counts()[k];
    differing += x > y ? x - y : y - x;
  }
  EI_CHECK_MSG(differing <= 4, "values in different bins: " + std::to_string(differing));  // only exact bin edges may round apart
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kEntropy, Method::kMse}) {
    const double ts = calibrate_with(streamed, m).threshold, to = calibrate_with(one_pass, m).threshold;
    EI_CHECK_MSG(std::fabs(ts - to) <= 2 * one_pass.bin_width(), std::string(method_name(m)) + " " + std::to_string(ts) + " vs " + std::to_string(to));
  }
}

EI_TEST("the KL search equals a plain reference on random histograms") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const size_t n = std::vector<size_t>{128, 129, 200, 255, 256, 300, 517, 1000, 130, 160, 384, 640}[trial];
    std::vector<double> hist(n);
    const int shape = trial % 3;
    for (size_t k = 0; k < n; ++k) {
      if (shape == 0) hist[k] = static_cast<double>(rng() % 50);                                  // dense, some zeros
      else if (shape == 1) hist[k] = rng() % 4 == 0 ? static_cast<double>(rng() % 1000) : 0.0;  // sparse
      else hist[k] = std::floor(1e5 * std::exp(-0.5 * std::pow(static_cast<double>(k) / (n / 8.0), 2)));  // bell + empty tail
    }
    if (shape == 2) hist[n - 1] += 3;  // a few outliers at the end
    const std::vector<double> got = kl_divergences(hist.data(), n, 128);
    const std::vector<double> want = kl_divergences_reference(hist, 128);
    EI_CHECK(got.size() == want.size());
    size_t mismatches = 0, finite = 0;
    for (size_t c = 0; c < std::min(got.size(), want.size()); ++c) {
      if (std::isinf(want[c])) {
        mismatches += !std::isinf(got[c]);
        continue;
      }
      ++finite;
      mismatches += !(std::fabs(got[c] - want[c]) <= 1e-9 * std::max(1.0, std::fabs(want[c])));
    }
    EI_CHECK_MSG(mismatches == 0, "trial " + std::to_string(trial) + ": " + std::to_string(mismatches) + " divergences differ");
    EI_CHECK_MSG(finite > 0, "trial " + std::to_string(trial) + " scored no candidate");
    const size_t want_bin = static_cast<size_t>(std::min_element(want.begin(), want.end()) - want.begin()) + 128;
    EI_CHECK_MSG(entropy_threshold_bins(hist.data(), n, 128) == want_bin, "trial " + std::to_string(trial));
  }
  // Fewer bins than levels: no search, no clipping.
  std::vector<double> small(100, 1.0);
  EI_CHECK(kl_divergences(small.data(), small.size(), 128).empty());
  EI_CHECK(entropy_threshold_bins(small.data(), small.size(), 128) == 100);
}

EI_TEST("heavy tails: entropy, percentile and MSE quantize the bulk better than min-max") {
  auto bulk = gaussian(1000000, 21);
  // 0.1 % outliers at +-50 sigma.
  std::vector<float> dense = bulk;
  for (size_t i = 0; i < dense.size(); i += 1000) dense[i] = (i / 1000) % 2 ? 50.0f : -50.0f;
  std::vector<float> dense_bulk;
  for (size_t i = 0; i < dense.size(); ++i)
    if (i % 1000 != 0) dense_bulk.push_back(dense[i]);
  // 5 per million at 50 sigma: below the default percentile's cut.
  std::vector<float> sparse = bulk;
  for (size_t i = 0; i < sparse.size(); i += 200000) sparse[i] = 50.0f;
  std::vector<float> sparse_bulk;
  for (size_t i = 0; i < sparse.size(); ++i)
    if (i % 200000 != 0) sparse_bulk.push_back(sparse[i]);

  for (bool symmetric : {true, false}) {
    const QuantizedType type = symmetric ? QuantizedType::kInt8 : QuantizedType::kUint8;
    const std::string tag = symmetric ? "int8 symmetric" : "uint8 asymmetric";
    // In batches, so the growth path is on the way.
    std::vector<std::vector<float>> dense_batches, sparse_batches;
    for (size_t start = 0; start < dense.size(); start += 65536) {
      dense_batches.emplace_back(dense.begin() + start, dense.begin() + std::min(dense.size(), start + 65536));
      sparse_batches.emplace_back(sparse.begin() + start, sparse.begin() + std::min(sparse.size(), start + 65536));
    }
    const TensorStatistics ds = statistics_of(dense_batches), ss = statistics_of(sparse_batches);
    auto bulk_error = [&](const TensorStatistics& s, const std::vector<float>& b, Method m, double p = 99.999) {
      return round_trip_mse(b, calibrate_with(s, m, symmetric, type, p).params);
    };
    const double dense_minmax = bulk_error(ds, dense_bulk, Method::kMinMax);
    const double dense_entropy = bulk_error(ds, dense_bulk, Method::kEntropy);
    const double dense_percentile = bulk_error(ds, dense_bulk, Method::kPercentile, 99.8);
    const double dense_mse = bulk_error(ds, dense_bulk, Method::kMse);
    std::printf("  %s, 0.1%% outliers: bulk MSE minmax %.3g entropy %.3g percentile(99.8) %.3g mse %.3g\n", tag.c_str(),
                dense_minmax, dense_entropy, dense_percentile, dense_mse);
    EI_CHECK_MSG(dense_entropy < dense_minmax / 4, tag);
    EI_CHECK_MSG(dense_percentile < dense_minmax / 4, tag);
    EI_CHECK_MSG(dense_mse < dense_minmax, tag);  // MSE weighs the outliers' clipping too: only slightly better

    const double sparse_minmax = bulk_error(ss, sparse_bulk, Method::kMinMax);
    const double sparse_entropy = bulk_error(ss, sparse_bulk, Method::kEntropy);
    const double sparse_percentile = bulk_error(ss, sparse_bulk, Method::kPercentile);
    const double sparse_mse = bulk_error(ss, sparse_bulk, Method::kMse);
    std::printf("  %s, 5 ppm outliers: bulk MSE minmax %.3g entropy %.3g percentile(99.999) %.3g mse %.3g\n", tag.c_str(),
                sparse_minmax, sparse_entropy, sparse_percentile, sparse_mse);
    EI_CHECK_MSG(sparse_entropy < sparse_minmax / 4, tag);
    EI_CHECK_MSG(sparse_percentile < sparse_minmax / 4, tag);
    // MSE minimises the error over all values, outliers' clipping included: a clear gain, less than the others'.
    EI_CHECK_MSG(sparse_mse < sparse_minmax * (symmetric ? 0.5 : 0.8), tag);
  }
}

EI_TEST("the MSE search finds the minimum of its own objective") {
  const auto data = gaussian(200000, 31, 2.0f);
  const TensorStatistics s = statistics_of({data});
  const Calibration best = calibrate_with(s, Method::kMse);
  std::vector<double> storage;
  const HistogramView view = signed_view(s, storage);
  const double best_error = expected_squared_error(view, best.params);
  for (double t = 0.5; t <= s.max_abs(); t += 0.05)
    EI_CHECK_MSG(best_error <= expected_squared_error(view, quantization_params(-t, t, true, QuantizedType::kInt8)) * (1 + 1e-9),
                 "t=" + std::to_string(t));
  // The model of the error is the real one: within a few percent of the measured round trip.
  const double measured = round_trip_mse(data, best.params);
  EI_CHECK_MSG(std::fabs(measured - best_error) < 0.05 * measured, std::to_string(measured) + " vs " + std::to_string(best_error));
}

EI_TEST("expected squared error: closed forms for one uniform bin") {
  const double count = 10.0;
  HistogramView view;
  view.counts = &count;
  view.size = 1;
  view.first_edge = 0.0;
  view.width = 1.0;
  view.min = 0.0;
  view.max = 1.0;
  QuantizationParams p;  // grid 0.1 * k, k in [0, 255]: no clipping in [0, 1]
  p.scale = 0.1f;
  p.zero_point = 0;
  p.qmin = 0;
  p.qmax = 255;
  const double s = static_cast<double>(p.scale);
  // Uniform over [0, 1]: whole cells s^2/12, the first half cell [0, s/2] gives s^2/12 as well.
  EI_CHECK(std::fabs(expected_squared_error(view, p) - s * s / 12.0) < 1e-6);
  p.qmax = 5;  // clipped at 0.5: five cells' worth of rounding error below, (x - 0.5)^2 above
  EI_CHECK(std::fabs(expected_squared_error(view, p) - (5.0 * s * s * s / 12.0 + 0.125 / 3.0)) < 1e-6);
  view.min = view.max = 0.26;  // a point mass: its own rounding error
  EI_CHECK(std::fabs(expected_squared_error(view, p) - (0.26 - 3 * s) * (0.26 - 3 * s)) < 1e-12);
}

EI_TEST("scale and zero point follow ONNX Runtime's compute_scale_zp") {
  auto p = quantization_params(-1.0, 2.0, false, QuantizedType::kUint8);
  EI_CHECK(p.scale == static_cast<float>(3.0 / 255) && p.zero_point == 85 && p.qmin == 0 && p.qmax == 255);
  p = quantization_params(0.5, 2.0, false, QuantizedType::kUint8);  // widened to include 0
  EI_CHECK(p.scale == static_cast<float>(2.0 / 255) && p.zero_point == 0);
  p = quantization_params(-2.0, -0.5, false, QuantizedType::kUint8);
  EI_CHECK(p.scale == static_cast<float>(2.0 / 255) && p.zero_point == 255);
  p = quantization_params(-1.0, 3.0, true, QuantizedType::kInt8);
  EI_CHECK(p.scale == static_cast<float>(3.0 / 127) && p.zero_point == 0 && p.qmin == -127 && p.qmax == 127);
  p = quantization_params(-1.0, 3.0, true, QuantizedType::kUint8);
  EI_CHECK(p.scale == static_cast<float>(6.0 / 255) && p.zero_point == 128);  // round(127.5) to even
  p = quantization_params(-1.0, 3.0, false, QuantizedType::kInt8);
  EI_CHECK(p.scale == static_cast<float>(4.0 / 255) && p.zero_point == static_cast<int32_t>(std::nearbyint(-128 + 255.0 / 4)));
  p = quantization_params(0.0, 0.0, false, QuantizedType::kUint8);
  EI_CHECK(p.scale == 1.0f && p.zero_point == 0);
  // The rounded zero point still covers the range to within half a step at each end.
  for (double lo : {-3.7, -0.01, -100.0})
    for (double hi : {0.2, 5.3, 99.0}) {
      const auto q = quantization_params(lo, hi, false, QuantizedType::kUint8);
      EI_CHECK(q.zero_point >= 0 && q.zero_point <= 255);
      EI_CHECK((q.qmin - q.zero_point) * static_cast<double>(q.scale) <= lo + q.scale / 2.0);
      EI_CHECK((q.qmax - q.zero_point) * static_cast<double>(q.scale) >= hi - q.scale / 2.0);
    }
}

EI_TEST("per-channel parameters use each channel's own range") {
  // [outer 2, channels 3, inner 2]; channel 1 holds a NaN, channel 2 only zeros.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> w = {1.0f, -2.0f, 0.5f, nan, 0.0f, 0.0f, 0.25f, 1.5f, -4.0f, 0.125f, 0.0f, 0.0f};
  QuantizationParams p[3];
  per_channel_params(w.data(), 2, 3, 2, true, QuantizedType::kInt8, p);
  EI_CHECK(p[0].scale == static_cast<float>(4.0 / 254) && p[0].zero_point == 0);
  EI_CHECK(p[1].scale == static_cast<float>(8.0 / 254) && p[1].zero_point == 0);
  EI_CHECK(p[2].scale == 1.0f && p[2].zero_point == 0);
  per_channel_params(w.data(), 2, 3, 2, false, QuantizedType::kUint8, p);
  EI_CHECK(p[0].scale == static_cast<float>(3.5 / 255) && p[0].zero_point == static_cast<int32_t>(std::nearbyint(2.0 / (3.5 / 255))));
}

EI_TEST("NaN and Inf are counted and ignored") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> data = {nan, 1.0f, -inf, -2.0f, inf, nan, 0.5f, -nan};
  TensorStatistics s;
  s.add(data.data(), data.size());
  EI_CHECK(s.nan_count() == 3 && s.inf_count() == 2 && s.finite_count() == 3);
  EI_CHECK(s.min() == -2.0f && s.max() == 1.0f);
  double total = 0;
  for (auto c : s.signed_counts()) total += static_cast<double>(c);
  EI_CHECK(total == 3.0);
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kEntropy, Method::kMse}) {
    const Calibration c = calibrate_with(s, m);
    EI_CHECK(std::isfinite(c.params.scale) && c.params.scale > 0 && c.threshold <= 2.0 + 1e-12);
  }
  TensorStatistics only_nan;
  const std::vector<float> nans = {nan, nan, inf};
  only_nan.add(nans.data(), nans.size());
  EI_CHECK(only_nan.finite_count() == 0 && only_nan.batches() == 0);
  EI_CHECK_THROWS(calibrate_with(only_nan, Method::kEntropy));
}

EI_TEST("degenerate inputs: nothing, all zeros, one value, one element, huge growth") {
  TensorStatistics empty;
  empty.add(nullptr, 0);
  EI_CHECK(empty.finite_count() == 0 && empty.batches() == 0);
  EI_CHECK_THROWS(calibrate_with(empty, Method::kMinMax));

  const std::vector<float> zeros(1000, 0.0f);
  const TensorStatistics z = statistics_of({zeros, zeros});
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kEntropy, Method::kMse})
    for (bool symmetric : {true, false}) {
      const Calibration c = calibrate_with(z, m, symmetric, symmetric ? QuantizedType::kInt8 : QuantizedType::kUint8);
      EI_CHECK_MSG(c.params.scale == 1.0f && c.params.zero_point == 0 && c.threshold == 0.0, method_name(m));
    }

  const std::vector<float> one = {-0.75f};
  const TensorStatistics o = statistics_of({one});
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kEntropy, Method::kMse}) {
    const Calibration c = calibrate_with(o, m);
    EI_CHECK_MSG(c.threshold > 0.0 && c.threshold <= 0.75, method_name(m));
    if (m != Method::kMse) EI_CHECK_MSG(std::fabs(c.threshold - 0.75) < 1e-3, method_name(m));
    const Calibration u = calibrate_with(o, m, false, QuantizedType::kUint8);
    EI_CHECK_MSG(u.params.zero_point == 255 && u.range_max == 0.0, method_name(m));
  }
  const std::vector<float> same(500, 2.5f);
  const TensorStatistics repeated = statistics_of({same, same});
  EI_CHECK(std::fabs(calibrate_with(repeated, Method::kEntropy).threshold - 2.5) < 1e-6);
  EI_CHECK(std::fabs(calibrate_with(repeated, Method::kPercentile).threshold - 2.5) < 1e-3);

  // Zeros first, then denormals, then the largest floats: the range grows by factors beyond the bin count.
  const std::vector<float> tiny = {1e-44f, -3e-45f}, huge = {3e38f, -3.4e38f};
  const TensorStatistics g = statistics_of({zeros, tiny, huge});
  EI_CHECK(g.finite_count() == 1004 && g.min() == -3.4e38f && g.max() == 3e38f);
  uint64_t total = 0;
  for (auto c : g.signed_counts()) total += c;
  EI_CHECK(total == 1004);
  for (Method m : {Method::kMinMax, Method::kPercentile, Method::kEntropy, Method::kMse}) {
    const Calibration c = calibrate_with(g, m);
    EI_CHECK_MSG(std::isfinite(c.params.scale) && c.params.scale > 0, method_name(m));
  }
}

EI_TEST("options are validated") {
  StatisticsOptions bad;
  bad.bins = 0;
  EI_CHECK_THROWS(TensorStatistics{bad});
  bad.bins = 2048;
  bad.averaging_constant = 0.0;
  EI_CHECK_THROWS(TensorStatistics{bad});
  bad.averaging_constant = std::numeric_limits<double>::quiet_NaN();
  EI_CHECK_THROWS(TensorStatistics{bad});
  const std::vector<float> data = {1.0f, 2.0f};
  const TensorStatistics s = statistics_of({data});
  ThresholdOptions options;
  options.percentile = std::numeric_limits<double>::quiet_NaN();
  EI_CHECK_THROWS(calibrate(s, options));
  options.percentile = 0.0;
  EI_CHECK_THROWS(calibrate(s, options));
  options.percentile = 100.5;
  EI_CHECK_THROWS(calibrate(s, options));
  options.percentile = 99.0;
  options.levels = 1;
  EI_CHECK_THROWS(calibrate(s, options));
  Method m;
  EI_CHECK(!parse_method("kl", m) && parse_method("mse", m) && m == Method::kMse);
  QuantizedType t;
  EI_CHECK(!parse_quantized_type("int4", t) && parse_quantized_type("uint8", t) && t == QuantizedType::kUint8);
}

// The entropy search's level count follows the target grid: one-sided data on an asymmetric uint8 grid is
// searched with 256 levels (the grid's steps over [0, t]), a symmetric range with TensorRT's 128; explicit
// levels are kept. (Whether that clips more or less depends on the distribution: printed.)
EI_TEST("entropy levels from the grid: 256 for one-sided asymmetric data, 128 symmetric") {
  std::mt19937 gen(11);
  std::exponential_distribution<float> tail(1.0f);
  std::vector<float> data(200000);
  for (auto& v : data) v = tail(gen);  // ReLU-like: [0, ~12], most mass near 0
  TensorStatistics s;
  s.add(data.data(), data.size());
  ThresholdOptions grid;
  grid.method = Method::kEntropy;
  grid.symmetric = false;
  grid.type = QuantizedType::kUint8;
  ThresholdOptions trt = grid;
  trt.levels = 128;
  ThresholdOptions wide = grid;
  wide.levels = 256;
  const double t_grid = calibrate(s, grid).threshold, t_trt = calibrate(s, trt).threshold, t_wide = calibrate(s, wide).threshold;
  std::printf("  exponential data: entropy threshold 128 levels %.3f, 256 levels %.3f, from the grid %.3f (max %.3f)\n", t_trt,
              t_wide, t_grid, static_cast<double>(s.max()));
  EI_CHECK(t_grid == t_wide);
  EI_CHECK(t_wide != t_trt);  // the level count reaches the search
  ThresholdOptions symmetric = grid;
  symmetric.symmetric = true;
  symmetric.type = QuantizedType::kInt8;
  ThresholdOptions symmetric_trt = symmetric;
  symmetric_trt.levels = 128;
  EI_CHECK(calibrate(s, symmetric).threshold == calibrate(s, symmetric_trt).threshold);
}

EI_TEST_MAIN()

// Point masses on values the grid holds exactly (ReLU's zeros; a clamp such as Max(x, -0.4) at the lower end of
// an asymmetric grid) cost no rounding error, so they must not pull the KL threshold in: with half the values
// piled on one of those points the threshold stays near the one of the data without them.
EI_TEST("entropy: ReLU zeros and a clamped lower end do not shrink the range") {
  std::mt19937 gen(5);
  std::exponential_distribution<float> tail(1.0f);
  std::vector<float> values(200000);
  for (auto& v : values) v = tail(gen);  // (0, ~12]: dense next to 0 and to 0.4
  const double plain = uint8_entropy_threshold(values);
  std::vector<float> relu = values, clamped = values;
  relu.resize(2 * values.size(), 0.0f);
  clamped.resize(2 * values.size(), -0.4f);
  const double with_zeros = uint8_entropy_threshold(relu), with_clamp = uint8_entropy_threshold(clamped);
  std::printf("  entropy threshold: plain %.3f, half zeros %.3f, half clamped at -0.4 %.3f (max %.3f)\n", plain, with_zeros,
              with_clamp, *std::max_element(values.begin(), values.end()));
  EI_CHECK_MSG(std::fabs(with_zeros - plain) <= 0.1 * plain, std::to_string(with_zeros) + " vs " + std::to_string(plain));
  EI_CHECK_MSG(std::fabs(with_clamp - plain) <= 0.1 * plain, std::to_string(with_clamp) + " vs " + std::to_string(plain));
}

EI_TEST("entropy: values repeated across the data (padding, digital silence) do not shrink the range") {
  std::mt19937 gen(7);
  std::exponential_distribution<float> tail(1.0f);
  std::uniform_real_distribution<float> where(0.05f, 5.0f);
  std::vector<float> values(400000);
  for (auto& v : values) v = tail(gen);
  // 60 values inside the bulk, each repeated 3000 times (a third more data): what a clip's silent frames give
  // every channel and position of a layer.
  std::vector<float> repeated = values;
  for (int k = 0; k < 60; ++k) repeated.insert(repeated.end(), 3000, where(gen));
  const double plain = uint8_entropy_threshold(values), with_repeats = uint8_entropy_threshold(repeated);
  std::printf("  entropy threshold: plain %.3f, with 60 repeated values %.3f (max %.3f)\n", plain, with_repeats,
              *std::max_element(values.begin(), values.end()));
  EI_CHECK_MSG(std::fabs(with_repeats - plain) <= 0.1 * plain, std::to_string(with_repeats) + " vs " + std::to_string(plain));
}

EI_TEST("flatten_point_masses: spikes become their neighbourhood's level; a noisy smooth histogram is left alone") {
  std::mt19937 gen(9);
  std::exponential_distribution<float> tail(1.0f);
  TensorStatistics smooth;
  std::vector<float> values(1000000);
  for (auto& v : values) v = tail(gen);
  smooth.add(values.data(), values.size());
  const std::vector<double> counts = smooth.magnitude_histogram();
  std::vector<double> flattened = counts;
  flatten_point_masses(flattened);
  EI_CHECK_MSG(flattened == counts, "a sampled smooth density (Poisson noise, a sparse tail) holds no point mass");
  std::vector<double> spiked = counts;
  for (size_t k : {5, 200, 201, 640}) spiked[k] += 5 * counts[k] + 100;
  flattened = spiked;
  flatten_point_masses(flattened);
  for (size_t k = 1; k < counts.size(); ++k) {
    const bool spike = k == 5 || k == 200 || k == 201 || k == 640;
    if (spike) EI_CHECK_MSG(std::fabs(flattened[k] - counts[k]) <= 6.0 * std::sqrt(counts[k] + 1.0), "bin " + std::to_string(k));
    else EI_CHECK_MSG(flattened[k] == counts[k], "bin " + std::to_string(k));
  }
  EI_CHECK(flattened[0] == spiked[0]);  // the zero bin is calibrate()'s to handle (ReLU's zeros)
}
