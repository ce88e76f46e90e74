// Shared by the FP32 element-wise variants (all ISAs) and the runtime: op enum -> template dispatch, op names.
// Everything here is static (internal linkage): an inline function compiled into an AVX-512 file could
// otherwise be the copy the linker keeps for the baseline files too.
#pragma once

#include <type_traits>

#include "edgeinfer/kernels.h"

namespace edgeinfer::elementwise_detail {

template <UnaryF32 U>
using UnaryTag = std::integral_constant<UnaryF32, U>;
template <BinaryF32 B>
using BinaryTag = std::integral_constant<BinaryF32, B>;

// f(UnaryTag<op>{}) for a run-time op: one switch per call, the per-element loop is specialised.
template <typename F>
static inline void dispatch_unary(UnaryF32 op, const F& f) {
  switch (op) {
    case UnaryF32::kRelu: f(UnaryTag<UnaryF32::kRelu>{}); return;
    case UnaryF32::kLeakyRelu: f(UnaryTag<UnaryF32::kLeakyRelu>{}); return;
    case UnaryF32::kClip: f(UnaryTag<UnaryF32::kClip>{}); return;
    case UnaryF32::kNeg: f(UnaryTag<UnaryF32::kNeg>{}); return;
    case UnaryF32::kAbs: f(UnaryTag<UnaryF32::kAbs>{}); return;
    case UnaryF32::kFloor: f(UnaryTag<UnaryF32::kFloor>{}); return;
    case UnaryF32::kCeil: f(UnaryTag<UnaryF32::kCeil>{}); return;
    case UnaryF32::kSqrt: f(UnaryTag<UnaryF32::kSqrt>{}); return;
    case UnaryF32::kReciprocal: f(UnaryTag<UnaryF32::kReciprocal>{}); return;
    case UnaryF32::kExp: f(UnaryTag<UnaryF32::kExp>{}); return;
    case UnaryF32::kLog: f(UnaryTag<UnaryF32::kLog>{}); return;
    case UnaryF32::kSigmoid: f(UnaryTag<UnaryF32::kSigmoid>{}); return;
    case UnaryF32::kTanh: f(UnaryTag<UnaryF32::kTanh>{}); return;
    case UnaryF32::kErf: f(UnaryTag<UnaryF32::kErf>{}); return;
  }
}

template <typename F>
static inline void dispatch_binary(BinaryF32 op, const F& f) {
  switch (op) {
    case BinaryF32::kAdd: f(BinaryTag<BinaryF32::kAdd>{}); return;
    case BinaryF32::kSub: f(BinaryTag<BinaryF32::kSub>{}); return;
    case BinaryF32::kMul: f(BinaryTag<BinaryF32::kMul>{}); return;
    case BinaryF32::kDiv: f(BinaryTag<BinaryF32::kDiv>{}); return;
  }
}

// Lower-case op name, for kernel names (f32_vsigmoid__avx512) and test messages.
static inline const char* unary_name(UnaryF32 op) {
  switch (op) {
    case UnaryF32::kRelu: return "relu";
    case UnaryF32::kLeakyRelu: return "leakyrelu";
    case UnaryF32::kClip: return "clip";
    case UnaryF32::kNeg: return "neg";
    case UnaryF32::kAbs: return "abs";
    case UnaryF32::kFloor: return "floor";
    case UnaryF32::kCeil: return "ceil";
    case UnaryF32::kSqrt: return "sqrt";
    case UnaryF32::kReciprocal: return "reciprocal";
    case UnaryF32::kExp: return "exp";
    case UnaryF32::kLog: return "log";
    case UnaryF32::kSigmoid: return "sigmoid";
    case UnaryF32::kTanh: return "tanh";
    case UnaryF32::kErf: return "erf";
  }
  return "?";
}

static inline const char* binary_name(BinaryF32 op) {
  switch (op) {
    case BinaryF32::kAdd: return "add";
    case BinaryF32::kSub: return "sub";
    case BinaryF32::kMul: return "mul";
    case BinaryF32::kDiv: return "div";
  }
  return "?";
}

}  // namespace edgeinfer::elementwise_detail
