// Threshold selection over a tensor's streaming statistics, and the scale / zero point that follow.
//
// Methods (the clipping range each picks before it is widened to include zero):
// - kMinMax: the observed range, or ONNX Runtime's moving-average range with moving_average.
// - kPercentile: t = the percentile of |x| (TensorRT's and ONNX Runtime's |x| histogram), interpolated inside the
//   bin and clamped to max|x|; symmetric [-t, t], asymmetric the observed [min, max] clipped to [-t, t] (as
//   kEntropy), so the short side of a one-sided distribution is not cut as hard as the long one.
// - kEntropy: TensorRT's KL search over the |x| histogram (see kl_divergences); symmetric by nature. Asked
//   for an asymmetric range it clips the observed [min, max] to [-t, t], so a ReLU output keeps [0, t]; the
//   search's level count follows the grid (ThresholdOptions::levels). Point masses (ReLU's zeros, a clamp's end,
//   repeated values: see flatten_point_masses) count as their neighbourhood in the search.
// - kMse: the range [a*lo, a*hi], a in (0, 1], that minimises the expected squared error of quantizing the
//   histogram onto the actual integer grid (scale and rounded zero point included), each bin taken as
//   uniform between its edges; [lo, hi] is the observed range (symmetric: [-max|x|, max|x|]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "histogram.h"  // by its own directory: the binding includes this header from outside the core

namespace edgeinfer::calib {

enum class Method { kMinMax, kPercentile, kEntropy, kMse };
enum class QuantizedType { kInt8, kUint8 };

// "minmax", "percentile", "entropy", "mse"; false for anything else.
bool parse_method(std::string_view name, Method& method);
const char* method_name(Method method);
// "int8", "uint8"; false for anything else.
bool parse_quantized_type(std::string_view name, QuantizedType& type);

struct ThresholdOptions {
  Method method = Method::kEntropy;
  bool symmetric = true;
  QuantizedType type = QuantizedType::kInt8;
  double percentile = 99.999;   // kPercentile, in (0, 100]
  bool moving_average = false;  // kMinMax: the moving-average range instead of the running one
  // kEntropy: the levels |x| is quantized to in the search. 0 (default): what the target grid gives the larger
  // side of the data: 128 (TensorRT's 2^(bits - 1)) for a symmetric range; asymmetric, 256 * max|x| /
  // (max - min) clamped to [128, 256]: 256 for a ReLU output on uint8 ([0, t] in 255 steps), ~128 for data
  // balanced around zero. With 128 on one-sided data the search assumes half the resolution the grid has
  // (openWakeWord's embedding trunk: 28.1 clipped to 5.3 with 128, 9.5 with 256).
  int32_t levels = 0;
};

// Throws edgeinfer::Error(kInvalidArgument) naming the bad field.
void validate(const ThresholdOptions& options);

// ONNX conventions, as ONNX Runtime's compute_scale_zp: the range is widened to include 0; int8 symmetric
// uses [-127, 127] and zero point 0, int8 asymmetric [-128, 127], uint8 [0, 255] (symmetric: zero point
// 128); scale = (max - min) / (qmax - qmin), zero point = round-half-even(qmin - min / scale) clamped; a
// scale below FLT_MIN (an all-zero range) becomes scale 1, zero point 0.
struct QuantizationParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t qmin = -128, qmax = 127;
};
QuantizationParams quantization_params(double range_min, double range_max, bool symmetric, QuantizedType type);

// Per-channel parameters of a [outer, channels, inner] tensor from each channel's min / max (weights are
// calibrated by their range: they are all there is). NaN and ±Inf are skipped.
void per_channel_params(const float* data, int64_t outer, int64_t channels, int64_t inner, bool symmetric,
                        QuantizedType type, QuantizationParams* params);

// A histogram as the threshold searches read it: counts[k] covers [first_edge + k*width, first_edge + (k+1)*width),
// values known to lie within [min, max] (the observed range, to which the searches clamp).
struct HistogramView {
  const double* counts = nullptr;
  size_t size = 0;
  double first_edge = 0.0, width = 0.0;
  double min = 0.0, max = 0.0;
};

// TensorRT's entropy calibration on a |x| histogram of n bins: for each candidate i in [levels, n], P is
// bins [0, i) with the outliers (bins >= i) folded into bin i-1; Q merges bins [0, i) into `levels` groups
// (bin k into group k * levels / i, so groups differ in size by at most one bin; MXNet's and ONNX Runtime's
// "remainder into the last group" makes that group up to twice as wide) and spreads each group's count
// evenly over the bins where P is non-zero. Both are smoothed as ONNX Runtime / MXNet do (eps = 1e-4 added
// to zero bins, taken evenly from the others; a distribution that smoothing would make non-positive, or that
// is all zero, scores +inf). Returns KL(P || Q) per candidate, index i - levels; empty when n < levels.
std::vector<double> kl_divergences(const double* magnitude_counts, size_t n, int32_t levels);
// The candidate of least divergence (the first on ties): the threshold is its right edge, i * width. n when
// n < levels (no clipping).
size_t entropy_threshold_bins(const double* magnitude_counts, size_t n, int32_t levels);
// Replaces each bin (but the first) that holds a point mass by the median of the bins within 3 of it: a count
// above twice that local level and more than 6 Poisson standard deviations (sqrt(level + 1)) above it. Such
// bins come from one value repeated across the calibration data (padding, digital silence in audio, a channel
// that is constant on some inputs), not from the density; the KL search's Q spreads each group's mass evenly
// over its bins, so a spike costs it far more than its rounding error (at most half a step) and drives the
// search to thresholds where every group is one bin wide, clipping the range (openWakeWord's embedding on
// the speech fixtures, whose 0.5 s of digital silence repeat the same activations: 28.1 -> 9.5).
void flatten_point_masses(std::vector<double>& magnitude_counts);

// The value below which `fraction` of the histogram's mass lies, linear inside a bin, clamped to [min, max].
double histogram_quantile(const HistogramView& histogram, double fraction);

// Expected squared error of quantizing a value drawn from the histogram (uniform within each bin, bins clipped
// to [min, max]) with `params`, per value.
double expected_squared_error(const HistogramView& histogram, const QuantizationParams& params);

struct Calibration {
  double range_min = 0.0, range_max = 0.0;  // the chosen clipping range, widened to include 0
  double threshold = 0.0;                   // max(|range_min|, |range_max|)
  QuantizationParams params;
};

// Throws edgeinfer::Error(kInvalidArgument) when no finite value was added, or for invalid options.
Calibration calibrate(const TensorStatistics& statistics, const ThresholdOptions& options);

}  // namespace edgeinfer::calib
