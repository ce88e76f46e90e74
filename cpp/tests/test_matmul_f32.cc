// FP32 matmul of two activations (MatMul / Gemm with a non-constant B): every compiled variant the CPU
// supports (matmul_f32_variants()) against the reference variant and a double-precision triple loop, on odd
// m / n / k, both B layouts, padded strides, unaligned views and split column ranges; NaN / inf propagation;
// then the batched driver with broadcast batch offsets, threads (bit-identical to one thread) and no heap
// allocation per call.
//
// Tolerance: |y - exact| <= 1e-5 * sum_k |a||b| * |alpha| + 1e-6 (float accumulation order differs).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/matmul_f32.h"
#include "runtime/thread_pool.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"

using namespace edgeinfer;

namespace {

std::mt19937 rng(4321);
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kSentinel = -777.0f;

std::vector<float> random_vec(size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::string describe(const char* name, int64_t m, int64_t n, int64_t k, bool trans) {
  return std::string(name) + " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
         (trans ? " B^T" : " B");
}

// One problem laid out with padded strides and an odd float offset (unaligned views).
struct Layout {
  int64_t m, n, k;
  bool trans;
  int64_t lda, ldb, ldc, offset;
  std::vector<float> a, b;  // with offset and padding

  Layout(int64_t m_, int64_t n_, int64_t k_, bool trans_, int64_t pad, int64_t offset_)
      : m(m_), n(n_), k(k_), trans(trans_), lda(k_ + pad), ldb((trans_ ? k_ : n_) + pad), ldc(n_ + pad),
        offset(offset_) {
    a = random_vec(static_cast<size_t>(offset + std::max<int64_t>(m * lda, 1)));
    b = random_vec(static_cast<size_t>(offset + std::max<int64_t>((trans ? n : k) * ldb, 1)));
  }
  float a_at(int64_t i, int64_t kk) const { return a[offset + i * lda + kk]; }
  float b_at(int64_t kk, int64_t j) const { return trans ? b[offset + j * ldb + kk] : b[offset + kk * ldb + j]; }
  size_t c_floats() const { return static_cast<size_t>(offset + std::max<int64_t>(m * ldc, 1)); }

  MatMulF32Args args(float* c, float alpha, float* scratch) const {
    MatMulF32Args p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.a = a.data() + offset;
    p.lda = lda;
    p.b = b.data() + offset;
    p.ldb = ldb;
    p.b_trans = trans;
    p.c = c + offset;
    p.ldc = ldc;
    p.alpha = alpha;
    p.n_begin = 0;
    p.n_end = n;
    p.scratch = scratch;
    return p;
  }
};

// The scratch slot a variant needs, plus a tail that must stay untouched.
struct Scratch {
  AlignedBuffer buffer;
  size_t floats;
  Scratch(const MatMulF32Variant* v, int64_t k) : floats(matmul_f32_scratch_floats(v, k)) {
    buffer = AlignedBuffer(sizeof(float) * (floats + 16));
    for (size_t i = 0; i < 16; ++i) buffer.as<float>()[floats + i] = kSentinel;
  }
  bool tail_intact() const {
    for (size_t i = 0; i < 16; ++i)
      if (buffer.as<float>()[floats + i] != kSentinel) return false;
    return true;
  }
};

long g_checked[8] = {};

// c computed by variant v over column ranges split at `cuts`; every written element within tolerance of the
// exact product and (for SIMD variants) of the reference variant; padding and the scratch tail untouched.
void check_variant(size_t vi, const MatMulF32Variant* v, const Layout& l, float alpha, std::vector<int64_t> cuts) {
  const std::string what = describe(v->name, l.m, l.n, l.k, l.trans) + " pad " + std::to_string(l.ldc - l.n) +
                           " offset " + std::to_string(l.offset);
  Scratch scratch(v, l.k), ref_scratch(matmul_f32_variants()[0], l.k);
  std::vector<float> c(l.c_floats(), kSentinel), ref(l.c_floats(), kSentinel);
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(l.n);
  for (size_t s = 0; s + 1 < cuts.size(); ++s) {
    MatMulF32Args p = l.args(c.data(), alpha, scratch.buffer.as<float>());
    p.n_begin = cuts[s];
    p.n_end = cuts[s + 1];
    v->run(p);
  }
  matmul_f32_variants()[0]->run(l.args(ref.data(), alpha, ref_scratch.buffer.as<float>()));
  EI_CHECK_MSG(scratch.tail_intact(), what + ": wrote past its scratch");
  int bad = 0;
  for (int64_t i = 0; i < l.m; ++i)
    for (int64_t j = 0; j < l.ldc; ++j) {
      const size_t at = static_cast<size_t>(l.offset + i * l.ldc + j);
      if (j >= l.n) {
        if (c[at] != kSentinel && bad++ < 3) EI_CHECK_MSG(false, what + ": wrote padding at " + std::to_string(i) + "," + std::to_string(j));
        continue;
      }
      double exact = 0.0, bound = 0.0;
      for (int64_t kk = 0; kk < l.k; ++kk) {
        exact += static_cast<double>(l.a_at(i, kk)) * l.b_at(kk, j);
        bound += std::fabs(static_cast<double>(l.a_at(i, kk)) * l.b_at(kk, j));
      }
      exact *= alpha;
      const double tol = 1e-5 * bound * std::fabs(alpha) + 1e-6;
      const bool ok = std::fabs(c[at] - exact) <= tol && std::fabs(c[at] - ref[at]) <= 2 * tol &&
                      std::fabs(ref[at] - exact) <= tol;
      if (!ok && bad++ < 3)
        EI_CHECK_MSG(false, what + " at " + std::to_string(i) + "," + std::to_string(j) + ": got " +
                                std::to_string(c[at]) + " ref " + std::to_string(ref[at]) + " exact " + std::to_string(exact));
    }
  for (int64_t t = 0; t < l.offset; ++t) EI_CHECK_MSG(c[static_cast<size_t>(t)] == kSentinel, what + ": wrote before C");
  ++g_checked[vi];
}

EI_TEST("matmul_f32 variants vs reference: odd sizes, both layouts, strides, unaligned, split columns") {
  const auto variants = matmul_f32_variants();
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    const MatMulF32Variant* v = variants[vi];
    if (!isa_supported(v->isa)) continue;
    for (bool trans : {false, true})
      for (int64_t m : {1, 2, 3, 5, 7, 12, 13, 16, 25})
        for (int64_t n : {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 47, 64, 65})
          for (int64_t k : {0, 1, 2, 5, 16, 31, 64, 129}) {
            const int64_t pad = (m + n + k) % 3 == 0 ? 0 : 3;
            const int64_t offset = (m + k) % 2;
            check_variant(vi, v, Layout(m, n, k, trans, pad, offset), 1.0f, {});
          }
    // alpha (Gemm), larger shapes (a sequence of 150 / 512 against head dims), ranges split off a panel boundary.
    for (bool trans : {false, true}) {
      check_variant(vi, v, Layout(9, 40, 33, trans, 1, 1), 0.125f, {});
      check_variant(vi, v, Layout(150, 150, 32, trans, 0, 0), 1.0f, {});
      check_variant(vi, v, Layout(33, 64, 512, trans, 0, 1), 1.0f, {});
      check_variant(vi, v, Layout(6, 100, 17, trans, 2, 1), -2.0f, {v->nr, 2 * v->nr + 5, 99});
      check_variant(vi, v, Layout(3, 1000, 128, trans, 0, 0), 1.0f, {});
    }
  }
}

EI_TEST("matmul_f32 variants: NaN / inf propagate to exactly the outputs they touch") {
  const auto variants = matmul_f32_variants();
  for (const MatMulF32Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (bool trans : {false, true})
      for (int64_t m : {1, 5, 13, 20})
        for (int64_t n : {3, 17, 40})
          for (float special : {kNaN, kInf}) {
            const int64_t k = 11, i0 = m / 2, k0 = 4, j1 = n - 1, k1 = 7;
            Layout l(m, n, k, trans, 0, 1);
            l.a[static_cast<size_t>(l.offset + i0 * l.lda + k0)] = special;  // row i0 of C
            l.b[static_cast<size_t>(l.offset + (trans ? j1 * l.ldb + k1 : k1 * l.ldb + j1))] = special;  // column j1
            Scratch scratch(v, k);
            std::vector<float> c(l.c_floats(), kSentinel);
            v->run(l.args(c.data(), 1.0f, scratch.buffer.as<float>()));
            const std::string what = describe(v->name, m, n, k, trans) + (std::isnan(special) ? " NaN" : " inf");
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                const float y = c[static_cast<size_t>(l.offset + i * l.ldc + j)];
                const bool touched = i == i0 || j == j1;
                if (!touched) {
                  EI_CHECK_MSG(std::isfinite(y), what + ": untouched output not finite at " + std::to_string(i) + "," + std::to_string(j));
                } else if (std::isnan(special) || (i == i0 && j == j1)) {
                  // inf * inf at the crossing, or NaN: not finite; a NaN input gives NaN.
                  EI_CHECK_MSG(std::isnan(special) ? std::isnan(y) : !std::isfinite(y), what + ": at " + std::to_string(i) + "," + std::to_string(j));
                } else {
                  EI_CHECK_MSG(!std::isfinite(y), what + ": inf lost at " + std::to_string(i) + "," + std::to_string(j));
                }
              }
          }
  }
}

// The batched driver: heads of one batch broadcast against per-(batch, head) B (as A [2, 1, m, k] x
// B [2, 3, k, n]), threads splitting batch x column panels; results equal the single-thread run bit for bit
// and the per-matrix reference within tolerance; no heap allocation per call.
EI_TEST("batched_matmul_f32: broadcast batches, threads, no allocation") {
  ThreadPool pool(3);
  const MatMulF32Variant* v = kernels().matmul_f32;
  for (bool trans : {false, true})
    for (int64_t m : {1, 7, 24})
      for (int64_t n : {5, 24, 70})
        for (int64_t k : {3, 32, 64}) {
          const int64_t batches = 6;
          const int64_t ldb = trans ? k : n;
          auto a = random_vec(static_cast<size_t>(2 * m * k + 1));
          auto b = random_vec(static_cast<size_t>(batches * k * n + 1));
          std::vector<int64_t> a_offsets, b_offsets;
          for (int64_t bi = 0; bi < batches; ++bi) {
            a_offsets.push_back(1 + (bi / 3) * m * k);  // unaligned, broadcast over the 3 heads
            b_offsets.push_back(1 + bi * k * n);
          }
          BatchedMatMulF32Args args;
          args.batches = batches;
          args.m = m;
          args.n = n;
          args.k = k;
          args.a = a.data();
          args.lda = k;
          args.a_offsets = a_offsets.data();
          args.b = b.data();
          args.ldb = ldb;
          args.b_trans = trans;
          args.b_offsets = b_offsets.data();
          args.ldc = n;
          args.c_batch_stride = m * n;
          args.alpha = 0.5f;
          AlignedBuffer scratch(batched_matmul_f32_scratch_bytes(v, k, pool.threads()));
          std::vector<float> single(static_cast<size_t>(batches * m * n), kSentinel), threaded = single, ref = single;
          args.c = single.data();
          batched_matmul_f32(v, args, scratch.data(), nullptr);
          args.c = threaded.data();
          const long before = edgeinfer::testing::heap_allocations().load();
          batched_matmul_f32(v, args, scratch.data(), &pool);
          EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in batched_matmul_f32");
          const std::string what = describe(v->name, m, n, k, trans) + " batched";
          EI_CHECK_MSG(std::memcmp(single.data(), threaded.data(), sizeof(float) * single.size()) == 0,
                       what + ": threads changed the result");
          Scratch ref_scratch(matmul_f32_variants()[0], k);
          for (int64_t bi = 0; bi < batches; ++bi) {
            MatMulF32Args p;
            p.m = m;
            p.n = n;
            p.k = k;
            p.a = a.data() + a_offsets[bi];
            p.lda = k;
            p.b = b.data() + b_offsets[bi];
            p.ldb = ldb;
            p.b_trans = trans;
            p.c = ref.data() + bi * m * n;
            p.ldc = n;
            p.alpha = 0.5f;
            p.n_end = n;
            p.scratch = ref_scratch.buffer.as<float>();
            matmul_f32_variants()[0]->run(p);
          }
          for (size_t i = 0; i < ref.size(); ++i)
            if (!(std::fabs(single[i] - ref[i]) <= 1e-5f * static_cast<float>(k) + 1e-6f)) {
              EI_CHECK_MSG(false, what + ": differs from the reference at " + std::to_string(i));
              break;
            }
        }
}

EI_TEST("matmul_f32 summary") {
  const auto variants = matmul_f32_variants();
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("  %-28s %s (%ld problems)\n", variants[i]->name,
                isa_supported(variants[i]->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA", g_checked[i]);
  std::printf("  table choice: %s\n", kernels().matmul_f32->name);
}

}  // namespace

EI_TEST_MAIN()
