// The SIMD matmul driver shared by the ISA files (not a public header), over an ISA's vector traits T:
// V, kLanes, zero(), load(p), set1(x), fma(a, b, acc) = a * b + acc, mul(a, b), add(a, b), store(p, v),
// store_partial(p, v, n) for the first n < kLanes lanes, hsum(v) (the sum of its lanes).
//
// Neither operand is packed as a whole: A rows are read in place (R row pointers, one broadcast per row and
// k), full vectors of a row-major B are read in place, and only B^T panels and a row-major B's last partial
// vector are copied into scratch ([k][width], zero padded). Tiles: R rows (1..MR) x NV vectors (1..NVMAX),
// so narrow n (a head dim of 16, a sequence of 5) does not pay for the widest tile. Up to kDotRows rows of A
// (a decode step) read B^T by dot products instead: packing it would cost as much as the products.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"

namespace edgeinfer::matmul_f32_detail {

// Included by files compiled with different ISA flags: internal linkage only.
namespace {

using TileFn = void (*)(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                        int cols, float alpha);

// c[R rows, cols] = alpha * a[R rows, k] . b[k][NV * L] (b rows ldb apart, at least NV * L readable floats each).
// Few accumulators (R * NV < 8) split k over KU sets so FMA latency does not bound the loop (the M = 1 case).
template <class T, int R, int NV>
void tile(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
          float alpha) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  constexpr int KU = R * NV >= 8 ? 1 : (R * NV >= 4 ? 2 : 4);
  V acc[KU][R][NV];
#pragma GCC unroll 4
  for (int u = 0; u < KU; ++u)
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[u][i][v] = T::zero();
  const float* ar[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) ar[i] = a + i * lda;
  int64_t kk = 0;
  for (; kk + KU <= k; kk += KU) {
#pragma GCC unroll 4
    for (int u = 0; u < KU; ++u) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = T::load(b + v * L);
      b += ldb;
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const V av = T::set1(ar[i][kk + u]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[u][i][v] = T::fma(av, bv[v], acc[u][i][v]);
      }
    }
  }
  for (; kk < k; ++kk) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = T::load(b + v * L);
    b += ldb;
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const V av = T::set1(ar[i][kk]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[0][i][v] = T::fma(av, bv[v], acc[0][i][v]);
    }
  }
#pragma GCC unroll 4
  for (int u = 1; u < KU; ++u)
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[0][i][v] = T::add(acc[0][i][v], acc[u][i][v]);
  const V va = T::set1(alpha);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int left = cols - v * L;
      if (left >= L)
        T::store(ci + v * L, T::mul(va, acc[0][i][v]));
      else if (left > 0)
        T::store_partial(ci + v * L, T::mul(va, acc[0][i][v]), left);
    }
  }
}

template <class T, int MR, int NVMAX>
struct TileTable {
  TileFn fns[MR + 1][NVMAX + 1];
  constexpr TileTable() : fns{} { fill<1, 1>(); }
  template <int R, int NV>
  constexpr void fill() {
    fns[R][NV] = &tile<T, R, NV>;
    if constexpr (NV < NVMAX)
      fill<R, NV + 1>();
    else if constexpr (R < MR)
      fill<R + 1, 1>();
  }
};

// Columns [j0, j0 + cols) of B copied into out[k][width] (width >= cols), zero padded.
inline void pack_panel(const MatMulF32Args& p, int64_t j0, int cols, int width, float* out) {
  const int64_t k = p.k;
  if (p.b_trans) {
    for (int j = 0; j < cols; ++j) {
      const float* src = p.b + (j0 + j) * p.ldb;
      for (int64_t kk = 0; kk < k; ++kk) out[kk * width + j] = src[kk];
    }
    for (int64_t kk = 0; kk < k; ++kk)
      for (int j = cols; j < width; ++j) out[kk * width + j] = 0.0f;
  } else {
    for (int64_t kk = 0; kk < k; ++kk) {
      float* o = out + kk * width;
      std::memcpy(o, p.b + kk * p.ldb + j0, sizeof(float) * static_cast<size_t>(cols));
      for (int j = cols; j < width; ++j) o[j] = 0.0f;
    }
  }
}

// c[row, j] for NJ consecutive columns j of a transposed B: NJ dot products of contiguous rows, the k tail
// in scalar. For few rows of A, where transposing B panels would cost as much as the products themselves.
template <class T, int NJ>
void dot_columns(int64_t k, const float* a, const float* b, int64_t ldb, float* c, float alpha) {
  using V = typename T::V;
  constexpr int L = T::kLanes;
  V acc[NJ];
#pragma GCC unroll 8
  for (int q = 0; q < NJ; ++q) acc[q] = T::zero();
  int64_t kk = 0;
  for (; kk + L <= k; kk += L) {
    const V av = T::load(a + kk);
#pragma GCC unroll 8
    for (int q = 0; q < NJ; ++q) acc[q] = T::fma(av, T::load(b + q * ldb + kk), acc[q]);
  }
#pragma GCC unroll 8
  for (int q = 0; q < NJ; ++q) {
    float total = T::hsum(acc[q]);
    for (int64_t t = kk; t < k; ++t) total += a[t] * b[q * ldb + t];
    c[q] = alpha * total;
  }
}

template <class T>
void run_dot(const MatMulF32Args& p) {
  for (int64_t i = 0; i < p.m; ++i) {
    const float* a = p.a + i * p.lda;
    float* c = p.c + i * p.ldc;
    int64_t j = p.n_begin;
    for (; j + 8 <= p.n_end; j += 8) dot_columns<T, 8>(p.k, a, p.b + j * p.ldb, p.ldb, c + j, p.alpha);
    for (; j + 4 <= p.n_end; j += 4) dot_columns<T, 4>(p.k, a, p.b + j * p.ldb, p.ldb, c + j, p.alpha);
    for (; j < p.n_end; ++j) dot_columns<T, 1>(p.k, a, p.b + j * p.ldb, p.ldb, c + j, p.alpha);
  }
}

// Rows of A up to which a transposed B is read by dot products rather than packed into panels.
constexpr int64_t kDotRows = 16;

// Column panels outer (each B panel is reused by every row block while it is in L1), row blocks inner,
// balanced so that e.g. m = 16 with MR = 12 runs 8 + 8 rows rather than 12 + 4.
template <class T, int MR, int NVMAX>
void run_driver(const MatMulF32Args& p, const TileTable<T, MR, NVMAX>& table) {
  constexpr int L = T::kLanes, NR = NVMAX * L;
  const int64_t m = p.m;
  if (m <= 0 || p.n_end <= p.n_begin) return;
  if (p.b_trans && m <= kDotRows) {
    run_dot<T>(p);
    return;
  }
  const int64_t blocks = (m + MR - 1) / MR;
  for (int64_t j0 = p.n_begin; j0 < p.n_end;) {
    int cols = static_cast<int>(std::min<int64_t>(NR, p.n_end - j0));
    int nv = (cols + L - 1) / L;
    const float* bp;
    int64_t ldb;
    if (!p.b_trans && cols >= L) {
      nv = cols / L;  // whole vectors in place; a partial rest is the next, packed panel
      cols = nv * L;
      bp = p.b + j0;
      ldb = p.ldb;
    } else {
      pack_panel(p, j0, cols, nv * L, p.scratch);
      bp = p.scratch;
      ldb = nv * L;
    }
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t i0 = m * blk / blocks, i1 = m * (blk + 1) / blocks;
      table.fns[i1 - i0][nv](p.k, p.a + i0 * p.lda, p.lda, bp, ldb, p.c + i0 * p.ldc + j0, p.ldc, cols, p.alpha);
    }
    j0 += cols;
  }
}

}  // namespace
}  // namespace edgeinfer::matmul_f32_detail
