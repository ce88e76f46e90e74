// Timing helpers shared by the single-file microbenchmarks: a monotonic clock in microseconds and the median
// of a set of samples (the machine may be shared: medians, not means).
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace edgeinfer::bench {

inline double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace edgeinfer::bench
