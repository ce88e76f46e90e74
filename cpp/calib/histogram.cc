// Two passes per batch: a branch-free range scan (integer min/max over order-preserving bit patterns, which
// the compiler vectorises at the baseline ISA; float min/max reductions would need -ffast-math), then the
// histogram scatter once the range is known to cover the batch.
#include "edgeinfer/calib/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "edgeinfer/error.h"

namespace edgeinfer::calib {

namespace {

constexpr uint32_t kExponentMask = 0x7f800000u;

inline uint32_t bits_of(const float* p) {
  uint32_t bits;
  std::memcpy(&bits, p, sizeof bits);  // one read per value, whatever another thread does meanwhile
  return bits;
}

// Finite floats as int32 in the same order: negatives get their magnitude bits flipped (an involution).
inline int32_t ordered(uint32_t bits) {
  const auto s = static_cast<int32_t>(bits);
  return s ^ static_cast<int32_t>(static_cast<uint32_t>(s >> 31) & 0x7fffffffu);
}

inline float from_ordered(int32_t key) {
  const auto bits = static_cast<uint32_t>(ordered(static_cast<uint32_t>(key)));
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

struct BatchScan {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  int64_t nan = 0, inf = 0;
};

// Written with masks and shifts rather than `special ? neutral : key`: GCC vectorises min / max of a plain
// value at the baseline ISAs (SSE2, NEON) but not of a selected one.
BatchScan scan_range(const float* data, size_t count) {
  BatchScan scan;
  constexpr size_t kBlock = 4096;  // 32-bit counters per block stay exact and vectorise
  for (size_t start = 0; start < count; start += kBlock) {
    const size_t end = std::min(count, start + kBlock);
    int32_t lo = scan.lo, hi = scan.hi;
    uint32_t nan = 0, special = 0;
    for (size_t i = start; i < end; ++i) {
      const uint32_t bits = bits_of(data + i);
      const uint32_t magnitude = bits & 0x7fffffffu;
      const uint32_t mask = static_cast<uint32_t>(static_cast<int32_t>(0x7f7fffffu - magnitude) >> 31);  // ones: NaN, ±Inf
      nan += (kExponentMask - magnitude) >> 31;
      special += mask & 1u;
      const auto key = static_cast<uint32_t>(ordered(bits));
      lo = std::min(lo, static_cast<int32_t>(key + ((0x7fffffffu - key) & mask)));  // INT32_MAX when special
      hi = std::max(hi, static_cast<int32_t>(key + ((0x80000000u - key) & mask)));  // INT32_MIN when special
    }
    scan.lo = lo;
    scan.hi = hi;
    scan.nan += nan;
    scan.inf += special - nan;
  }
  return scan;
}

}  // namespace

TensorStatistics::TensorStatistics(const StatisticsOptions& options)
    : bins_(options.bins), averaging_constant_(options.averaging_constant) {
  if (bins_ < kMinBins || bins_ > kMaxBins)
    fail(ErrorCode::kInvalidArgument, "bins must be in [" + std::to_string(kMinBins) + ", " + std::to_string(kMaxBins) +
                                          "], got " + std::to_string(bins_));
  if (!(averaging_constant_ > 0.0 && averaging_constant_ <= 1.0))
    fail(ErrorCode::kInvalidArgument, "averaging constant must be in (0, 1], got " + std::to_string(averaging_constant_));
  counts_.assign(2 * static_cast<size_t>(bins_), 0);
}

float TensorStatistics::max_abs() const { return std::max(std::fabs(min_), std::fabs(max_)); }

void TensorStatistics::grow_to(double magnitude) {
  if (!(magnitude > 0.0)) return;
  if (bin_width_ == 0.0) {
    // First non-zero value: the range is exactly this batch's; zeros counted so far are already in bin 0.
    bin_width_ = magnitude / bins_;
    inverse_bin_width_ = bins_ / magnitude;
    return;
  }
  const double range = bin_width_ * bins_;
  if (magnitude <= range) return;
  double factor = std::max(2.0, std::ceil(magnitude / range));
  while (range * factor < magnitude) factor += 1.0;  // guards the rounding of the division
  const size_t bins = static_cast<size_t>(bins_);
  std::vector<uint64_t> merged(counts_.size(), 0);
  for (size_t j = 0; j < bins; ++j) {
    const size_t target = factor >= static_cast<double>(bins) ? 0 : j / static_cast<size_t>(factor);
    merged[bins + target] += counts_[bins + j];
    merged[bins - 1 - target] += counts_[bins - 1 - j];
  }
  counts_.swap(merged);
  bin_width_ *= factor;
  inverse_bin_width_ = 1.0 / bin_width_;
}

void TensorStatistics::add(const float* data, size_t count) {
  if (count == 0) return;
  const BatchScan scan = scan_range(data, count);
  nan_count_ += scan.nan;
  inf_count_ += scan.inf;
  if (scan.lo > scan.hi) return;  // nothing finite

  const float batch_min = from_ordered(scan.lo), batch_max = from_ordered(scan.hi);
  grow_to(std::max(std::fabs(static_cast<double>(batch_min)), std::fabs(static_cast<double>(batch_max))));

  const double inverse = inverse_bin_width_;
  const auto last = static_cast<double>(bins_ - 1);
  const auto bins = static_cast<int32_t>(bins_);
  int64_t finite = 0;
  if (scan.nan + scan.inf == 0) {
    // The common batch, all finite: bin indices for a block first (a loop without branches, which the
    // compiler vectorises), then the scatter alone; x < 0 lands in bins - 1 - j = bins + ~j.
    constexpr size_t kBlock = 512;
    int32_t index[kBlock];
    for (size_t start = 0; start < count; start += kBlock) {
      const size_t n = std::min(count - start, kBlock);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = bits_of(data + start + i);
        float magnitude;
        const uint32_t magnitude_bits = bits & 0x7fffffffu;
        std::memcpy(&magnitude, &magnitude_bits, sizeof magnitude);
        const auto j = static_cast<int32_t>(std::min(static_cast<double>(magnitude) * inverse, last));
        const auto negative = static_cast<int32_t>((bits >> 31) & static_cast<uint32_t>(magnitude_bits != 0));  // -0 counts as 0
        index[i] = bins + (j ^ -negative);
      }
      for (size_t i = 0; i < n; ++i) ++counts_[static_cast<size_t>(index[i])];
    }
    finite = static_cast<int64_t>(count);
  } else {
    for (size_t i = 0; i < count; ++i) {
      const uint32_t bits = bits_of(data + i);
      if ((bits & kExponentMask) == kExponentMask) continue;
      float x;
      std::memcpy(&x, &bits, sizeof x);
      const auto j = static_cast<int32_t>(std::min(std::fabs(static_cast<double>(x)) * inverse, last));
      ++counts_[static_cast<size_t>(x < 0.0f ? bins + ~j : bins + j)];
      ++finite;
    }
  }

  if (finite_count_ == 0) {
    min_ = batch_min;
    max_ = batch_max;
  } else {
    min_ = std::min(min_, batch_min);
    max_ = std::max(max_, batch_max);
  }
  if (batches_ == 0) {
    moving_min_ = batch_min;
    moving_max_ = batch_max;
  } else {
    moving_min_ += averaging_constant_ * (batch_min - moving_min_);
    moving_max_ += averaging_constant_ * (batch_max - moving_max_);
  }
  finite_count_ += finite;
  ++batches_;
}

std::vector<double> TensorStatistics::magnitude_histogram() const {
  const size_t bins = static_cast<size_t>(bins_);
  size_t used = 0;
  for (size_t j = 0; j < bins; ++j)
    if (counts_[bins + j] != 0 || counts_[bins - 1 - j] != 0) used = j + 1;
  std::vector<double> folded(used);
  for (size_t j = 0; j < used; ++j)
    folded[j] = static_cast<double>(counts_[bins + j]) + static_cast<double>(counts_[bins - 1 - j]);
  return folded;
}

std::vector<double> TensorStatistics::occupied_signed_histogram(double& first_edge) const {
  size_t first = counts_.size(), last = 0;
  for (size_t k = 0; k < counts_.size(); ++k) {
    if (counts_[k] == 0) continue;
    first = std::min(first, k);
    last = k;
  }
  first_edge = 0.0;
  if (first == counts_.size()) return {};
  first_edge = (static_cast<double>(first) - bins_) * bin_width_;
  return std::vector<double>(counts_.begin() + static_cast<std::ptrdiff_t>(first),
                             counts_.begin() + static_cast<std::ptrdiff_t>(last) + 1);
}

void channel_min_max(const float* data, int64_t outer, int64_t channels, int64_t inner, float* min, float* max) {
  std::vector<BatchScan> scans(static_cast<size_t>(channels));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const BatchScan part = scan_range(data + (o * channels + c) * inner, static_cast<size_t>(inner));
      BatchScan& scan = scans[static_cast<size_t>(c)];
      scan.lo = std::min(scan.lo, part.lo);
      scan.hi = std::max(scan.hi, part.hi);
    }
  for (int64_t c = 0; c < channels; ++c) {
    const BatchScan& scan = scans[static_cast<size_t>(c)];
    const bool any = scan.lo <= scan.hi;
    min[c] = any ? from_ordered(scan.lo) : 0.0f;
    max[c] = any ? from_ordered(scan.hi) : 0.0f;
  }
}

}  // namespace edgeinfer::calib
