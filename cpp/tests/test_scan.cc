// find_non_finite against a plain reference: every position of NaN / ±Inf in arrays of odd lengths (block
// boundaries, tails), huge finite values, and unaligned starts.
#include <cmath>
#include <limits>
#include <vector>

#include "edgeinfer/scan.h"
#include "tests/check.h"

using edgeinfer::find_non_finite;

template <typename T>
void check_every_position() {
  const T specials[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()};
  for (int64_t n : {0, 1, 7, 255, 256, 257, 1000}) {
    std::vector<T> values(static_cast<size_t>(n) + 1);
    for (int64_t i = 0; i <= n; ++i) values[static_cast<size_t>(i)] = i % 2 ? std::numeric_limits<T>::max() : -T(i) * T(0.5);
    EI_CHECK(find_non_finite(values.data() + 1, n) == -1);
    for (T special : specials) {
      for (int64_t at = 0; at < n; at += (n > 300 ? 37 : 1)) {
        values[static_cast<size_t>(at) + 1] = special;
        values[static_cast<size_t>(n)] = special;  // a later one must not win
        EI_CHECK_MSG(find_non_finite(values.data() + 1, n) == at, "n=" + std::to_string(n) + " at=" + std::to_string(at));
        values[static_cast<size_t>(at) + 1] = 1;
        values[static_cast<size_t>(n)] = 1;
      }
    }
  }
}

EI_TEST("find_non_finite finds the first NaN or infinity (float)") { check_every_position<float>(); }
EI_TEST("find_non_finite finds the first NaN or infinity (double)") { check_every_position<double>(); }

EI_TEST_MAIN()
