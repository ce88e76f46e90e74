// First NaN or ±Infinity in a float array: feeds are checked before a model sees them. Plain loops over
// blocks, which the compiler vectorises at the baseline ISA (x - x is 0 for every finite x and NaN for NaN
// and ±Infinity, and only NaN differs from itself: an integer OR per block); the exact index is searched
// only inside the block that has one.
#include "edgeinfer/scan.h"

#include <cstdint>

namespace edgeinfer {

namespace {

template <typename T>
int64_t find_non_finite_impl(const T* data, int64_t n) {
  constexpr int64_t kBlock = 256;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = start + kBlock < n ? start + kBlock : n;
    uint32_t bad = 0;
    for (int64_t i = start; i < end; ++i) {
      const T d = data[i] - data[i];
      bad |= static_cast<uint32_t>(d != d);
    }
    if (bad != 0) {
      for (int64_t i = start; i < end; ++i)
        if (!(data[i] - data[i] == 0)) return i;
    }
  }
  return -1;
}

}  // namespace

int64_t find_non_finite(const float* data, int64_t n) { return find_non_finite_impl(data, n); }
int64_t find_non_finite(const double* data, int64_t n) { return find_non_finite_impl(data, n); }

}  // namespace edgeinfer
