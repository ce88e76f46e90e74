// Quantize / dequantize: every compiled, CPU-supported variant against the reference, bit-exact.
// Covers odd sizes and tails, edge values (0, -0, +-inf, NaN, huge beyond int32, denormals, exact .5 ties),
// zero points at the ends of the range, per-tensor and per-channel (inner == 1 and inner > 1), unaligned
// pointers, and a few hand-checked values for the reference itself.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/kernels.h"
#include "tests/check.h"

using namespace edgeinfer;

namespace {

const QuantizeVariant& ref() { return *quantize_variants().front(); }

std::vector<float> make_input(size_t n, float scale, std::mt19937& rng) {
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 1e30f, -1e30f,
                            3e9f, -3e9f, 2.2e9f, -2.2e9f, 1e-45f, -1e-45f, 1e-39f, -1e-39f,
                            std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(), 1e-38f};
  std::uniform_real_distribution<float> uni(-300.0f, 300.0f);
  std::uniform_int_distribution<int> pick(0, 99);
  std::uniform_int_distribution<int> tie(-200, 200);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const int p = pick(rng);
    if (p < 8) x[i] = specials[rng() % std::size(specials)];
    else if (p < 30) x[i] = (static_cast<float>(tie(rng)) + 0.5f) * scale;  // exact ties when scale is 2^k
    else if (p < 40) x[i] = static_cast<float>(tie(rng)) * scale;
    else x[i] = uni(rng) * scale;
  }
  return x;
}

std::string describe(const char* variant, bool s, int64_t outer, int64_t ch, int64_t inner, int off) {
  return std::string(variant) + (s ? " s8" : " u8") + " outer=" + std::to_string(outer) + " ch=" +
         std::to_string(ch) + " inner=" + std::to_string(inner) + " off=" + std::to_string(off);
}

// Runs quantize + dequantize of every variant on one shape and compares with the reference.
void check_shape(int64_t outer, int64_t channels, int64_t inner, bool is_signed, std::mt19937& rng, int offset,
                 bool pow2_scales) {
  const int64_t n = outer * channels * inner;
  std::vector<float> scales(channels);
  std::vector<int32_t> zps(channels);
  const int32_t s_zps[] = {-128, 0, 127}, u_zps[] = {0, 128, 255};
  for (int64_t c = 0; c < channels; ++c) {
    scales[c] = pow2_scales ? std::ldexp(1.0f, static_cast<int>(rng() % 9) - 6)
                            : std::uniform_real_distribution<float>(1e-3f, 2.0f)(rng);
    if (rng() % 3 == 0) zps[c] = is_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    else zps[c] = is_signed ? s_zps[rng() % 3] : u_zps[rng() % 3];
  }
  std::vector<float> xbuf(n + 16);
  const std::vector<float> data = make_input(n, scales[0], rng);
  std::copy(data.begin(), data.end(), xbuf.begin() + offset);
  const float* x = xbuf.data() + offset;

  std::vector<uint8_t> want(n + 16, 0xAB), got(n + 32, 0xAB);
  QuantizeArgs qa;
  qa.x = x;
  qa.y = want.data();
  qa.y_signed = is_signed;
  qa.outer = outer;
  qa.channels = channels;
  qa.inner = inner;
  qa.scales = scales.data();
  qa.zero_points = zps.data();
  ref().quantize(qa);

  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    const std::string what = describe(v->name, is_signed, outer, channels, inner, offset);
    std::fill(got.begin(), got.end(), 0xAB);
    QuantizeArgs a = qa;
    a.y = got.data() + offset;  // unaligned output as well
    v->quantize(a);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 3; ++i)
      if (got[offset + i] != want[i]) {
        ++bad;
        EI_CHECK_MSG(false, what + " quantize i=" + std::to_string(i) + " x=" + std::to_string(x[i]) +
                                " got=" + std::to_string(got[offset + i]) + " want=" + std::to_string(want[i]));
      }
    for (int i = 0; i < offset; ++i) EI_CHECK_MSG(got[i] == 0xAB, what + " wrote before the output");
    for (int64_t i = offset + n; i < static_cast<int64_t>(got.size()); ++i)
      EI_CHECK_MSG(got[i] == 0xAB, what + " wrote past the output");

    // Dequantize the reference's bytes (all 256 values appear in the random sweep for bigger shapes).
    std::vector<uint8_t> qbytes(n + 16);
    for (int64_t i = 0; i < n; ++i) qbytes[offset + i] = static_cast<uint8_t>(rng());
    std::vector<float> want_f(n + 16, -7.0f), got_f(n + 32, -7.0f);
    DequantizeArgs da;
    da.q = qbytes.data() + offset;
    da.q_signed = is_signed;
    da.x = want_f.data();
    da.outer = outer;
    da.channels = channels;
    da.inner = inner;
    da.scales = scales.data();
    da.zero_points = zps.data();
    ref().dequantize(da);
    DequantizeArgs db = da;
    db.x = got_f.data() + offset;
    v->dequantize(db);
    bad = 0;
    for (int64_t i = 0; i < n && bad < 3; ++i)
      if (std::memcmp(&got_f[offset + i], &want_f[i], sizeof(float)) != 0) {
        ++bad;
        EI_CHECK_MSG(false, what + " dequantize i=" + std::to_string(i) + " got=" + std::to_string(got_f[offset + i]) +
                                " want=" + std::to_string(want_f[i]));
      }
    for (int64_t i = offset + n; i < static_cast<int64_t>(got_f.size()); ++i)
      EI_CHECK_MSG(got_f[i] == -7.0f, what + " dequantize wrote past the output");
  }
}

int32_t ref_q1(float x, float scale, int32_t zp, bool is_signed) {
  int8_t s = 0;
  uint8_t u = 0;
  QuantizeArgs a;
  a.x = &x;
  a.y = is_signed ? static_cast<void*>(&s) : static_cast<void*>(&u);
  a.y_signed = is_signed;
  a.inner = 1;
  a.scales = &scale;
  a.zero_points = &zp;
  ref().quantize(a);
  return is_signed ? s : u;
}

}  // namespace

EI_TEST("quantize: variants checked / skipped on this CPU") {
  int checked = 0;
  for (const QuantizeVariant* v : quantize_variants()) {
    const bool ok = isa_supported(v->isa);
    checked += ok;
    std::printf("  %s %s (isa %s)\n", ok ? "checked" : "skipped (CPU lacks it)", v->name, isa_name(v->isa));
  }
  EI_CHECK(checked >= 1);
}

EI_TEST("quantize reference: hand-checked values") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  EI_CHECK(ref_q1(2.5f, 1.0f, 0, true) == 2);
  EI_CHECK(ref_q1(3.5f, 1.0f, 0, true) == 4);
  EI_CHECK(ref_q1(-2.5f, 1.0f, 0, true) == -2);
  EI_CHECK(ref_q1(-3.5f, 1.0f, 0, true) == -4);
  EI_CHECK(ref_q1(0.5f, 1.0f, 0, true) == 0);
  EI_CHECK(ref_q1(1.5f, 1.0f, 0, true) == 2);
  EI_CHECK(ref_q1(5.0f, 2.0f, 10, true) == 12);  // 2.5 -> 2, + 10
  EI_CHECK(ref_q1(-0.0f, 1.0f, 0, true) == 0);
  EI_CHECK(ref_q1(inf, 1.0f, 0, true) == 127);
  EI_CHECK(ref_q1(-inf, 1.0f, 0, true) == -128);
  EI_CHECK(ref_q1(inf, 1.0f, 128, false) == 255);
  EI_CHECK(ref_q1(-inf, 1.0f, 128, false) == 0);
  EI_CHECK(ref_q1(nan, 1.0f, 37, true) == 37);
  EI_CHECK(ref_q1(nan, 1.0f, 200, false) == 200);
  EI_CHECK(ref_q1(3e9f, 1.0f, 0, true) == 127);    // beyond int32: must not wrap
  EI_CHECK(ref_q1(-3e9f, 1.0f, 0, true) == -128);
  EI_CHECK(ref_q1(1e30f, 1e-10f, 0, false) == 255);
  EI_CHECK(ref_q1(100.0f, 1.0f, 100, true) == 127);  // saturation after adding the zero point
  EI_CHECK(ref_q1(-100.0f, 1.0f, -100, true) == -128);
  EI_CHECK(ref_q1(1.0f, 0.0f, 0, true) == 127);      // x / 0 = inf
  EI_CHECK(ref_q1(0.0f, 0.0f, 5, true) == 5);        // 0 / 0 = NaN -> zero point
}

EI_TEST("quantize: invalid zero point throws") {
  float x = 1.0f, s = 1.0f;
  int32_t zp = 200;
  int8_t y = 0;
  QuantizeArgs a;
  a.x = &x;
  a.y = &y;
  a.y_signed = true;
  a.inner = 1;
  a.scales = &s;
  a.zero_points = &zp;
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    EI_CHECK_THROWS(v->quantize(a));
  }
}

EI_TEST("quantize: per-tensor, sizes 1..1000 and beyond, unaligned") {
  std::mt19937 rng(1);
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= 200; ++n) sizes.push_back(n);
  for (int64_t n : {255, 256, 257, 511, 512, 513, 999, 1000, 1023, 4096 + 7, 65536 + 13}) sizes.push_back(n);
  for (int64_t n : sizes)
    for (bool s : {true, false}) check_shape(1, 1, n, s, rng, static_cast<int>(n % 16), n % 2 == 0);
}

EI_TEST("quantize: per-channel along the last axis (inner == 1)") {
  std::mt19937 rng(2);
  for (int64_t channels = 2; channels <= 70; ++channels)
    for (int64_t outer : {1, 3})
      for (bool s : {true, false}) check_shape(outer, channels, 1, s, rng, static_cast<int>(channels % 16), channels % 2);
  for (int64_t channels : {127, 128, 129, 768, 1001})
    for (bool s : {true, false}) check_shape(5, channels, 1, s, rng, 3, false);
}

EI_TEST("quantize: per-channel with inner > 1") {
  std::mt19937 rng(3);
  for (int64_t channels : {1, 2, 3, 5, 16})
    for (int64_t inner : {2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 257})
      for (bool s : {true, false}) check_shape(2, channels, inner, s, rng, static_cast<int>((channels + inner) % 16), inner % 2);
}

EI_TEST("quantize: edge scales (0, denormal, tiny, huge, inf), vector and scalar paths, every variant") {
  const float inf = std::numeric_limits<float>::infinity();
  const float edge_scales[] = {0.0f, 1e-45f, 1e-39f, 1e-30f, 3e-8f, 1e30f, std::numeric_limits<float>::max(), inf};
  std::mt19937 rng(5);
  for (bool s : {true, false})
    for (float scale : edge_scales) {
      const int64_t n = 67;  // 4 x 16 + 3: the 16-, 8-wide and scalar paths
      const std::vector<float> x = make_input(n, 1.0f, rng);
      const int32_t zp = s ? -3 : 131;
      std::vector<uint8_t> want(n), got(n);
      QuantizeArgs a;
      a.x = x.data();
      a.y = want.data();
      a.y_signed = s;
      a.inner = n;
      a.scales = &scale;
      a.zero_points = &zp;
      ref().quantize(a);
      // The same values per channel along the last axis (every lane has its own parameters).
      std::vector<float> scales(n, scale);
      std::vector<int32_t> zps(n, zp);
      QuantizeArgs c = a;
      c.channels = n;
      c.inner = 1;
      c.scales = scales.data();
      c.zero_points = zps.data();
      for (const QuantizeVariant* v : quantize_variants()) {
        if (!isa_supported(v->isa)) continue;
        for (const QuantizeArgs* args : {&a, &c}) {
          QuantizeArgs b = *args;
          b.y = got.data();
          std::fill(got.begin(), got.end(), 0xAB);
          v->quantize(b);
          for (int64_t i = 0; i < n; ++i)
            EI_CHECK_MSG(got[i] == want[i], std::string(v->name) + " scale=" + std::to_string(scale) +
                                                " x=" + std::to_string(x[i]) + (args == &c ? " per-channel" : ""));
        }
      }
    }
}

EI_TEST("dequantize: every byte value, signed and unsigned") {
  std::vector<uint8_t> q(256 * 3);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>(i);
  for (bool s : {true, false})
    for (int32_t zp : s ? std::vector<int32_t>{-128, 0, 127} : std::vector<int32_t>{0, 128, 255}) {
      const float scale = 0.0137f;
      std::vector<float> want(q.size()), got(q.size());
      DequantizeArgs a;
      a.q = q.data();
      a.q_signed = s;
      a.x = want.data();
      a.inner = static_cast<int64_t>(q.size());
      a.scales = &scale;
      a.zero_points = &zp;
      ref().dequantize(a);
      for (size_t i = 0; i < 256; ++i) {
        const int32_t v = s ? static_cast<int8_t>(q[i]) : q[i];
        EI_CHECK(want[i] == (static_cast<float>(v) - static_cast<float>(zp)) * scale);
      }
      for (const QuantizeVariant* v : quantize_variants()) {
        if (!isa_supported(v->isa)) continue;
        a.x = got.data();
        v->dequantize(a);
        EI_CHECK_MSG(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0, v->name);
        a.x = want.data();
      }
    }
}

EI_TEST("quantize -> dequantize round trip stays within half a step") {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(1000), back(1000);
  std::vector<int8_t> q(1000);
  for (auto& v : x) v = uni(rng);
  const float scale = 1.0f / 127.0f;
  const int32_t zp = 0;
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    QuantizeArgs a;
    a.x = x.data();
    a.y = q.data();
    a.inner = 1000;
    a.scales = &scale;
    a.zero_points = &zp;
    v->quantize(a);
    DequantizeArgs d;
    d.q = q.data();
    d.x = back.data();
    d.inner = 1000;
    d.scales = &scale;
    d.zero_points = &zp;
    v->dequantize(d);
    for (size_t i = 0; i < x.size(); ++i) EI_CHECK(std::fabs(back[i] - x[i]) <= 0.5f * scale * 1.0001f);
  }
}

EI_TEST_MAIN()

// ---------------------------------------------------------------- requantize (ORT's QLinearConv output stage)

namespace {

// The formula, written out independently of the variants' shared helper: ORT's float(acc + bias) * multiplier,
// clamp, round half to even, + zero point.
int32_t ort_level(int32_t acc, int32_t bias, float multiplier, int32_t zp) {
  const auto sum = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(bias));
  float v = static_cast<float>(sum) * multiplier;
  v = std::fmin(std::fmax(v, static_cast<float>(-zp)), static_cast<float>(255 - zp));
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

}  // namespace

EI_TEST("requantize reference: hand-checked values") {
  const int32_t acc[] = {5, 7, -5, 1000, -1000, 3};
  const int32_t bias[] = {0, 0, 0, 0, 0, 2};
  float mult = 0.5f;  // 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 (ties to even)
  uint8_t levels[6];
  float y[6];
  for (int c = 0; c < 6; ++c) {
    RequantizeArgs r;
    r.acc_i32 = acc + c;
    r.rows = 1;
    r.channels = 1;
    r.bias = bias + c;
    r.multipliers = &mult;
    r.zero_point = 10;
    r.levels = levels + c;
    r.y = y + c;
    r.y_scale = 0.25f;
    ref().requantize(r);
  }
  EI_CHECK(levels[0] == 12);   // 2.5 -> 2
  EI_CHECK(levels[1] == 14);   // 3.5 -> 4
  EI_CHECK(levels[2] == 8);    // -2.5 -> -2
  EI_CHECK(levels[3] == 255);  // saturated
  EI_CHECK(levels[4] == 0);
  EI_CHECK(levels[5] == 12);   // (3 + 2) * 0.5 = 2.5 -> 2
  EI_CHECK(y[0] == 0.5f && y[3] == 245 * 0.25f && y[4] == -10 * 0.25f);
}

EI_TEST("requantize: every variant bit-exact with ORT's formula (int32 and float sums, tails, in place)") {
  std::mt19937 rng(7);
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (int64_t channels : {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 100}) {
      for (int64_t rows : {1, 2, 5}) {
        for (bool float_sums : {false, true}) {
          const int64_t n = rows * channels;
          std::vector<int32_t> acc(n), bias(channels);
          std::vector<float> mult(channels), acc_f(n);
          const int32_t zp = static_cast<int32_t>(rng() % 256);
          for (int64_t c = 0; c < channels; ++c) {
            bias[c] = float_sums ? 0 : static_cast<int32_t>(rng() % 20001) - 10000;
            mult[c] = std::ldexp(std::uniform_real_distribution<float>(0.5f, 1.0f)(rng), -static_cast<int>(rng() % 12));
          }
          for (int64_t i = 0; i < n; ++i) {
            // Exact ties for power-of-two multipliers, extremes (wrapping bias add), small sums.
            const int pick = static_cast<int>(rng() % 10);
            acc[i] = pick == 0 ? (rng() % 2 ? 2147483600 : -2147483600) : static_cast<int32_t>(rng() % 400001) - 200000;
            if (float_sums) acc[i] = static_cast<int32_t>(rng() % 2000001) - 1000000;  // exact in float
            acc_f[i] = static_cast<float>(acc[i]);
          }
          std::vector<uint8_t> levels(n + 8, 0xCD);
          std::vector<float> y(n + 8, -9.0f);
          RequantizeArgs r;
          if (float_sums) r.acc_f32 = acc_f.data();
          else r.acc_i32 = acc.data();
          r.rows = rows;
          r.channels = channels;
          r.bias = float_sums ? nullptr : bias.data();
          r.multipliers = mult.data();
          r.zero_point = zp;
          r.levels = levels.data();
          r.y = y.data();
          r.y_scale = 0.037f;
          v->requantize(r);
          int bad = 0;
          for (int64_t i = 0; i < n && bad < 3; ++i) {
            const int64_t c = i % channels;
            const int32_t want = ort_level(acc[i], float_sums ? 0 : bias[c], mult[c], zp);
            const float want_y = static_cast<float>(want - zp) * 0.037f;
            if (levels[i] != want || y[i] != want_y) {
              ++bad;
              EI_CHECK_MSG(false, std::string(v->name) + " requantize ch=" + std::to_string(channels) + " i=" +
                                      std::to_string(i) + " got " + std::to_string(levels[i]) + " want " + std::to_string(want));
            }
          }
          for (int64_t i = n; i < n + 8; ++i) EI_CHECK_MSG(levels[i] == 0xCD && y[i] == -9.0f, std::string(v->name) + " wrote past the block");
          // In place: y over the float sums, levels absent.
          if (float_sums) {
            std::vector<float> inplace = acc_f;
            RequantizeArgs ip = r;
            ip.acc_f32 = inplace.data();
            ip.y = inplace.data();
            ip.levels = nullptr;
            v->requantize(ip);
            for (int64_t i = 0; i < n; ++i) EI_CHECK_MSG(inplace[i] == y[i], std::string(v->name) + " in place differs");
          }
        }
      }
    }
  }
}

EI_TEST("requantize: bad arguments throw") {
  int32_t acc = 1, bias = 0;
  float mult = 1.0f, f = 1.0f;
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    RequantizeArgs r;
    r.rows = 1;
    r.channels = 1;
    r.multipliers = &mult;
    EI_CHECK_THROWS(v->requantize(r));  // no sums
    r.acc_i32 = &acc;
    r.acc_f32 = &f;
    EI_CHECK_THROWS(v->requantize(r));  // both
    r.acc_i32 = nullptr;
    r.bias = &bias;
    EI_CHECK_THROWS(v->requantize(r));  // float sums carry their bias
    r.bias = nullptr;
    r.zero_point = 256;
    EI_CHECK_THROWS(v->requantize(r));
  }
}

// ---------------------------------------------------------------- quantized add (ORT's QLinearAdd, x86)

EI_TEST("quantized add: parameters and hand-checked levels") {
  QuantizedAddArgs p;
  p.a_scale = 0.5f;
  p.b_scale = 0.25f;
  p.c_scale = 1.0f;
  p.a_zero_point = 10;
  p.b_zero_point = 4;
  p.c_zero_point = 3;
  quantized_add_parameters(p);
  EI_CHECK(p.ra == 0.5f && p.rb == 0.25f && p.fixed == 3.0f - (5.0f + 1.0f));
  // The contraction: fixed = c_zp - fma(ra, a_zp, round(rb * b_zp)), which a separately rounded product misses.
  QuantizedAddArgs q;
  q.a_scale = 0.1f;
  q.b_scale = 0.3f;
  q.c_scale = 0.7f;
  q.a_zero_point = 77;
  q.b_zero_point = 201;
  q.c_zero_point = 5;
  quantized_add_parameters(q);
  const float ra = 0.1f / 0.7f, rb = 0.3f / 0.7f, tb = rb * 201.0f;
  EI_CHECK(q.fixed == 5.0f - std::fma(ra, 77.0f, tb));
  // a = 1.5 -> level 13; b = 0.75 -> level 7: 13 * 0.5 + (7 * 0.25 + -3) = 5.25 -> 5; y = (5 - 3) * 1 = 2.
  // a = 0.5 -> 11, b = 0.25 -> 5: 5.5 + (1.25 - 3) = 3.75 -> 4; a = 200 -> 410, saturated to 255; NaN -> the
  // zero point.
  const float a[] = {1.5f, 0.5f, 200.0f, std::numeric_limits<float>::quiet_NaN()};
  const float b[] = {0.75f, 0.25f, 0.0f, 0.0f};
  uint8_t levels[4];
  float y[4];
  p.a = a;
  p.b = b;
  p.n = 4;
  p.levels = levels;
  p.y = y;
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    v->add(p);
    EI_CHECK_MSG(levels[0] == 5 && y[0] == 2.0f, v->name);
    EI_CHECK_MSG(levels[1] == 4 && y[1] == 1.0f, v->name);
    EI_CHECK_MSG(levels[2] == 126, v->name);  // a's level saturates at 255: 127.5 + (4 * 0.25 - 3) = 125.5 -> 126 (even)
    EI_CHECK_MSG(levels[3] == static_cast<uint8_t>(std::nearbyint(10 * 0.5f + (4 * 0.25f - 3.0f))), v->name);
  }
}

EI_TEST("quantized add: every variant bit-exact with the reference (sizes, ties, saturation, in place)") {
  std::mt19937 rng(11);
  const QuantizeVariant& r = ref();
  for (int64_t n : {1, 3, 7, 8, 9, 15, 16, 17, 33, 100, 1000, 4099}) {
    for (int trial = 0; trial < 4; ++trial) {
      QuantizedAddArgs p;
      p.a_scale = std::uniform_real_distribution<float>(0.01f, 0.1f)(rng);
      p.b_scale = trial == 1 ? p.a_scale : std::uniform_real_distribution<float>(0.01f, 0.1f)(rng);
      p.c_scale = trial == 2 ? 2.0f * p.a_scale : std::uniform_real_distribution<float>(0.02f, 0.2f)(rng);
      p.a_zero_point = trial == 0 ? 0 : static_cast<int32_t>(rng() % 256);
      p.b_zero_point = static_cast<int32_t>(rng() % 256);
      p.c_zero_point = trial == 3 ? 255 : static_cast<int32_t>(rng() % 256);
      quantized_add_parameters(p);
      // Fake-quantized inputs (levels times the scale), some beyond the range, some NaN.
      std::vector<float> a(n), b(n);
      for (int64_t i = 0; i < n; ++i) {
        a[i] = (static_cast<float>(rng() % 300) - static_cast<float>(p.a_zero_point)) * p.a_scale;
        b[i] = (static_cast<float>(rng() % 300) - static_cast<float>(p.b_zero_point)) * p.b_scale;
        if (i % 97 == 5) a[i] = std::numeric_limits<float>::quiet_NaN();
      }
      std::vector<uint8_t> want_levels(n + 4, 0xAB), got_levels(n + 4, 0xAB);
      std::vector<float> want_y(n + 4, -5.0f), got_y(n + 4, -5.0f);
      p.a = a.data();
      p.b = b.data();
      p.n = n;
      p.levels = want_levels.data();
      p.y = want_y.data();
      r.add(p);
      for (const QuantizeVariant* v : quantize_variants()) {
        if (!isa_supported(v->isa)) continue;
        QuantizedAddArgs q = p;
        q.levels = got_levels.data();
        q.y = got_y.data();
        v->add(q);
        int bad = 0;
        for (int64_t i = 0; i < n + 4 && bad < 3; ++i)
          if (got_levels[i] != want_levels[i] || std::memcmp(&got_y[i], &want_y[i], sizeof(float)) != 0) {
            ++bad;
            EI_CHECK_MSG(false, std::string(v->name) + " quantized add n=" + std::to_string(n) + " i=" + std::to_string(i));
          }
        // In place over a: the same floats.
        std::vector<float> inplace = a;
        QuantizedAddArgs ip = p;
        ip.a = inplace.data();
        ip.y = inplace.data();
        ip.levels = nullptr;
        v->add(ip);
        EI_CHECK_MSG(std::memcmp(inplace.data(), want_y.data(), sizeof(float) * static_cast<size_t>(n)) == 0,
                     std::string(v->name) + " quantized add in place");
      }
    }
  }
}

EI_TEST("quantized add: bad arguments throw") {
  float a = 1.0f;
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    QuantizedAddArgs p;
    p.n = 1;
    p.a = &a;
    EI_CHECK_THROWS(v->add(p));  // b missing
    p.b = &a;
    p.c_zero_point = 300;
    EI_CHECK_THROWS(v->add(p));
  }
}
