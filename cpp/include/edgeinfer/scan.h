// Scans over caller data that are not kernels of a model.
#pragma once

#include <cstdint>

namespace edgeinfer {

// Index of the first NaN or ±Infinity among data[0..n), or -1 when every value is finite.
int64_t find_non_finite(const float* data, int64_t n);
int64_t find_non_finite(const double* data, int64_t n);

}  // namespace edgeinfer
