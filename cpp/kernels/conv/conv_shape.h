// Conv shape normalisation shared by the float and INT8 convolutions (internal).
#pragma once

#include <cstdint>

#include "edgeinfer/nn_kernels.h"

namespace edgeinfer::conv_detail {

// A validated convolution seen as 2-D (1-D: h = 1).
struct Conv2d {
  int64_t batch, in_c, out_c, group, in_c_g, out_c_g;
  int64_t ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, pe_h, pe_w, dh, dw;
  int64_t in_plane() const { return ih * iw; }
  int64_t out_plane() const { return oh * ow; }
  int64_t k_g() const { return in_c_g * kh * kw; }
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && pe_h == 0 && pe_w == 0; }
};

// Throws kInvalidArgument / kShapeMismatch on anything inconsistent (including out_size).
Conv2d normalize(const ConvShape& s, const char* what);

}  // namespace edgeinfer::conv_detail
