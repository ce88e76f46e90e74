// Internal helpers shared by the FP32 GEMM variants (not a public header): the scalar activations (the
// definition the SIMD epilogues follow), the im2col panel gatherer and the blocked driver that walks the
// column panels of B and the row panels of A and calls a variant's register tile.
//
// Driver: for each nr-column panel in [n_begin, n_end): get the panel as [k][nr] floats (packed weights in
// place; a full row-major panel in place with its row stride; otherwise gathered into scratch, zero padded),
// then for each mr-row panel of A run tile<rows>(k, a_panel, b_panel, ldb, c, ldc, cols, epilogue).
// Tiles compute full panels (B padding is zero) and store only `cols` columns.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgeinfer/half.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::gemm_f32_detail {

// Included by files compiled with different ISA flags: internal linkage only.
namespace {

struct Epilogue {
  float alpha;
  const float* bias_n;  // already offset to the tile's first column, or null
  const float* bias_m;  // already offset to the tile's first row, or null
  FusedActivation act;
  float act_alpha, act_beta;
};

inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// Non-finite values as ONNX Runtime 1.30 (CPU) treats them, measured on single-op models: Relu(NaN) = NaN,
// Relu(-inf) = 0; LeakyRelu(NaN) = NaN, LeakyRelu(-inf) = -inf; Clip(NaN) = NaN, Clip(+-inf) = the bound;
// Sigmoid(+-inf) = 1 / 0; Tanh(+-inf) = +-1; Gelu(-inf) = NaN (x * 0.5 * (1 + erf(x / sqrt 2)) = -inf * 0),
// Gelu(+inf) = +inf. NaN in x always propagates: x < 0 ? 0 : x is max(0, x) with the x86 operand order
// (maxps returns its second operand when either is NaN), so the SIMD variants use max(zero, x) and
// min(hi, max(lo, x)). Clip bounds are never NaN here (the ops map a NaN bound to "no bound", as ORT does).
inline float activate_scalar(float x, FusedActivation act, float a, float b) {
  switch (act) {
    case FusedActivation::kNone: return x;
    case FusedActivation::kRelu: return x < 0.0f ? 0.0f : x;
    case FusedActivation::kLeakyRelu: return x >= 0.0f ? x : x * a;
    case FusedActivation::kSigmoid: return sigmoid_scalar(x);
    case FusedActivation::kClip: return std::min(std::max(x, a), b);
    case FusedActivation::kTanh: return std::tanh(x);
    case FusedActivation::kHardSigmoid: return std::min(std::max(a * x + b, 0.0f), 1.0f);
    case FusedActivation::kHardSwish: return x * std::min(std::max(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
    case FusedActivation::kSilu: return x * sigmoid_scalar(x);
    case FusedActivation::kGeluErf: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case FusedActivation::kGeluTanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + std::tanh(inner));
    }
  }
  return x;
}

// Min and max of n floats, both NaN when any element is NaN (a dynamic quantization range must see it).
inline void minmax_scalar(const float* x, int64_t n, float* mn, float* mx) {
  float lo = INFINITY, hi = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    nan |= v != v;
  }
  *mn = nan ? NAN : lo;
  *mx = nan ? NAN : hi;
}

inline void activate_scalar_n(float* y, int64_t n, FusedActivation act, float a, float b) {
  if (act == FusedActivation::kNone) return;
  for (int64_t i = 0; i < n; ++i) y[i] = activate_scalar(y[i], act, a, b);
}

// Gathers columns [j0, j0 + cols) of the im2col matrix of `p` into out[k][nr] (zero padded to nr).
// k rows are ordered (channel, kernel_h, kernel_w). Columns are split into segments of one output row each,
// so that stride-1 rows are plain copies with zero-filled borders.
inline void im2col_panel(const Im2colParams& p, int64_t j0, int cols, int nr, float* out) {
  struct Segment {
    int64_t oh, ow, count, dst;
  };
  Segment segs[64];  // nr <= 64 columns: at most nr segments
  int nseg = 0;
  {
    int64_t j = j0, dst = 0, left = cols;
    while (left > 0) {
      const int64_t oh = j / p.out_w, ow = j % p.out_w;
      const int64_t count = std::min<int64_t>(left, p.out_w - ow);
      segs[nseg++] = {oh, ow, count, dst};
      j += count;
      dst += count;
      left -= count;
    }
  }
  const int64_t plane = p.in_h * p.in_w;
  const int64_t kernel = p.kernel_h * p.kernel_w;
  const int64_t k = p.channels * kernel;
  for (int64_t kk = 0; kk < k; ++kk) {
    const int64_t c = kk / kernel, r = kk % kernel;
    const int64_t kh = r / p.kernel_w, kw = r % p.kernel_w;
    const float* xc = p.x + c * plane;
    float* o = out + kk * nr;
    if (cols < nr) std::memset(o + cols, 0, sizeof(float) * static_cast<size_t>(nr - cols));
    for (int s = 0; s < nseg; ++s) {
      const Segment& sg = segs[s];
      float* d = o + sg.dst;
      const int64_t ih = sg.oh * p.stride_h - p.pad_h + kh * p.dilation_h;
      if (ih < 0 || ih >= p.in_h) {
        std::memset(d, 0, sizeof(float) * static_cast<size_t>(sg.count));
        continue;
      }
      const float* row = xc + ih * p.in_w;
      const int64_t iw0 = sg.ow * p.stride_w - p.pad_w + kw * p.dilation_w;
      if (p.stride_w == 1) {
        // t in [t_lo, t_hi) is inside the row.
        const int64_t t_lo = std::clamp<int64_t>(-iw0, 0, sg.count);
        const int64_t t_hi = std::clamp<int64_t>(p.in_w - iw0, t_lo, sg.count);
        for (int64_t t = 0; t < t_lo; ++t) d[t] = 0.0f;
        if (t_hi > t_lo) std::memcpy(d + t_lo, row + iw0 + t_lo, sizeof(float) * static_cast<size_t>(t_hi - t_lo));
        for (int64_t t = t_hi; t < sg.count; ++t) d[t] = 0.0f;
      } else {
        for (int64_t t = 0; t < sg.count; ++t) {
          const int64_t iw = iw0 + t * p.stride_w;
          d[t] = (iw >= 0 && iw < p.in_w) ? row[iw] : 0.0f;
        }
      }
    }
  }
}

// Row-major panel tail (or any row-major panel) copied into out[k][nr], zero padded.
inline void copy_panel(const float* b, int64_t ldb, int64_t k, int cols, int nr, float* out) {
  for (int64_t kk = 0; kk < k; ++kk) {
    float* o = out + kk * nr;
    std::memcpy(o, b + kk * ldb, sizeof(float) * static_cast<size_t>(cols));
    for (int j = cols; j < nr; ++j) o[j] = 0.0f;
  }
}

// A tile kernel: rows of A fixed by the instantiation.
using TileFn = void (*)(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
                        const Epilogue& e);

// Tiles: TileFn table indexed by rows (1..MR); tiles[0] unused.
template <int MR, int NR>
void run_driver(const GemmF32Args& args, const TileFn* tiles) {
  const int64_t m = args.m, n = args.n, k = args.k;
  const int64_t n_end = args.n_end == 0 ? n : args.n_end;
  if (m <= 0 || n_end <= args.n_begin) return;
  Epilogue e{args.alpha, nullptr, nullptr, args.activation, args.act_alpha, args.act_beta};
  for (int64_t j0 = args.n_begin; j0 < n_end; j0 += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, n - j0));
    const float* bp;
    int64_t ldb = NR;
    switch (args.b_mode) {
      case GemmF32BMode::kPacked: bp = args.b + (j0 / NR) * k * NR; break;
      case GemmF32BMode::kRowMajor:
        if (cols == NR) {
          bp = args.b + j0;
          ldb = args.ldb;
        } else {
          copy_panel(args.b + j0, args.ldb, k, cols, NR, args.scratch);
          bp = args.scratch;
        }
        break;
      default:
        im2col_panel(*args.im2col, j0, cols, NR, args.scratch);
        bp = args.scratch;
        break;
    }
    e.bias_n = args.bias_n != nullptr ? args.bias_n + j0 : nullptr;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
      const int rows = static_cast<int>(std::min<int64_t>(MR, m - i0));
      e.bias_m = args.bias_m != nullptr ? args.bias_m + i0 : nullptr;
      tiles[rows](k, args.a + i0 * k, bp, ldb, args.c + i0 * args.ldc + j0, args.ldc, cols, e);
    }
  }
}

// Table of tile<R> for R = 1..MR from a template `Tile<R>::run`.
template <template <int> class Tile, int MR>
struct TileTable {
  TileFn fns[MR + 1];
  constexpr TileTable() : fns{} { fill<1>(); }
  template <int R>
  constexpr void fill() {
    fns[R] = &Tile<R>::run;
    if constexpr (R < MR) fill<R + 1>();
  }
};

// The channels-last conv tile (IgemmF32Tile) over an ISA's vector traits T: V, kLanes, zero(), load(p),
// set1(x), fma(a, b, acc) = a * b + acc, max(a, b), activate(v, act, alpha, beta), store(p, v) and
// store_partial(p, v, n) / load_partial(p, n) for the first n < kLanes lanes.
// R rows x NV vectors of accumulators; B rows are NV vectors; A values are broadcast from each row pointer.
template <class T, int R, int NV>
void igemm_tile(const IgemmF32Tile& t) {
  using V = typename T::V;
  constexpr int L = T::kLanes, NR = NV * L;
  V acc[R][NV];
#pragma GCC unroll 64
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = T::zero();
  const float* b = t.b;
  for (int64_t s = 0; s < t.taps; ++s) {
    const float* a[R];
#pragma GCC unroll 64
    for (int i = 0; i < R; ++i) a[i] = t.rows[s * t.row_stride + i];
    for (int64_t ch = 0; ch < t.channels; ++ch) {
      V bv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) bv[v] = T::load(b + v * L);
      b += NR;
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        const V av = T::set1(a[i][ch]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[i][v] = T::fma(av, bv[v], acc[i][v]);
      }
    }
  }
  V bias[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) bias[v] = t.bias != nullptr ? T::load(t.bias + v * L) : T::zero();
  const bool clamp = t.out_min > -INFINITY;
  const V lower = T::set1(t.out_min);
#pragma GCC unroll 64
  for (int i = 0; i < R; ++i) {
    float* out = t.c + i * t.ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int left = t.cols - v * L;
      if (left <= 0) break;
      V y = T::activate(T::add(acc[i][v], bias[v]), t.act, t.act_alpha, t.act_beta);
      if (clamp) y = T::max(y, lower);
      if (left >= L)
        T::store(out + v * L, y);
      else
        T::store_partial(out + v * L, y, left);
    }
  }
}

// GemmF32Variant::rows_epilogue over an ISA's traits (load_partial(p, n) reads the first n lanes, zeros after).
template <class T>
void rows_epilogue(float* y, int64_t rows, int64_t cols, const float* bias, FusedActivation act, float a, float b,
                   float out_min) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  const bool clamp = out_min > -INFINITY;
  const V lower = T::set1(out_min);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * cols;
    for (int64_t j = 0; j < cols; j += L) {
      const int n = static_cast<int>(std::min<int64_t>(L, cols - j));
      V v = n == L ? T::load(row + j) : T::load_partial(row + j, n);
      if (bias != nullptr) v = T::add(v, n == L ? T::load(bias + j) : T::load_partial(bias + j, n));
      v = T::activate(v, act, a, b);
      if (clamp) v = T::max(v, lower);
      if (n == L)
        T::store(row + j, v);
      else
        T::store_partial(row + j, v, n);
    }
  }
}

// GemmF32Variant::activate over an ISA's traits: one row of n, no bias, no clamp.
template <class T>
void activate_n(float* y, int64_t n, FusedActivation act, float a, float b) {
  if (act != FusedActivation::kNone) rows_epilogue<T>(y, 1, n, nullptr, act, a, b, -INFINITY);
}

// GemmF32Variant::column_sums over an ISA's traits.
template <class T>
void column_sums(const float* x, int64_t rows, int64_t cols, float* sums) {
  constexpr int L = T::kLanes;
  for (int64_t j = 0; j < cols; j += L) {
    const int n = static_cast<int>(std::min<int64_t>(L, cols - j));
    auto acc = n == L ? T::load(sums + j) : T::load_partial(sums + j, n);
    for (int64_t r = 0; r < rows; ++r) acc = T::add(acc, n == L ? T::load(x + r * cols + j) : T::load_partial(x + r * cols + j, n));
    if (n == L)
      T::store(sums + j, acc);
    else
      T::store_partial(sums + j, acc, n);
  }
}

inline void half_to_float_scalar(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

// tile(args) dispatching rows_used to the igemm_tile<T, R, NV> instantiation.
template <class T, int MR, int NV>
struct IgemmTiles {
  template <int R>
  static void call(const IgemmF32Tile& t) {
    if constexpr (R > MR) {
      (void)t;
    } else if (t.rows_used == R) {
      igemm_tile<T, R, NV>(t);
    } else {
      call<R + 1>(t);
    }
  }
  static void tile(const IgemmF32Tile& t) { call<1>(t); }
  static constexpr IgemmF32Family family() { return {MR, NV * T::kLanes, &tile}; }
};

// Scalar "vector" of 4 floats for the portable variant.
struct ScalarVec4 {
  struct V {
    float x[4];
  };
  static constexpr int kLanes = 4;
  static V zero() { return V{{0.0f, 0.0f, 0.0f, 0.0f}}; }
  static V load(const float* p) { return V{{p[0], p[1], p[2], p[3]}}; }
  static V set1(float a) { return V{{a, a, a, a}}; }
  static V fma(V a, V b, V c) {
    for (int l = 0; l < 4; ++l) c.x[l] += a.x[l] * b.x[l];
    return c;
  }
  static V add(V a, V b) {
    for (int l = 0; l < 4; ++l) a.x[l] += b.x[l];
    return a;
  }
  static V max(V a, V b) {
    for (int l = 0; l < 4; ++l) a.x[l] = (a.x[l] > b.x[l] || a.x[l] != a.x[l]) ? a.x[l] : b.x[l];
    return a;
  }
  static V activate(V a, FusedActivation act, float alpha, float beta) {
    for (int l = 0; l < 4; ++l) a.x[l] = activate_scalar(a.x[l], act, alpha, beta);
    return a;
  }
  static void store(float* p, V a) {
    for (int l = 0; l < 4; ++l) p[l] = a.x[l];
  }
  static void store_partial(float* p, V a, int n) {
    for (int l = 0; l < n; ++l) p[l] = a.x[l];
  }
  static V load_partial(const float* p, int n) {
    V a = zero();
    for (int l = 0; l < n; ++l) a.x[l] = p[l];
    return a;
  }
};

}  // namespace
}  // namespace edgeinfer::gemm_f32_detail
