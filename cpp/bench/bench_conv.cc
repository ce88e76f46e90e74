// FP32 / INT8 Conv and GEMM microbenchmark, single thread: embedding_model-like convolutions (openWakeWord:
// [1, 1, 76, 32] input, 3x3 / 3x1 / 1x3 convs with 24-96 channels, LeakyReLU 0.2) and GEMM sizes (the wake-word
// heads 1536 -> 128 -> 128 -> 1 at batch 1 and 16, and a large square GEMM for the fraction of FMA peak).
// Median time per call; GFLOPS = 2 * MACs / time. The baseline in the same run is our reference variant
// for GEMMs (f32_gemm_4x8__ref), FP32 for INT8 rows and, for depthwise convs, the reference dwconv variant
// (f32_dwconv_1__ref; QDQ INT8 depthwise: qs8_dwconv_1__ref) and, for grouped convs, one GEMM per group;
// `speedup` > 1 means ours is better.
//   bench_conv [--json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_grouped.h"

using namespace edgeinfer;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median_seconds(const std::function<void()>& f) {
  f();
  double t0 = now();
  f();
  const double one = std::max(now() - t0, 1e-7);
  const long calls = std::max<long>(1, static_cast<long>(5e-3 / one));
  std::vector<double> times;
  for (int s = 0; s < 11; ++s) {
    t0 = now();
    for (long c = 0; c < calls; ++c) f();
    times.push_back((now() - t0) / calls);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// 64-byte aligned storage, as the engine's arena gives every tensor: a timing must not depend on where the heap
// happened to put a buffer (a channels-last row of 72 floats straddles cache lines differently at each offset;
// that moved a depthwise case by 20 % between otherwise identical runs).
template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
  bool operator==(const Aligned64&) const { return true; }
  bool operator!=(const Aligned64&) const { return false; }
};
using Floats = std::vector<float, Aligned64<float>>;

Floats rnd(size_t n) {
  static std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Floats v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool g_json = false;
const char* g_only = nullptr;

void report(const char* bench, const std::string& name, double macs, double ours, double base, const char* base_name) {
  const double gflops = 2.0 * macs / ours * 1e-9;
  if (g_json)
    std::printf("{\"bench\":\"%s\",\"case\":\"%s\",\"ours\":%.3f,\"baseline\":\"%s\",\"baseline_us\":%.3f,"
                "\"unit\":\"us\",\"gflops\":%.2f,\"speedup\":%.3f}\n",
                bench, name.c_str(), ours * 1e6, base_name, base * 1e6, gflops, base / ours);
  else
    std::printf("%-8s %-44s %10.2f us %8.2f GFLOPS   %-22s %10.2f us  x%.2f\n", bench, name.c_str(), ours * 1e6,
                gflops, base_name, base * 1e6, base / ours);
}

void conv_case(const char* name, int64_t ci, int64_t co, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t ph,
               int64_t pw, int64_t batch, int64_t group = 1, int64_t stride = 1) {
  if (g_only != nullptr && std::strstr(name, g_only) == nullptr) return;
  ConvShape s;
  s.rank = 2;
  s.batch = batch;
  s.in_channels = ci;
  s.out_channels = co;
  s.in_size[0] = h;
  s.in_size[1] = w;
  s.kernel[0] = kh;
  s.kernel[1] = kw;
  s.pad_begin[0] = s.pad_end[0] = ph;
  s.pad_begin[1] = s.pad_end[1] = pw;
  s.group = group;
  s.stride[0] = s.stride[1] = stride;
  s.out_size[0] = (h + 2 * ph - kh) / stride + 1;
  s.out_size[1] = (w + 2 * pw - kw) / stride + 1;
  auto x = rnd(static_cast<size_t>(batch * ci * h * w));
  auto wt = rnd(static_cast<size_t>(co * (ci / group) * kh * kw));
  auto b = rnd(static_cast<size_t>(co));
  ActivationParams act;
  act.kind = FusedActivation::kLeakyRelu;
  act.alpha = 0.2f;
  Floats y(static_cast<size_t>(batch * co * s.out_size[0] * s.out_size[1]));
  auto f32 = ConvF32::create(s, wt.data(), b.data(), act);
  auto i8 = ConvF32::create_int8(s, wt.data(), b.data(), act);
  AlignedBuffer sf(f32->scratch_bytes() + 64), si(i8->scratch_bytes() + 64);
  const double macs = double(batch) * co * s.out_size[0] * s.out_size[1] * (ci / group) * kh * kw;
  const double tf = median_seconds([&] { f32->run(x.data(), y.data(), sf.data(), nullptr); });
  const double ti = median_seconds([&] { i8->run(x.data(), y.data(), si.data(), nullptr); });
  char label[128];
  std::snprintf(label, sizeof label, "%s n%lld %lldx%lldx%lld->%lld k%lldx%lld g%lld s%lld", name, (long long)batch,
                (long long)ci, (long long)h, (long long)w, (long long)co, (long long)kh, (long long)kw,
                (long long)group, (long long)stride);
  // Channels last (what the graph's NHWC trunks run) against the NCHW kernel (time tf).
  auto channels_last = [&](double tf) {
    ConvShape nhwc = s;
    nhwc.channels_last = true;
    auto last = ConvF32::create(nhwc, wt.data(), b.data(), act);
    AlignedBuffer sl(last->scratch_bytes() + 64);
    const double tl = median_seconds([&] { last->run(x.data(), y.data(), sl.data(), nullptr); });
    report("conv", std::string(label) + " fp32 nhwc " + last->kernel_name(), macs, tl, tf, "the NCHW kernel");
  };
  if (group == ci && group > 1) {  // depthwise: against the reference rows (INT8 runs the same float kernel)
    const DwConvF32Variant* ref = dwconv_f32_variants().front();
    auto base = conv_detail::create_conv_depthwise_f32(conv_detail::normalize(s, "Conv"), wt.data(), b.data(), act, ref);
    AlignedBuffer sb(base->scratch_bytes() + 64);
    const double tb = median_seconds([&] { base->run(x.data(), y.data(), sb.data(), nullptr); });
    report("conv", std::string(label) + " fp32 " + f32->kernel_name(), macs, tf, tb, ref->name);
    channels_last(tf);
    // QDQ INT8 (create_quantized: static activations, per-channel int8 weights) against the reference rows.
    std::vector<int8_t> wq(wt.size());
    for (size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<int8_t>(std::lround(wt[i] * 127.0f));
    std::vector<float> wscale(static_cast<size_t>(co), 1.0f / 127.0f);
    QuantizedWeightsS8 qw;
    qw.data = wq.data();
    qw.scales = wscale.data();
    qw.scale_count = co;
    ActivationQuantization aq;
    aq.dynamic = false;
    aq.scale = 2.0f / 255.0f;
    aq.zero_point = 128;
    auto q8 = ConvF32::create_quantized(s, qw, b.data(), aq, act);
    const DwConvS8Variant* qref = dwconv_s8_variants().front();
    auto qbase = conv_detail::create_conv_depthwise_s8(conv_detail::normalize(s, "Conv"), wq.data(), wscale.data(),
                                                        b.data(), act, aq, qref);
    AlignedBuffer sq(q8->scratch_bytes() + 64), sqb(qbase->scratch_bytes() + 64);
    const double tq = median_seconds([&] { q8->run(x.data(), y.data(), sq.data(), nullptr); });
    const double tqb = median_seconds([&] { qbase->run(x.data(), y.data(), sqb.data(), nullptr); });
    report("conv", std::string(label) + " qdq " + q8->kernel_name(), macs, tq, tqb, qref->name);
    return;
  }
  if (group > 1) {  // grouped: against one GEMM per group (the path before the direct kernel)
    const conv_detail::Conv2d c = conv_detail::normalize(s, "Conv");
    auto base = conv_detail::create_conv_gemm_f32(c, wt.data(), b.data(), act);
    AlignedBuffer sb(base->scratch_bytes() + 64);
    const double tb = median_seconds([&] { base->run(x.data(), y.data(), sb.data(), nullptr); });
    report("conv", std::string(label) + " fp32 " + f32->kernel_name(), macs, tf, tb, "gemm per group");
    report("conv", std::string(label) + " int8 " + i8->kernel_name(), macs, ti, tb, "gemm per group");
    return;
  }
  report("conv", std::string(label) + " fp32 " + f32->kernel_name(), macs, tf, tf, "self");
  report("conv", std::string(label) + " int8 " + i8->kernel_name(), macs, ti, tf, "our fp32");
  channels_last(tf);
}

void gemm_case(int64_t m, int64_t k, int64_t n) {
  if (g_only != nullptr && std::strstr("gemm", g_only) == nullptr) return;
  auto a = rnd(static_cast<size_t>(m * k));
  auto w = rnd(static_cast<size_t>(k * n));
  auto b = rnd(static_cast<size_t>(n));
  Floats y(static_cast<size_t>(m * n));
  ActivationParams act;
  act.kind = FusedActivation::kRelu;
  const double macs = double(m) * n * k;
  char label[96];
  std::snprintf(label, sizeof label, "m%lld k%lld n%lld relu", (long long)m, (long long)k, (long long)n);
  // Baseline: the reference variant driven directly.
  const GemmF32Variant* ref = gemm_f32_variants().front();
  Floats packed(static_cast<size_t>(gemm_f32_packed_b_floats(k, n, ref->nr)));
  gemm_f32_pack_b(w.data(), k, n, true, ref->nr, packed.data());
  Floats pa(static_cast<size_t>(m * k));
  GemmF32Args args;
  args.m = m; args.n = n; args.k = k; args.a = pa.data(); args.b = packed.data(); args.c = y.data(); args.ldc = n;
  args.bias_n = b.data(); args.activation = FusedActivation::kRelu;
  const double tr = macs > 5e8 ? 0 : median_seconds([&] {
    gemm_f32_pack_a(a.data(), k, m, k, false, ref->mr, pa.data());
    ref->run(args);
  });
  auto f32 = GemmF32::create(w.data(), k, n, true, b.data(), 1.0f, 1.0f, act);
  auto i8 = GemmF32::create_int8(w.data(), k, n, true, b.data(), 1.0f, 1.0f, act);
  AlignedBuffer sf(f32->scratch_bytes(m) + 64), si(i8->scratch_bytes(m) + 64);
  const double tf = median_seconds([&] { f32->run(m, a.data(), k, y.data(), n, sf.data(), nullptr); });
  const double ti = median_seconds([&] { i8->run(m, a.data(), k, y.data(), n, si.data(), nullptr); });
  report("gemm", std::string(label) + " fp32 " + f32->kernel_name(), macs, tf, tr > 0 ? tr : tf,
         tr > 0 ? "f32_gemm_4x8__ref" : "self");
  report("gemm", std::string(label) + " int8 " + i8->kernel_name(), macs, ti, tf, "our fp32");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) g_json = true;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) g_only = argv[++i];  // conv cases whose name holds this
  }
  if (!g_json) std::printf("table choice: %s (single thread)\n", kernels().gemm_f32->name);
  for (int64_t batch : {1, 16}) {
    conv_case("emb-conv0", 1, 24, 76, 32, 3, 3, 0, 0, batch);
    conv_case("emb-3x1", 24, 24, 74, 30, 3, 1, 0, 0, batch);
    conv_case("emb-1x3", 24, 48, 36, 14, 1, 3, 0, 0, batch);
    conv_case("emb-3x1", 48, 48, 34, 12, 3, 1, 0, 0, batch);
    conv_case("emb-1x3", 48, 72, 16, 5, 1, 3, 0, 0, batch);
    conv_case("emb-3x1", 72, 96, 14, 3, 3, 1, 0, 0, batch);
    conv_case("emb-3x3p", 64, 64, 17, 13, 3, 3, 1, 1, batch);
  }
  // Depthwise (group == channels): EfficientNet / MnasNet-like 3x3 and 5x5 at strides 1 and 2, the
  // DS-CNN keyword spotter's narrow 25x5 maps; and a RegNet-like grouped conv (group width 8).
  conv_case("dw-3x3", 32, 32, 112, 112, 3, 3, 1, 1, 1, 32, 1);
  conv_case("dw-3x3-s2", 96, 96, 112, 112, 3, 3, 1, 1, 1, 96, 2);
  conv_case("dw-5x5-s2", 144, 144, 56, 56, 5, 5, 2, 2, 1, 144, 2);
  conv_case("dw-5x5", 480, 480, 14, 14, 5, 5, 2, 2, 1, 480, 1);
  conv_case("dw-kws", 64, 64, 25, 5, 3, 3, 1, 1, 1, 64, 1);
  conv_case("dw-mnas-56", 72, 72, 56, 56, 3, 3, 1, 1, 1, 72, 1);  // MnasNet: channel counts that are no multiple of 16
  conv_case("dw-mnas-28", 120, 120, 28, 28, 5, 5, 2, 2, 1, 120, 1);
  conv_case("dw-7x7-wide", 1152, 1152, 7, 7, 3, 3, 1, 1, 1, 1152, 1);  // MnasNet's last stage: many channels, few pixels
  conv_case("dw-7x7-wide-s2", 576, 576, 14, 14, 5, 5, 2, 2, 1, 576, 2);
  conv_case("dw-7x7-wide", 1152, 1152, 7, 7, 5, 5, 2, 2, 1, 1152, 1);
  // The DS-CNN keyword spotter's other convs: a 10x4 stride-2 conv on the one-channel MFCC plane, 1x1 64 -> 64.
  conv_case("kws-conv0", 1, 64, 49, 10, 10, 4, 5, 1, 1, 1, 2);
  conv_case("kws-pw", 64, 64, 25, 5, 1, 1, 0, 0, 1);
  // RGB stems: ResNet's 7x7 stride 2, MobileNet's 3x3 stride 2.
  conv_case("stem-7x7", 3, 64, 224, 224, 7, 7, 3, 3, 1, 1, 2);
  conv_case("stem-3x3", 3, 32, 224, 224, 3, 3, 1, 1, 1, 1, 2);
  // MnasNet / EfficientNet late stages: 1x1 convs with more weights than pixels (up to ~1 MiB of weights).
  conv_case("pw-7x7-expand", 192, 1152, 7, 7, 1, 1, 0, 0, 1);
  conv_case("pw-7x7-project", 1152, 192, 7, 7, 1, 1, 0, 0, 1);
  conv_case("pw-14x14-expand", 96, 576, 14, 14, 1, 1, 0, 0, 1);
  // ... and early stages: few channels, large maps.
  conv_case("pw-112-expand", 16, 48, 112, 112, 1, 1, 0, 0, 1);
  conv_case("pw-112-project", 32, 16, 112, 112, 1, 1, 0, 0, 1);
  conv_case("pw-28-project", 240, 80, 28, 28, 1, 1, 0, 0, 1);
  conv_case("grouped-regnet", 48, 48, 56, 56, 3, 3, 1, 1, 1, 6, 2);
  // RegNet-Y 400MF's other stages (group width 8) and wider groups around the direct kernel's limit.
  conv_case("grouped-regnet", 104, 104, 28, 28, 3, 3, 1, 1, 1, 13, 1);
  conv_case("grouped-regnet", 208, 208, 14, 14, 3, 3, 1, 1, 1, 26, 1);
  conv_case("grouped-regnet", 440, 440, 7, 7, 3, 3, 1, 1, 1, 55, 1);
  conv_case("grouped-w16", 128, 128, 28, 28, 3, 3, 1, 1, 1, 8, 1);
  conv_case("grouped-w32", 128, 128, 28, 28, 3, 3, 1, 1, 1, 4, 1);
  // The 1x1 convs above as plain GEMMs (pixels x in_c by in_c x out_c).
  gemm_case(49, 192, 1152);
  gemm_case(49, 1152, 192);
  gemm_case(196, 96, 576);
  gemm_case(125, 64, 64);
  gemm_case(12544, 16, 48);
  gemm_case(12544, 32, 16);
  gemm_case(784, 240, 80);
  gemm_case(1, 1536, 128);
  gemm_case(1, 128, 128);
  gemm_case(1, 128, 1);
  gemm_case(16, 1536, 128);
  gemm_case(16, 128, 128);
  gemm_case(384, 384, 384);
  gemm_case(1024, 1024, 1024);
  return 0;
}
