// Channels-last (NHWC) float convolution as an indirect GEMM: output pixels are the rows, output channels
// the columns, and each row reads its input pixels in place through a pointer per kernel tap (a zero row for
// taps in the padding), so there is no im2col copy; with channels as the vector dimension the 24-96 channel
// convs of small speech models fill whole vectors where NCHW panels of a few output pixels would not.
// Weights are packed once into column panels [tap][in_channel][width]; the tile family (narrow or wide) is
// the one that pads the output channels least.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "kernels/conv/conv_nhwc.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "kernels/gemm_f32/half_weights.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::conv_detail {

namespace {

constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
// Below this many input channels the rows of a multi-tap kernel are gathered (im2col per panel).
constexpr int64_t kGatherBelowChannels = 4;
constexpr int64_t kGatherBelowRun = 8, kGatherFromK = 16;
// Kernel taps per output pixel (kh * kw) of a channels-last conv: 32x32; larger kernels stay NCHW.
constexpr int64_t kMaxTaps = 1024;

// Gathered rows of a conv with unit dilation along w (`used` output pixels from (oh, ow) into rows of k
// floats): each kernel row is one copy of its columns inside the input and zeros beside them. kRun, the floats
// of a kernel row (kw * in_c) when it is a small constant, makes the copy of an interior row a move or two
// instead of a memcpy call (0: any length).
template <int kRun>
void gather_kernel_rows(const Conv2d& c, const float* xb, int64_t oh, int64_t ow, int used, int64_t k, float* gathered,
                        const float** rows) {
  const int64_t run = kRun > 0 ? kRun : c.kw * c.in_c;
  for (int i = 0; i < used; ++i) {
    float* row = gathered + i * k;
    rows[i] = row;
    const int64_t ih0 = oh * c.sh - c.ph, iw0 = ow * c.sw - c.pw;
    if (++ow == c.ow) ow = 0, ++oh;
    const bool inside = iw0 >= 0 && iw0 + c.kw <= c.iw;
    const int64_t lo = inside ? 0 : std::max<int64_t>(0, -iw0) * c.in_c;
    const int64_t hi = inside ? run : std::max(lo, std::min<int64_t>(c.kw, c.iw - iw0) * c.in_c);
    for (int64_t kh = 0; kh < c.kh; ++kh) {
      const int64_t ih = ih0 + kh * c.dh;
      float* dst = row + kh * run;
      if (ih < 0 || ih >= c.ih) {
        std::fill(dst, dst + run, 0.0f);
      } else if (inside && kRun > 0) {
        std::memcpy(dst, xb + (ih * c.iw + iw0) * c.in_c, sizeof(float) * kRun);
      } else {
        std::fill(dst, dst + lo, 0.0f);
        std::memcpy(dst + lo, xb + (ih * c.iw + iw0) * c.in_c + lo, sizeof(float) * static_cast<size_t>(hi - lo));
        std::fill(dst + hi, dst + run, 0.0f);
      }
    }
  }
}

class ConvNhwcF32 final : public ConvF32 {
 public:
  ConvNhwcF32(const Conv2d& c, const float* w, const float* bias, ActivationParams act, bool half)
      : c_(c), variant_(kernels().gemm_f32), act_(act) {
    require(c.group == 1, kBad, "Conv: channels-last convolutions take group 1");
    require(c.kh * c.kw <= kMaxTaps, kBad, "Conv: channels-last convolutions take at most 1024 kernel taps");
    auto padded = [&](int nr) { return (c.out_c + nr - 1) / nr * nr; };
    family_ = variant_->igemm_narrow;
    for (const IgemmF32Family* f : {&variant_->igemm_wide, &variant_->igemm_widest})
      if (padded(f->nr) < padded(family_.nr) || (padded(f->nr) == padded(family_.nr) && f->nr > family_.nr)) family_ = *f;
    const int nr = family_.nr;
    taps_ = c.kh * c.kw;
    const int64_t k = taps_ * c.in_c, panels = (c.out_c + nr - 1) / nr;
    weights_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(panels * k * nr));
    float* packed = weights_.as<float>();
    std::memset(packed, 0, weights_.size());
    for (int64_t q = 0; q < panels; ++q)
      for (int64_t tap = 0; tap < taps_; ++tap)
        for (int64_t ch = 0; ch < c.in_c; ++ch) {
          float* row = packed + (q * k + tap * c.in_c + ch) * nr;
          for (int j = 0; j < nr && q * nr + j < c.out_c; ++j) row[j] = w[((q * nr + j) * c.in_c + ch) * taps_ + tap];
        }
    if (half) {
      half_ = HalfWeights(packed, static_cast<size_t>(panels * k * nr));
      weights_ = AlignedBuffer();
    }
    bias_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(panels * nr));
    std::memset(bias_.data(), 0, bias_.size());
    if (bias != nullptr) std::memcpy(bias_.data(), bias, sizeof(float) * static_cast<size_t>(c.out_c));
    // With unit dilation along w, the kw taps of one kernel row are kw * C consecutive floats in NHWC:
    // one pointer per kernel row then covers them (a 1x3 conv: one pointer per pixel, 3C channels).
    // Few input channels (the first conv of a spectrogram CNN): a pointer per tap, or per kernel row of fewer
    // than kGatherBelowRun floats, would feed the tile a handful of floats each, so those rows are gathered
    // into a small per-panel im2col block instead. Read in place: an RGB stem's rows of 3 x 7 floats, and
    // kernels too small for a gathered row to pay for its copy (a 3x3 over one channel: 9 floats per pixel).
    const bool mergeable = c.dw == 1 && c.kw > 1;
    const bool short_runs = c.kw * c.in_c < kGatherBelowRun && taps_ * c.in_c >= kGatherFromK;
    gather_ = taps_ > 1 && c.in_c < kGatherBelowChannels && (!mergeable || short_runs);
    merge_kw_ = !gather_ && mergeable;
    segments_ = merge_kw_ ? c.kh : taps_;
    segment_floats_ = (merge_kw_ ? c.kw : 1) * c.in_c;
    zero_row_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(segment_floats_));
    std::memset(zero_row_.data(), 0, zero_row_.size());
    for (int64_t kh = 0; kh < c.kh; ++kh)
      for (int64_t kw = 0; kw < c.kw; ++kw) tap_delta_.push_back((kh * c.dh * c.iw + kw * c.dw) * c.in_c);
    slot_pointers_ = static_cast<size_t>(taps_ * family_.mr);
    // Gathered rows: every row (gather_) or the pixels whose kernel rows cross the left / right padding.
    slot_floats_ = gather_ || merge_kw_ ? align_up(sizeof(float) * static_cast<size_t>(family_.mr * k)) / sizeof(float) : 0;
  }

  size_t scratch_bytes() const override { return slots_bytes() + half_.float_bytes(); }
  size_t weight_bytes() const override {
    return weights_.size() + half_.bytes() + bias_.size();
  }
  const char* kernel_name() const override { return variant_->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t pixels = c.out_plane(), mr = family_.mr;
    const int64_t row_panels = (pixels + mr - 1) / mr;
    const int64_t macs = pixels * taps_ * c.in_c * c.out_c;
    const int64_t slots = (pool != nullptr && pool->threads() > 1 && macs >= gemm_f32_detail::kParallelMacs)
                              ? std::min<int64_t>({pool->threads(), gemm_f32_detail::kMaxSlots, row_panels})
                              : 1;
    const float* weights = half_.empty() ? weights_.as<float>()
                                         : half_.expand(reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + slots_bytes()));
    auto* pointer_slots = static_cast<const float**>(scratch);
    float* gather_slots = reinterpret_cast<float*>(pointer_slots + slot_pointers_ * gemm_f32_detail::kMaxSlots);
    for (int64_t b = 0; b < c.batch; ++b) {
      const float* xb = x + b * c.in_plane() * c.in_c;
      float* yb = y + b * pixels * c.out_c;
      auto chunk = [&](int64_t slot) {
        const int64_t first = row_panels * slot / slots, last = row_panels * (slot + 1) / slots;
        const float** rows = pointer_slots + slot * static_cast<int64_t>(slot_pointers_);
        float* gathered = gather_slots + slot * static_cast<int64_t>(slot_floats_);
        for (int64_t panel = first; panel < last; ++panel) run_panel(xb, yb, weights, panel * mr, rows, gathered);
      };
      if (slots == 1) {
        chunk(0);
      } else {
        pool->parallel_for(slots, 1, [&](int64_t begin, int64_t end) {
          for (int64_t s = begin; s < end; ++s) chunk(s);
        });
      }
    }
  }

 private:
  // Per tap of output pixel p: the input pixel's offset in floats, or -1 in the padding.
  // Per tap of output pixel (oh, ow): the input pixel's offset in floats, or -1 in the padding. Pixels whose
  // window lies inside the input (most of them) take the precomputed tap deltas from one base offset.
  void input_offsets(int64_t oh, int64_t ow, int64_t* offsets) const {
    const Conv2d& c = c_;
    const int64_t ih0 = oh * c.sh - c.ph, iw0 = ow * c.sw - c.pw;
    if (ih0 >= 0 && ih0 + (c.kh - 1) * c.dh < c.ih && iw0 >= 0 && iw0 + (c.kw - 1) * c.dw < c.iw) {
      const int64_t base = (ih0 * c.iw + iw0) * c.in_c;
      for (int64_t tap = 0; tap < taps_; ++tap) offsets[tap] = base + tap_delta_[static_cast<size_t>(tap)];
      return;
    }
    for (int64_t kh = 0; kh < c.kh; ++kh) {
      const int64_t ih = ih0 + kh * c.dh;
      for (int64_t kw = 0; kw < c.kw; ++kw) {
        const int64_t iw = iw0 + kw * c.dw;
        offsets[kh * c.kw + kw] = ih >= 0 && ih < c.ih && iw >= 0 && iw < c.iw ? (ih * c.iw + iw) * c.in_c : -1;
      }
    }
  }

  size_t slots_bytes() const {
    return align_up((sizeof(const float*) * slot_pointers_ + sizeof(float) * slot_floats_) * gemm_f32_detail::kMaxSlots);
  }

  void run_panel(const float* xb, float* yb, const float* weights, int64_t p0, const float** rows, float* gathered) const {
    const Conv2d& c = c_;
    const int64_t mr = family_.mr, nr = family_.nr;
    const int used = static_cast<int>(std::min<int64_t>(mr, c.out_plane() - p0));
    const float* zero = zero_row_.as<float>();
    int64_t offsets[kMaxTaps];
    int64_t oh = p0 / c.ow, ow = p0 % c.ow;  // pixel p0 + i, stepped without a division per pixel
    IgemmF32Tile t;
    if (gather_) {
      const int64_t k = taps_ * c.in_c;
      const int64_t run = c.kw * c.in_c;
      if (c.dw == 1) {
        switch (run) {
          case 2: gather_kernel_rows<2>(c, xb, oh, ow, used, k, gathered, rows); break;
          case 3: gather_kernel_rows<3>(c, xb, oh, ow, used, k, gathered, rows); break;
          case 4: gather_kernel_rows<4>(c, xb, oh, ow, used, k, gathered, rows); break;
          case 6: gather_kernel_rows<6>(c, xb, oh, ow, used, k, gathered, rows); break;
          default: gather_kernel_rows<0>(c, xb, oh, ow, used, k, gathered, rows);
        }
      } else {
        for (int i = 0; i < used; ++i) {  // dilated along w: per tap
          float* row = gathered + i * k;
          input_offsets(oh, ow, offsets);
          if (++ow == c.ow) ow = 0, ++oh;
          if (c.in_c == 1) {  // a spectrogram or image plane: one float per tap
            for (int64_t tap = 0; tap < taps_; ++tap) row[tap] = offsets[tap] < 0 ? 0.0f : xb[offsets[tap]];
          } else {
            for (int64_t tap = 0; tap < taps_; ++tap) {
              float* dst = row + tap * c.in_c;
              if (offsets[tap] < 0)
                std::memset(dst, 0, sizeof(float) * static_cast<size_t>(c.in_c));
              else
                std::memcpy(dst, xb + offsets[tap], sizeof(float) * static_cast<size_t>(c.in_c));
            }
          }
          rows[i] = row;
        }
      }
      t.taps = 1;
      t.channels = k;
    } else if (merge_kw_) {
      const int64_t k = taps_ * c.in_c, run = segment_floats_;
      for (int i = 0; i < used; ++i) {
        const int64_t ih0 = oh * c.sh - c.ph, iw0 = ow * c.sw - c.pw;
        if (iw0 >= 0 && iw0 + c.kw <= c.iw) {
          for (int64_t kh = 0; kh < c.kh; ++kh) {
            const int64_t ih = ih0 + kh * c.dh;
            rows[kh * mr + i] = ih >= 0 && ih < c.ih ? xb + (ih * c.iw + iw0) * c.in_c : zero;
          }
        } else {  // the kernel rows cross the left or right padding: gather them with zeros there
          float* row = gathered + i * k;
          for (int64_t kh = 0; kh < c.kh; ++kh) {
            const int64_t ih = ih0 + kh * c.dh;
            for (int64_t kw = 0; kw < c.kw; ++kw) {
              const int64_t iw = iw0 + kw;
              float* dst = row + (kh * c.kw + kw) * c.in_c;
              if (ih >= 0 && ih < c.ih && iw >= 0 && iw < c.iw)
                std::memcpy(dst, xb + (ih * c.iw + iw) * c.in_c, sizeof(float) * static_cast<size_t>(c.in_c));
              else
                std::memset(dst, 0, sizeof(float) * static_cast<size_t>(c.in_c));
            }
            rows[kh * mr + i] = row + kh * run;
          }
        }
        if (++ow == c.ow) ow = 0, ++oh;
      }
      t.taps = segments_;
      t.channels = run;
    } else {
      for (int i = 0; i < used; ++i) {
        input_offsets(oh, ow, offsets);
        if (++ow == c.ow) ow = 0, ++oh;
        for (int64_t tap = 0; tap < taps_; ++tap) rows[tap * mr + i] = offsets[tap] < 0 ? zero : xb + offsets[tap];
      }
      t.taps = taps_;
      t.channels = c.in_c;
    }
    t.rows = rows;
    t.row_stride = mr;
    t.ldc = c.out_c;
    t.rows_used = used;
    t.act = act_.kind;
    t.act_alpha = act_.alpha;
    t.act_beta = act_.beta;
    t.out_min = act_.out_min;
    const int64_t k = taps_ * c.in_c;
    for (int64_t j0 = 0; j0 < c.out_c; j0 += nr) {
      t.b = weights + (j0 / nr) * k * nr;
      t.bias = bias_.as<float>() + j0;
      t.c = yb + p0 * c.out_c + j0;
      t.cols = static_cast<int>(std::min<int64_t>(nr, c.out_c - j0));
      family_.tile(t);
    }
  }

  Conv2d c_;
  const GemmF32Variant* variant_;
  ActivationParams act_;
  IgemmF32Family family_{};
  int64_t taps_ = 1;
  AlignedBuffer weights_, bias_, zero_row_;
  HalfWeights half_;
  std::vector<int64_t> tap_delta_;  // input offset of each tap relative to the window's first pixel
  size_t slot_pointers_ = 0;
  bool gather_ = false;
  bool merge_kw_ = false;
  int64_t segments_ = 1, segment_floats_ = 1;  // pointers per pixel and floats each
  size_t slot_floats_ = 0;
};

}  // namespace

std::unique_ptr<ConvF32> create_conv_nhwc_f32(const Conv2d& c, const float* w, const float* bias, ActivationParams act,
                                              bool half) {
  return std::make_unique<ConvNhwcF32>(c, w, bias, act, half);
}

}  // namespace edgeinfer::conv_detail
