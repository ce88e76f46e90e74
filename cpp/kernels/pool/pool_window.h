// A PoolShape's window as 2-D arrays (1-D pools as height 1), validated once for every pool kernel.
#pragma once

#include <cstdint>
#include <string>

#include "edgeinfer/error.h"
#include "edgeinfer/nn_kernels.h"

namespace edgeinfer::pool_detail {

struct PoolWindow {
  int64_t in[2] = {1, 1}, out[2] = {1, 1}, k[2] = {1, 1}, st[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0}, d[2] = {1, 1};
};

// Throws kInvalidArgument (prefixed with `what`) on a bad rank, shape or window.
inline PoolWindow pool_window(const PoolShape& s, const char* what) {
  const auto check = [what](bool condition, const char* problem) {
    if (!condition) fail(ErrorCode::kInvalidArgument, std::string(what) + ": " + problem);
  };
  check(s.rank == 1 || s.rank == 2, "spatial rank must be 1 or 2");
  check(s.batch >= 0 && s.in_channels > 0, "bad shape");
  PoolWindow w;
  const int off = 2 - s.rank;
  constexpr int64_t kMax = int64_t{1} << 24;
  for (int i = 0; i < s.rank; ++i) {
    w.in[i + off] = s.in_size[i];
    w.out[i + off] = s.out_size[i];
    w.k[i + off] = s.kernel[i];
    w.st[i + off] = s.stride[i];
    w.pb[i + off] = s.pad_begin[i];
    w.pe[i + off] = s.pad_end[i];
    w.d[i + off] = s.dilation[i];
  }
  for (int i = 0; i < 2; ++i) {
    check(w.in[i] > 0 && w.out[i] > 0 && w.k[i] > 0 && w.st[i] > 0 && w.d[i] > 0 && w.pb[i] >= 0 && w.pe[i] >= 0 &&
              w.in[i] <= kMax && w.out[i] <= kMax && w.k[i] <= kMax && w.st[i] <= kMax && w.d[i] <= kMax &&
              w.pb[i] <= kMax && w.pe[i] <= kMax,
          "bad spatial attributes");
    // Every window must start inside input + begin padding (ceil_mode never adds a window starting past it).
    check((w.out[i] - 1) * w.st[i] - w.pb[i] < w.in[i] + w.pe[i], "output size too large for the input");
  }
  return w;
}

}  // namespace edgeinfer::pool_detail
