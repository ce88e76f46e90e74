// Element-wise ops: unary math, LeakyRelu / Clip / Gelu, Cast, numpy-broadcast binaries (arithmetic,
// comparisons, logic) and Where. Float32 unary maps and Add / Sub / Mul / Div runs (same-shape, or by a
// scalar, per broadcast row) go through the elementwise_f32 kernel table (kernels/elementwise/, one file per
// ISA), split over the thread pool; the other dtypes and strided runs are plain loops here.
//
// Step encodings (plan.h's convention; every tensor's dims are final):
//   Unary (Relu, Sigmoid, Tanh, Sqrt, Log, Exp, Erf, Neg, Abs, Reciprocal, Floor, Ceil, Not, HardSwish, Sin,
//       Cos): ints = [], floats = []
//   LeakyRelu: floats = [alpha];  Clip: floats = [min, max];  HardSigmoid: floats = [alpha, beta];
//   Gelu: ints = [tanh_approximation]
//   Cast: the output tensor's dtype gives the target.
//   Binary with numpy broadcasting (Add, Sub, Mul, Div, Pow, Max, Min, Mod, Equal, Greater, GreaterOrEqual,
//       Less, LessOrEqual, And, Or, Xor): ints = [], or Mod: [fmod], Max / Min: [clip] (1: the second input
//       is a Clip bound, a NaN bound ignored); broadcast from the input and output dims.
//   Where: inputs [cond (bool), x, y], broadcasting.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "edgeinfer/kernels.h"
#include "kernels/elementwise/elementwise_f32_common.h"
#include "runtime/executor.h"
#include "runtime/ops/dtype_dispatch.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::runtime {
namespace {

// ------------------------------------------------------------------ unary
enum class Unary { kRelu, kSigmoid, kTanh, kSqrt, kLog, kExp, kErf, kNeg, kAbs, kReciprocal, kFloor, kCeil, kNot,
                   kLeakyRelu, kClip, kHardSigmoid, kHardSwish, kSin, kCos };

// Maps without an elementwise_f32 kernel: float32 runs the loops below too (Sin / Cos fill rotary-embedding
// tables, a few hundred values per run).
template <Unary U>
constexpr bool has_f32_kernel() {
  return U != Unary::kNot && U != Unary::kSin && U != Unary::kCos;
}

template <Unary U, typename T>
inline T unary_value(T x, float p0, float p1) {
  if constexpr (U == Unary::kNeg) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));
    else return -x;
  } else if constexpr (U == Unary::kAbs) {
    if constexpr (std::is_integral_v<T>) return x < 0 ? static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x)) : x;
    else return std::fabs(x);
  } else if constexpr (U == Unary::kClip) {
    if constexpr (std::is_integral_v<T>) {
      // The float bounds saturate into T's range first; a NaN bound is no bound (as for floats). Only values
      // inside the range are cast: NaN, an infinity or a finite value outside it cast to T is undefined
      // behaviour (found by cpp/fuzz/fuzz_plan: Clip of int32 with a NaN or +inf bound).
      const auto saturate = [](double v, T if_nan) {
        if (std::isnan(v)) return if_nan;
        if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
        if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
        return static_cast<T>(v);
      };
      const T tlo = saturate(p0, std::numeric_limits<T>::lowest());
      const T thi = saturate(p1, std::numeric_limits<T>::max());
      return std::min(std::max(x, tlo), thi);
    } else {
      return std::min(std::max(x, static_cast<T>(p0)), static_cast<T>(p1));
    }
  } else if constexpr (U == Unary::kNot) {
    return x == 0 ? 1 : 0;
  } else if constexpr (U == Unary::kRelu) {
    return x < T(0) ? T(0) : x;  // NaN stays NaN, -inf -> 0 (ONNX Runtime's Relu)
  } else if constexpr (U == Unary::kLeakyRelu) {
    return x >= T(0) ? x : static_cast<T>(x * p0);
  } else if constexpr (U == Unary::kHardSigmoid || U == Unary::kHardSwish) {
    // max(0, min(1, alpha * x + beta)) (HardSwish: alpha 1/6, beta 1/2, times x); NaN stays NaN.
    const T alpha = U == Unary::kHardSwish ? static_cast<T>(1.0f / 6.0f) : static_cast<T>(p0);
    const T beta = U == Unary::kHardSwish ? T(0.5) : static_cast<T>(p1);
    const T v = alpha * x + beta;
    const T h = v > T(1) ? T(1) : v < T(0) ? T(0) : v;
    return U == Unary::kHardSwish ? x * h : h;
  } else if constexpr (U == Unary::kSin) {
    return std::sin(x);
  } else if constexpr (U == Unary::kCos) {
    return std::cos(x);
  } else {  // float64 (float32 runs the elementwise_f32 kernels)
    if constexpr (U == Unary::kSigmoid) return 1.0 / (1.0 + std::exp(-x));
    if constexpr (U == Unary::kTanh) return std::tanh(x);
    if constexpr (U == Unary::kExp) return std::exp(x);
    if constexpr (U == Unary::kErf) return std::erf(x);
    if constexpr (U == Unary::kSqrt) return std::sqrt(x);
    if constexpr (U == Unary::kLog) return std::log(x);
    if constexpr (U == Unary::kReciprocal) return 1.0 / x;
    if constexpr (U == Unary::kFloor) return std::floor(x);
    if constexpr (U == Unary::kCeil) return std::ceil(x);
  }
  return x;
}

template <Unary U, typename T>
void unary_loop(const T* __restrict x, T* y, int64_t n, float p0, float p1) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_value<U, T>(x[i], p0, p1);
}

// ------------------------------------------------------------------ float32 through the kernel table
// Elements per thread chunk: below ~2 chunks the pool's wake-up costs more than it saves.
constexpr int64_t kParallelGrain = 16384;
constexpr int64_t kBlock = 64;  // chunk starts on 64-float (256-byte) boundaries: no shared cache lines

// body(begin, end) over [0, n), split across the pool when it has threads and n is large.
template <typename Body>
void parallel_elements(ThreadPool* pool, int64_t n, const Body& body) {
  if (pool == nullptr || pool->threads() <= 1 || n < 2 * kParallelGrain) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  pool->parallel_for(blocks, kParallelGrain / kBlock, [&](int64_t b0, int64_t b1) {
    body(b0 * kBlock, std::min(n, b1 * kBlock));
  });
}

// The ONNX unary op's elementwise_f32 counterpart (Not has none).
template <Unary U>
constexpr UnaryF32 unary_f32() {
  switch (U) {
    case Unary::kRelu: return UnaryF32::kRelu;
    case Unary::kSigmoid: return UnaryF32::kSigmoid;
    case Unary::kTanh: return UnaryF32::kTanh;
    case Unary::kSqrt: return UnaryF32::kSqrt;
    case Unary::kLog: return UnaryF32::kLog;
    case Unary::kExp: return UnaryF32::kExp;
    case Unary::kErf: return UnaryF32::kErf;
    case Unary::kNeg: return UnaryF32::kNeg;
    case Unary::kAbs: return UnaryF32::kAbs;
    case Unary::kReciprocal: return UnaryF32::kReciprocal;
    case Unary::kFloor: return UnaryF32::kFloor;
    case Unary::kCeil: return UnaryF32::kCeil;
    case Unary::kLeakyRelu: return UnaryF32::kLeakyRelu;
    case Unary::kHardSigmoid: return UnaryF32::kHardSigmoid;
    case Unary::kHardSwish: return UnaryF32::kHardSwish;
    default: return UnaryF32::kClip;
  }
}

// The ISA suffix of a variant name ("f32_velementwise__avx2" -> "avx2").
std::string isa_suffix(const char* name) {
  const std::string n(name);
  const size_t at = n.rfind("__");
  return at == std::string::npos ? n : n.substr(at + 2);
}

template <Unary U>
constexpr bool unary_integral_ok() {
  return U == Unary::kNeg || U == Unary::kAbs || U == Unary::kClip || U == Unary::kRelu;
}

template <Unary U>
void unary_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(U == Unary::kLeakyRelu ? 1 : U == Unary::kClip || U == Unary::kHardSigmoid ? 2 : 0);
  if constexpr (U == Unary::kNot) {
    v.dtype_in(0, {DType::kBool});
  } else if constexpr (unary_integral_ok<U>()) {
    v.dtype_in(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kInt8, DType::kInt16});
  } else {
    v.dtype_in(0, {DType::kFloat32, DType::kFloat64});
  }
  v.same_dtype(v.in(0), "input", v.out(0), "output");
  v.dims_equal(v.out(0).dims, v.in(0).dims, "output");
}

template <Unary U>
std::unique_ptr<OpState> unary_prepare(PrepareContext& ctx, const Step& step) {
  if (has_f32_kernel<U>() && ctx.plan.tensors[step.outputs[0]].dtype == DType::kFloat32)
    ctx.kernel = std::string("f32_v") + elementwise_detail::unary_name(unary_f32<U>()) + "__" +
                 isa_suffix(kernels().elementwise_f32->name);
  return nullptr;
}

template <Unary U>
void unary_run(RunContext& ctx, const Step& step, const OpState*) {
  const int64_t n = ctx.elements(step.outputs[0]);
  // HardSwish is HardSigmoid(1/6, 1/2) times x: the kernel takes those as its parameters.
  const float p0 = U == Unary::kHardSwish ? 1.0f / 6.0f : step.floats.empty() ? 0.0f : step.floats[0];
  const float p1 = U == Unary::kHardSwish ? 0.5f : step.floats.size() < 2 ? 0.0f : step.floats[1];
  const void* x = ctx.ptr[step.inputs[0]];
  void* y = ctx.ptr[step.outputs[0]];
  switch (ctx.slot(step.outputs[0]).dtype) {
    case DType::kFloat32:
      if constexpr (has_f32_kernel<U>()) {
        const auto* xf = static_cast<const float*>(x);
        auto* yf = static_cast<float*>(y);
        const ElementwiseF32Variant* k = kernels().elementwise_f32;
        parallel_elements(ctx.pool, n, [&](int64_t b, int64_t e) { k->unary(unary_f32<U>(), xf + b, yf + b, e - b, p0, p1); });
      } else if constexpr (U != Unary::kNot) {
        unary_loop<U>(static_cast<const float*>(x), static_cast<float*>(y), n, p0, p1);
      }
      return;
    case DType::kFloat64: unary_loop<U>(static_cast<const double*>(x), static_cast<double*>(y), n, p0, p1); return;
    default: break;
  }
  if constexpr (U == Unary::kNot) {
    unary_loop<U>(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), n, p0, p1);
  } else if constexpr (unary_integral_ok<U>()) {
    switch (ctx.slot(step.outputs[0]).dtype) {
      case DType::kInt32: unary_loop<U>(static_cast<const int32_t*>(x), static_cast<int32_t*>(y), n, p0, p1); return;
      case DType::kInt64: unary_loop<U>(static_cast<const int64_t*>(x), static_cast<int64_t*>(y), n, p0, p1); return;
      case DType::kInt8: unary_loop<U>(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), n, p0, p1); return;
      case DType::kInt16: unary_loop<U>(static_cast<const int16_t*>(x), static_cast<int16_t*>(y), n, p0, p1); return;
      default: return;
    }
  }
}

template <Unary U>
OpDef unary_op(const char* name) {
  OpDef def{name, &unary_validate<U>, &unary_prepare<U>, &unary_run<U>};
  def.in_place = true;
  return def;
}

// ------------------------------------------------------------------ Gelu (kernel table)
void gelu_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  v.dims_equal(v.out(0).dims, v.in(0).dims, "output");
}

std::unique_ptr<OpState> gelu_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = kernels().layernorm_gelu->name;
  return nullptr;
}

void gelu_run(RunContext& ctx, const Step& step, const OpState*) {
  GeluArgs args;
  args.x = ctx.t<const float>(step.inputs[0]);
  args.y = ctx.t<float>(step.outputs[0]);
  args.n = ctx.elements(step.outputs[0]);
  args.tanh_approximation = step.ints[0] != 0;
  parallel_elements(ctx.pool, args.n, [&](int64_t b, int64_t e) {
    GeluArgs chunk = args;
    chunk.x = args.x + b;
    chunk.y = args.y + b;
    chunk.n = e - b;
    if (chunk.n > 0) kernels().layernorm_gelu->gelu(chunk);
  });
}

// ------------------------------------------------------------------ Cast
template <DType S, DType D>
inline storage_t<D> cast_value(storage_t<S> v) {
  using DT = storage_t<D>;
  if constexpr (S == DType::kFloat16) {
    return cast_value<DType::kFloat32, D>(half_to_float(v));
  } else if constexpr (D == DType::kFloat16) {
    if constexpr (S == DType::kBool) return float_to_half(v != 0 ? 1.0f : 0.0f);
    else return float_to_half(static_cast<float>(v));
  } else if constexpr (D == DType::kBool) {
    return v != 0 ? 1 : 0;
  } else if constexpr (S == DType::kBool) {
    return static_cast<DT>(v != 0 ? 1 : 0);
  } else if constexpr (std::is_floating_point_v<storage_t<S>> && std::is_integral_v<DT>) {
    // Saturating, NaN -> 0: never undefined behaviour on a crafted value.
    if (!(v == v)) return 0;
    if (static_cast<double>(v) <= static_cast<double>(std::numeric_limits<DT>::lowest())) return std::numeric_limits<DT>::lowest();
    if (static_cast<double>(v) >= static_cast<double>(std::numeric_limits<DT>::max())) return std::numeric_limits<DT>::max();
    return static_cast<DT>(v);
  } else {
    return static_cast<DT>(v);
  }
}

template <DType S, DType D>
void cast_loop(const void* src, void* dst, int64_t n) {
  const auto* s = static_cast<const storage_t<S>*>(src);
  auto* d = static_cast<storage_t<D>*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = cast_value<S, D>(s[i]);
}

void cast_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.dims_equal(v.out(0).dims, v.in(0).dims, "output");
}

void cast_run(RunContext& ctx, const Step& step, const OpState*) {
  const int64_t n = ctx.elements(step.outputs[0]);
  const void* src = ctx.ptr[step.inputs[0]];
  void* dst = ctx.ptr[step.outputs[0]];
  const DType sd = ctx.slot(step.inputs[0]).dtype, dd = ctx.slot(step.outputs[0]).dtype;
  if (sd == dd) {
    if (src != dst) std::memmove(dst, src, static_cast<size_t>(n) * dtype_size(sd));
    return;
  }
  dispatch_any(sd, [&](auto s) {
    dispatch_any(dd, [&](auto d) { cast_loop<decltype(s)::value, decltype(d)::value>(src, dst, n); });
  });
}

// ------------------------------------------------------------------ binary with broadcasting
// kClipLow / kClipHigh: Max / Min steps with ints [1], a Clip whose bound is computed at run time.
enum class Binary { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kEqual, kGreater, kGreaterOrEqual, kLess,
                    kLessOrEqual, kAnd, kOr, kXor, kClipLow, kClipHigh };

constexpr bool is_comparison(Binary b) {
  return b == Binary::kEqual || b == Binary::kGreater || b == Binary::kGreaterOrEqual || b == Binary::kLess ||
         b == Binary::kLessOrEqual;
}
constexpr bool is_logic(Binary b) { return b == Binary::kAnd || b == Binary::kOr || b == Binary::kXor; }

template <typename T>
constexpr bool is_nan(T a) {
  if constexpr (std::is_floating_point_v<T>) return a != a;
  else return false;
}

// Integer + - * wrap around (two's complement, like Pow and Div below): computed in an unsigned type at least
// as wide as int, since signed overflow is undefined behaviour (found by cpp/fuzz/fuzz_plan: int64 Mul).
template <typename T>
inline auto wrapping(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<std::make_unsigned_t<decltype(v + 0)>>(v);
  else return v;
}

template <Binary B, typename T, typename U>
inline auto binary_value(T a, U b, bool fmod_mode) {
  if constexpr (B == Binary::kAdd) return static_cast<T>(wrapping(a) + wrapping(b));
  else if constexpr (B == Binary::kSub) return static_cast<T>(wrapping(a) - wrapping(b));
  else if constexpr (B == Binary::kMul) return static_cast<T>(wrapping(a) * wrapping(b));
  else if constexpr (B == Binary::kDiv) {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return T(0);
      if (b == -1) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(a));
      return static_cast<T>(a / b);
    } else {
      return a / b;
    }
  } else if constexpr (B == Binary::kPow) {
    if constexpr (std::is_integral_v<T>) {
      // Integer power by squaring (wrapping); negative exponents give 0 except for |a| == 1.
      using UT = std::make_unsigned_t<T>;
      int64_t e = static_cast<int64_t>(b);
      // (e % 2, not (-e) % 2: -INT64_MIN overflows; found by cpp/fuzz/fuzz_plan)
      if (e < 0) return static_cast<T>(a == 1 ? 1 : a == -1 ? (e % 2 ? -1 : 1) : 0);
      UT base = static_cast<UT>(a), result = 1;
      while (e > 0) {
        if (e & 1) result = static_cast<UT>(result * base);
        base = static_cast<UT>(base * base);
        e >>= 1;
      }
      return static_cast<T>(result);
    } else {
      return static_cast<T>(std::pow(a, static_cast<T>(b)));
    }
  }
  // ONNX Runtime's Max / Min return NaN when either operand is NaN (measured, both operand orders); its
  // Clip keeps a NaN x and ignores a NaN bound (measured on x86): std::max / std::min with x first. The
  // non-short-circuit | keeps the select branch-free, so the loops still vectorise (compares + a blend).
  else if constexpr (B == Binary::kMax) return ((a > b) | is_nan(a)) ? a : static_cast<T>(b);
  else if constexpr (B == Binary::kMin) return ((a < b) | is_nan(a)) ? a : static_cast<T>(b);
  else if constexpr (B == Binary::kClipLow) return std::max(a, static_cast<T>(b));
  else if constexpr (B == Binary::kClipHigh) return std::min(a, static_cast<T>(b));
  else if constexpr (B == Binary::kMod) {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return T(0);
      if (b == -1) return T(0);
      T r = static_cast<T>(a % b);
      if (!fmod_mode && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else {
      T r = std::fmod(a, static_cast<T>(b));
      if (!fmod_mode && r != 0 && ((r < 0) != (b < 0))) r += static_cast<T>(b);
      return r;
    }
  } else if constexpr (B == Binary::kEqual) return static_cast<uint8_t>(a == b);
  else if constexpr (B == Binary::kGreater) return static_cast<uint8_t>(a > b);
  else if constexpr (B == Binary::kGreaterOrEqual) return static_cast<uint8_t>(a >= b);
  else if constexpr (B == Binary::kLess) return static_cast<uint8_t>(a < b);
  else if constexpr (B == Binary::kLessOrEqual) return static_cast<uint8_t>(a <= b);
  else if constexpr (B == Binary::kAnd) return static_cast<uint8_t>((a != 0) & (b != 0));
  else if constexpr (B == Binary::kOr) return static_cast<uint8_t>((a != 0) | (b != 0));
  else return static_cast<uint8_t>((a != 0) ^ (b != 0));
}

struct BroadcastState : OpState {
  StridedLoop loop;
  bool square = false;  // float32 Pow by a constant 2 (spectrogram power): y = x * x, vectorised
  bool f32_kernel = false;  // float32 Add / Sub / Mul / Div whose rows the elementwise_f32 kernel takes
};

constexpr bool has_f32_kernel(Binary b) {
  return b == Binary::kAdd || b == Binary::kSub || b == Binary::kMul || b == Binary::kDiv;
}

template <Binary B>
constexpr BinaryF32 binary_f32() {
  return B == Binary::kAdd ? BinaryF32::kAdd : B == Binary::kSub ? BinaryF32::kSub
                                           : B == Binary::kMul ? BinaryF32::kMul : BinaryF32::kDiv;
}

// Below this inner run length a kernel call per row costs more than the inline loop.
constexpr int64_t kMinKernelRow = 16;

// The kernel takes a loop whose innermost run has input steps 0 or 1 (same-shape or by a scalar).
bool f32_rows_ok(const StridedLoop& loop) {
  if (loop.rank == 0) return true;
  const int inner = loop.rank - 1;
  const int64_t s1 = loop.strides[1][inner], s2 = loop.strides[2][inner];
  return (s1 == 0 || s1 == 1) && (s2 == 0 || s2 == 1) && (loop.rank == 1 || loop.dims[inner] >= kMinKernelRow);
}

// body(offsets, inner_count, inner_strides) for the rows [r0, r1) of loop (rank >= 1), as for_each_row
// does for all of them: the start row's offsets come from its index, so threads can take row ranges.
template <typename Body>
void for_rows(const StridedLoop& loop, int64_t r0, int64_t r1, const Body& body) {
  const int inner = loop.rank - 1;
  const int64_t inner_strides[kMaxOperands] = {loop.strides[0][inner], loop.strides[1][inner],
                                               loop.strides[2][inner], loop.strides[3][inner]};
  int64_t counter[kMaxRank] = {};
  int64_t off[kMaxOperands] = {0, 0, 0, 0};
  for (int64_t r = r0, d = inner - 1; d >= 0; --d) {
    counter[d] = r % loop.dims[d];
    r /= loop.dims[d];
    for (int o = 0; o < loop.operands; ++o) off[o] += counter[d] * loop.strides[o][d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    body(off, loop.dims[inner], inner_strides);
    for (int d = inner - 1; d >= 0; --d) {
      if (++counter[d] < loop.dims[d]) {
        for (int o = 0; o < loop.operands; ++o) off[o] += loop.strides[o][d];
        break;
      }
      counter[d] = 0;
      for (int o = 0; o < loop.operands; ++o) off[o] -= loop.strides[o][d] * (loop.dims[d] - 1);
    }
  }
}

// Float32 Add / Sub / Mul / Div through the kernel table: one run split by elements, or rows split by rows.
template <Binary B>
void binary_f32_run(RunContext& ctx, const Step& step, const StridedLoop& loop) {
  if (loop.total == 0) return;
  const float* a = ctx.t<const float>(step.inputs[0]);
  const float* b = ctx.t<const float>(step.inputs[1]);
  float* y = ctx.t<float>(step.outputs[0]);
  const ElementwiseF32Variant* k = kernels().elementwise_f32;
  constexpr BinaryF32 op = binary_f32<B>();
  if (loop.rank <= 1) {
    const int64_t s1 = loop.rank == 0 ? 0 : loop.strides[1][0], s2 = loop.rank == 0 ? 0 : loop.strides[2][0];
    parallel_elements(ctx.pool, loop.total, [&](int64_t i0, int64_t i1) {
      k->binary(op, a + i0 * s1, s1, b + i0 * s2, s2, y + i0, i1 - i0);
    });
    return;
  }
  const auto rows_body = [&](int64_t r0, int64_t r1) {
    for_rows(loop, r0, r1, [&](const int64_t* off, int64_t n, const int64_t* s) {
      k->binary(op, a + off[1], s[1], b + off[2], s[2], y + off[0], n);
    });
  };
  const int64_t inner = loop.dims[loop.rank - 1], rows = loop.total / inner;
  if (ctx.pool == nullptr || ctx.pool->threads() <= 1 || loop.total < 2 * kParallelGrain) {
    rows_body(0, rows);
  } else {
    ctx.pool->parallel_for(rows, std::max<int64_t>(1, kParallelGrain / inner), rows_body);
  }
}

template <Binary B, typename T, typename U, typename R>
void binary_loop(const StridedLoop& loop, const T* a, const U* b, R* y, bool fmod_mode) {
  loop.for_each_row([&](const int64_t* off, int64_t n, const int64_t* s) {
    R* yy = y + off[0];
    const T* aa = a + off[1];
    const U* bb = b + off[2];
    if (s[1] == 1 && s[2] == 1) {
      for (int64_t i = 0; i < n; ++i) yy[i] = binary_value<B>(aa[i], bb[i], fmod_mode);
    } else if (s[1] == 1 && s[2] == 0) {
      const U bv = *bb;
      for (int64_t i = 0; i < n; ++i) yy[i] = binary_value<B>(aa[i], bv, fmod_mode);
    } else if (s[1] == 0 && s[2] == 1) {
      const T av = *aa;
      for (int64_t i = 0; i < n; ++i) yy[i] = binary_value<B>(av, bb[i], fmod_mode);
    } else {
      for (int64_t i = 0; i < n; ++i) yy[i] = binary_value<B>(aa[i * s[1]], bb[i * s[2]], fmod_mode);
    }
  });
}

template <Binary B>
void binary_validate(const StepView& v) {
  v.inputs(2, 2);
  v.outputs(1, 1);
  // Mod: optional [fmod]; Max / Min: optional [clip] (1: the second input is a Clip bound, NaN ignored).
  constexpr bool kFlag = B == Binary::kMod || B == Binary::kMax || B == Binary::kMin;
  v.ints(kFlag && v.step().ints.size() == 1 ? 1 : 0);
  if (B != Binary::kMod && v.step().ints.size() == 1 && v.step().ints[0] != 0 && v.step().ints[0] != 1)
    v.fail("clip flag must be 0 or 1");
  v.floats(0);
  const TensorSlot& a = v.in(0);
  const TensorSlot& b = v.in(1);
  const TensorSlot& y = v.out(0);
  if constexpr (is_logic(B)) {
    v.dtype_in(0, {DType::kBool});
    v.dtype_in(1, {DType::kBool});
    v.dtype_out(0, {DType::kBool});
  } else {
    v.dtype_in(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
    if constexpr (B == Binary::kPow) {
      v.dtype_in(1, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
      const bool float_base = a.dtype == DType::kFloat32 || a.dtype == DType::kFloat64;
      if (!float_base) v.same_dtype(a, "base", b, "exponent");
    } else {
      v.same_dtype(a, "input 0", b, "input 1");
    }
    if constexpr (is_comparison(B)) {
      v.dtype_out(0, {DType::kBool});
    } else {
      v.same_dtype(a, "input 0", y, "output");
    }
  }
  std::vector<int64_t> dims;
  if (!broadcast_dims({&a.dims, &b.dims}, dims))
    v.fail("inputs " + dims_string(a.dims) + " and " + dims_string(b.dims) + " do not broadcast");
  v.dims_equal(y.dims, dims, "output");
}

template <Binary B>
std::unique_ptr<OpState> binary_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<BroadcastState>();
  const auto& t = ctx.plan.tensors;
  state->loop = StridedLoop::broadcast(t[step.outputs[0]].dims, {&t[step.inputs[0]].dims, &t[step.inputs[1]].dims});
  if constexpr (has_f32_kernel(B)) {
    state->f32_kernel = t[step.inputs[0]].dtype == DType::kFloat32 && f32_rows_ok(state->loop);
    if (state->f32_kernel)
      ctx.kernel = std::string("f32_v") + elementwise_detail::binary_name(binary_f32<B>()) + "__" +
                   isa_suffix(kernels().elementwise_f32->name);
  }
  if constexpr (B == Binary::kPow) {
    const TensorSlot& base = t[step.inputs[0]];
    const TensorSlot& exponent = t[step.inputs[1]];
    state->square = base.dtype == DType::kFloat32 && exponent.dtype == DType::kFloat32 &&
                    exponent.storage == Storage::kConstant && exponent.elements() == 1 &&
                    base.elements() == t[step.outputs[0]].elements() &&
                    *reinterpret_cast<const float*>(exponent.constant->data()) == 2.0f;
  }
  return state;
}

template <Binary B, typename T>
void binary_run_typed(RunContext& ctx, const Step& step, const StridedLoop& loop, bool fmod_mode) {
  const T* a = ctx.t<const T>(step.inputs[0]);
  using R = std::conditional_t<is_comparison(B) || is_logic(B), uint8_t, T>;
  R* y = ctx.t<R>(step.outputs[0]);
  if constexpr (B == Binary::kPow && std::is_floating_point_v<T>) {
    switch (ctx.slot(step.inputs[1]).dtype) {
      case DType::kFloat32: binary_loop<B>(loop, a, ctx.t<const float>(step.inputs[1]), y, fmod_mode); return;
      case DType::kFloat64: binary_loop<B>(loop, a, ctx.t<const double>(step.inputs[1]), y, fmod_mode); return;
      case DType::kInt32: binary_loop<B>(loop, a, ctx.t<const int32_t>(step.inputs[1]), y, fmod_mode); return;
      case DType::kInt64: binary_loop<B>(loop, a, ctx.t<const int64_t>(step.inputs[1]), y, fmod_mode); return;
      default: return;
    }
  } else {
    binary_loop<B>(loop, a, ctx.t<const T>(step.inputs[1]), y, fmod_mode);
  }
}

template <Binary B>
void binary_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& broadcast = *static_cast<const BroadcastState*>(state);
  if (B == Binary::kPow && broadcast.square) {
    const float* a = ctx.t<const float>(step.inputs[0]);
    float* y = ctx.t<float>(step.outputs[0]);
    const int64_t n = ctx.elements(step.outputs[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] * a[i];
    return;
  }
  const StridedLoop& loop = broadcast.loop;
  if constexpr (has_f32_kernel(B)) {
    if (broadcast.f32_kernel) {
      binary_f32_run<B>(ctx, step, loop);
      return;
    }
  }
  const bool fmod_mode = B == Binary::kMod && !step.ints.empty() && step.ints[0] != 0;
  const DType d = ctx.slot(step.inputs[0]).dtype;
  if constexpr (B == Binary::kMax || B == Binary::kMin) {
    if (!step.ints.empty() && step.ints[0] != 0) {
      constexpr Binary kClip = B == Binary::kMax ? Binary::kClipLow : Binary::kClipHigh;
      switch (d) {
        case DType::kFloat32: binary_run_typed<kClip, float>(ctx, step, loop, false); return;
        case DType::kFloat64: binary_run_typed<kClip, double>(ctx, step, loop, false); return;
        case DType::kInt32: binary_run_typed<kClip, int32_t>(ctx, step, loop, false); return;
        case DType::kInt64: binary_run_typed<kClip, int64_t>(ctx, step, loop, false); return;
        default: return;
      }
    }
  }
  if constexpr (is_logic(B)) {
    binary_run_typed<B, uint8_t>(ctx, step, loop, false);
  } else {
    switch (d) {
      case DType::kFloat32: binary_run_typed<B, float>(ctx, step, loop, fmod_mode); return;
      case DType::kFloat64: binary_run_typed<B, double>(ctx, step, loop, fmod_mode); return;
      case DType::kInt32: binary_run_typed<B, int32_t>(ctx, step, loop, fmod_mode); return;
      case DType::kInt64: binary_run_typed<B, int64_t>(ctx, step, loop, fmod_mode); return;
      default: return;
    }
  }
}

template <Binary B>
OpDef binary_op(const char* name) {
  OpDef def{name, &binary_validate<B>, &binary_prepare<B>, &binary_run<B>};
  def.in_place = !is_comparison(B);
  return def;
}

// ------------------------------------------------------------------ Where
void where_validate(const StepView& v) {
  v.inputs(3, 3);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.dtype_in(0, {DType::kBool});
  v.same_dtype(v.in(1), "x", v.in(2), "y");
  v.same_dtype(v.in(1), "x", v.out(0), "output");
  std::vector<int64_t> dims;
  if (!broadcast_dims({&v.in(0).dims, &v.in(1).dims, &v.in(2).dims}, dims)) v.fail("inputs do not broadcast");
  v.dims_equal(v.out(0).dims, dims, "output");
}

std::unique_ptr<OpState> where_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<BroadcastState>();
  const auto& t = ctx.plan.tensors;
  state->loop = StridedLoop::broadcast(t[step.outputs[0]].dims,
                                       {&t[step.inputs[0]].dims, &t[step.inputs[1]].dims, &t[step.inputs[2]].dims});
  return state;
}

void where_run(RunContext& ctx, const Step& step, const OpState* state) {
  const StridedLoop& loop = static_cast<const BroadcastState*>(state)->loop;
  const uint8_t* c = ctx.t<const uint8_t>(step.inputs[0]);
  dispatch_size(dtype_size(ctx.slot(step.outputs[0]).dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* x = ctx.t<const T>(step.inputs[1]);
    const T* yv = ctx.t<const T>(step.inputs[2]);
    T* out = ctx.t<T>(step.outputs[0]);
    loop.for_each_row([&](const int64_t* off, int64_t n, const int64_t* s) {
      T* o = out + off[0];
      const uint8_t* cc = c + off[1];
      const T* xx = x + off[2];
      const T* yy = yv + off[3];
      if (s[1] == 1 && s[2] == 1 && s[3] == 1) {
        for (int64_t i = 0; i < n; ++i) o[i] = cc[i] ? xx[i] : yy[i];
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = cc[i * s[1]] ? xx[i * s[2]] : yy[i * s[3]];
      }
    });
  });
}

}  // namespace

void register_elementwise_ops(std::vector<OpDef>& ops) {
  ops.push_back(unary_op<Unary::kRelu>("Relu"));
  ops.push_back(unary_op<Unary::kSigmoid>("Sigmoid"));
  ops.push_back(unary_op<Unary::kTanh>("Tanh"));
  ops.push_back(unary_op<Unary::kSqrt>("Sqrt"));
  ops.push_back(unary_op<Unary::kLog>("Log"));
  ops.push_back(unary_op<Unary::kExp>("Exp"));
  ops.push_back(unary_op<Unary::kErf>("Erf"));
  ops.push_back(unary_op<Unary::kNeg>("Neg"));
  ops.push_back(unary_op<Unary::kAbs>("Abs"));
  ops.push_back(unary_op<Unary::kReciprocal>("Reciprocal"));
  ops.push_back(unary_op<Unary::kFloor>("Floor"));
  ops.push_back(unary_op<Unary::kCeil>("Ceil"));
  ops.push_back(unary_op<Unary::kNot>("Not"));
  ops.push_back(unary_op<Unary::kLeakyRelu>("LeakyRelu"));
  ops.push_back(unary_op<Unary::kClip>("Clip"));
  ops.push_back(unary_op<Unary::kHardSigmoid>("HardSigmoid"));
  ops.push_back(unary_op<Unary::kHardSwish>("HardSwish"));
  ops.push_back(unary_op<Unary::kSin>("Sin"));
  ops.push_back(unary_op<Unary::kCos>("Cos"));
  {
    OpDef gelu{"Gelu", &gelu_validate, &gelu_prepare, &gelu_run};
    gelu.in_place = true;
    ops.push_back(gelu);
  }
  ops.push_back(OpDef{"Cast", &cast_validate, nullptr, &cast_run});
  ops.push_back(binary_op<Binary::kAdd>("Add"));
  ops.push_back(binary_op<Binary::kSub>("Sub"));
  ops.push_back(binary_op<Binary::kMul>("Mul"));
  ops.push_back(binary_op<Binary::kDiv>("Div"));
  ops.push_back(binary_op<Binary::kPow>("Pow"));
  ops.push_back(binary_op<Binary::kMax>("Max"));
  ops.push_back(binary_op<Binary::kMin>("Min"));
  ops.push_back(binary_op<Binary::kMod>("Mod"));
  ops.push_back(binary_op<Binary::kEqual>("Equal"));
  ops.push_back(binary_op<Binary::kGreater>("Greater"));
  ops.push_back(binary_op<Binary::kGreaterOrEqual>("GreaterOrEqual"));
  ops.push_back(binary_op<Binary::kLess>("Less"));
  ops.push_back(binary_op<Binary::kLessOrEqual>("LessOrEqual"));
  ops.push_back(binary_op<Binary::kAnd>("And"));
  ops.push_back(binary_op<Binary::kOr>("Or"));
  ops.push_back(binary_op<Binary::kXor>("Xor"));
  {
    OpDef where{"Where", &where_validate, &where_prepare, &where_run};
    where.in_place = true;
    ops.push_back(where);
  }
}

}  // namespace edgeinfer::runtime
