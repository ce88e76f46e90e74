// Streaming statistics of one tensor for calibration: any number of batches, none of them kept.
//
// What is kept per tensor (2 * bins + a few scalars, 32 KiB at the default 2048 bins):
// - running min / max of the finite values, and ONNX Runtime's moving-average min / max (per batch:
//   moving += averaging_constant * (batch - moving); the first batch sets it);
// - one signed histogram, symmetric around zero: `bins` bins of |x| on each side, bin j of a side holding
//   |x| in [j*w, (j+1)*w) (the largest value lands in the last bin). Folding the two sides gives the |x|
//   histogram the entropy (KL) search wants; the signed one serves MSE.
// - counts of NaN and ±Inf, which are otherwise ignored.
//
// Growth: when a batch holds a magnitude beyond the range R = bins * w, the range grows by the smallest
// integer factor m >= 2 that covers it and every m old bins merge into one new bin. Merging whole bins is
// exact (counts stay integers, no data is needed), unlike splitting bins proportionally; the price is
// resolution: after growth the occupied part of a side holds between bins/2 and bins bins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgeinfer::calib {

struct StatisticsOptions {
  // Histogram bins per side of zero (bins of |x|). TensorRT's entropy calibrator uses 2048.
  int32_t bins = 2048;
  // ONNX Runtime's MinMaxCalibrater averaging_constant, in (0, 1].
  double averaging_constant = 0.01;
};

class TensorStatistics {
 public:
  static constexpr int32_t kMinBins = 8;
  static constexpr int32_t kMaxBins = 1 << 20;

  // Throws edgeinfer::Error(kInvalidArgument) for bins outside [kMinBins, kMaxBins] or a constant outside (0, 1].
  explicit TensorStatistics(const StatisticsOptions& options = {});

  // One batch. NaN and ±Inf are counted and skipped; an empty batch (or one with no finite value) changes
  // nothing else. Safe on memory another thread writes meanwhile: every value is read once and every bin
  // index is clamped, so a racing writer can skew counts, never write out of bounds.
  void add(const float* data, size_t count);

  int32_t bins() const { return bins_; }
  double averaging_constant() const { return averaging_constant_; }
  int64_t finite_count() const { return finite_count_; }
  int64_t nan_count() const { return nan_count_; }
  int64_t inf_count() const { return inf_count_; }
  // Batches that held at least one finite value (the ones that moved the moving average).
  int64_t batches() const { return batches_; }
  // Meaningful only when finite_count() > 0.
  float min() const { return min_; }
  float max() const { return max_; }
  double moving_min() const { return moving_min_; }
  double moving_max() const { return moving_max_; }
  float max_abs() const;

  // Width of one bin; 0 while every finite value seen was zero (then all counts sit in the first bin of the
  // positive side, which holds zero at any width).
  double bin_width() const { return bin_width_; }
  // 2 * bins counts in ascending order of value: index bins - 1 - j is bin j of the negative side, index
  // bins + j bin j of the positive side (zero and -0 included). Edges: value (k - bins) * bin_width().
  const std::vector<uint64_t>& signed_counts() const { return counts_; }
  // The two sides folded, |x| bin j = negative j + positive j, for j up to the last non-empty bin.
  std::vector<double> magnitude_histogram() const;
  // The signed counts as doubles, trimmed to [first non-empty, last non-empty]; `first_edge` receives the
  // value at the lower edge of the first bin returned.
  std::vector<double> occupied_signed_histogram(double& first_edge) const;

 private:
  void grow_to(double magnitude);

  int32_t bins_;
  double averaging_constant_;
  std::vector<uint64_t> counts_;
  double bin_width_ = 0.0;
  double inverse_bin_width_ = 0.0;
  int64_t finite_count_ = 0, nan_count_ = 0, inf_count_ = 0, batches_ = 0;
  float min_ = 0.0f, max_ = 0.0f;
  double moving_min_ = 0.0, moving_max_ = 0.0;
};

// Per-channel min and max of a [outer, channels, inner] tensor (weights, for per-channel parameters). NaN and
// ±Inf are skipped; a channel without a finite value gets min = max = 0.
void channel_min_max(const float* data, int64_t outer, int64_t channels, int64_t inner, float* min, float* max);

}  // namespace edgeinfer::calib
