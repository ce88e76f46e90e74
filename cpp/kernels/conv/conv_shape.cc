#include "kernels/conv/conv_shape.h"

#include <string>

#include "edgeinfer/error.h"

namespace edgeinfer::conv_detail {

Conv2d normalize(const ConvShape& s, const char* what) {
  const std::string w(what);
  auto bad = [&](const char* msg) { fail(ErrorCode::kInvalidArgument, w + ": " + msg); };
  if (s.rank != 1 && s.rank != 2) bad("spatial rank must be 1 or 2");
  constexpr int64_t kMax = int64_t{1} << 24;
  if (s.batch < 0 || s.batch > kMax) bad("bad batch");
  if (s.in_channels <= 0 || s.out_channels <= 0 || s.in_channels > kMax || s.out_channels > kMax) bad("bad channels");
  if (s.group <= 0 || s.in_channels % s.group != 0 || s.out_channels % s.group != 0)
    bad("channels must be divisible by group");
  Conv2d c{};
  c.batch = s.batch;
  c.in_c = s.in_channels;
  c.out_c = s.out_channels;
  c.group = s.group;
  c.in_c_g = s.in_channels / s.group;
  c.out_c_g = s.out_channels / s.group;
  int64_t in[2] = {1, 1}, out[2] = {1, 1}, k[2] = {1, 1}, st[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0},
          d[2] = {1, 1};
  const int off = 2 - s.rank;  // 1-D uses index 1 (w)
  for (int i = 0; i < s.rank; ++i) {
    in[i + off] = s.in_size[i];
    out[i + off] = s.out_size[i];
    k[i + off] = s.kernel[i];
    st[i + off] = s.stride[i];
    pb[i + off] = s.pad_begin[i];
    pe[i + off] = s.pad_end[i];
    d[i + off] = s.dilation[i];
  }
  for (int i = 0; i < 2; ++i) {
    if (in[i] <= 0 || in[i] > kMax || k[i] <= 0 || k[i] > kMax || st[i] <= 0 || st[i] > kMax || d[i] <= 0 ||
        d[i] > kMax || pb[i] < 0 || pe[i] < 0 || pb[i] > kMax || pe[i] > kMax)
      bad("bad spatial attributes");
    const int64_t span = d[i] * (k[i] - 1) + 1;
    const int64_t padded = in[i] + pb[i] + pe[i];
    if (padded < span) bad("kernel larger than the padded input");
    if (out[i] != (padded - span) / st[i] + 1)
      fail(ErrorCode::kShapeMismatch, w + ": output size does not match the input, kernel, strides, pads and dilations");
  }
  c.ih = in[0]; c.iw = in[1]; c.oh = out[0]; c.ow = out[1];
  c.kh = k[0]; c.kw = k[1]; c.sh = st[0]; c.sw = st[1];
  c.ph = pb[0]; c.pw = pb[1]; c.pe_h = pe[0]; c.pe_w = pe[1]; c.dh = d[0]; c.dw = d[1];
  if (c.in_c * c.in_plane() > (int64_t{1} << 34) || c.out_c * c.out_plane() > (int64_t{1} << 34) ||
      c.k_g() * c.out_c_g > (int64_t{1} << 32) || c.k_g() * c.out_plane() > (int64_t{1} << 36))
    bad("tensor too large");
  return c;
}

}  // namespace edgeinfer::conv_detail
