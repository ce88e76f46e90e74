// Writes the seed corpus of the fuzz harnesses: make_fuzz_corpus <dir> fills <dir>/fuzz_plan/,
// <dir>/fuzz_packed_weights/ and <dir>/fuzz_tensor_desc/ (committed as cpp/fuzz/corpus/; regenerate with
// `node scripts/fuzz.js --make-corpus`). Plan seeds are small versions of the plans cpp/tests/test_runtime.cc
// builds, one or a few op families each; each one is checked to validate, create and run before it is written,
// so the corpus starts from inputs that reach the kernels.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/runtime.h"
#include "fuzz/plan_codec.h"
#include "tests/plan_builder.h"

namespace {

using namespace edgeinfer;
using edgeinfer::testing::PlanBuilder;
namespace fs = std::filesystem;

constexpr DType F32 = DType::kFloat32, I64 = DType::kInt64, I32 = DType::kInt32, BOOL = DType::kBool,
                U8 = DType::kUint8, I8 = DType::kInt8, F16 = DType::kFloat16;

int failures = 0;

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<float> ramp(size_t n, float start = -2.0f, float step = 0.37f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i % 23);
  return v;
}

// Deterministic input bytes for every bound input of the plan, in binding order.
std::vector<uint8_t> input_bytes(const Plan& plan) {
  std::vector<uint8_t> out;
  for (int32_t slot : plan.inputs) {
    const TensorSlot& t = plan.tensors[static_cast<size_t>(slot)];
    const int64_t n = t.elements();
    for (int64_t i = 0; i < n; ++i) {
      switch (t.dtype) {
        case F32: {
          const float v = -2.0f + 0.37f * static_cast<float>(i % 23);
          out.insert(out.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + 4);
          break;
        }
        case I64: {
          const int64_t v = i % 3 - 1;
          out.insert(out.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + 8);
          break;
        }
        case I32: {
          const int32_t v = static_cast<int32_t>(i % 7) - 3;
          out.insert(out.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + 4);
          break;
        }
        default:
          for (size_t b = 0; b < dtype_size(t.dtype); ++b) out.push_back(static_cast<uint8_t>((i + b) % 2));
      }
    }
  }
  return out;
}

// expect_error: a regression seed whose plan Model::create (or validate_plan) must refuse with an Error.
void plan_seed(const fs::path& dir, const char* name, const std::function<void(PlanBuilder&)>& build, uint8_t flags = 0,
               const std::vector<uint8_t>* inputs = nullptr, bool expect_error = false) {
  PlanBuilder b;
  build(b);
  std::vector<uint8_t> bytes;
  if (!fuzz::encode_plan(b.plan, flags, inputs ? *inputs : input_bytes(b.plan), bytes)) {
    std::fprintf(stderr, "seed %s: the plan does not fit the fuzz format\n", name);
    ++failures;
    return;
  }
  // The seed must decode to the same plan, validate, create and run.
  try {
    fuzz::FuzzInput in(bytes.data(), bytes.size());
    fuzz::DecodedPlan d = fuzz::decode_plan(in, {});
    if (d.plan.tensors.size() != b.plan.tensors.size() || d.plan.steps.size() != b.plan.steps.size() ||
        d.plan.arena_bytes != b.plan.arena_bytes)
      throw std::runtime_error("decodes to another plan");
    std::vector<std::vector<uint8_t>> ins, outs;
    std::vector<const void*> in_ptrs;
    std::vector<void*> out_ptrs;
    for (int32_t s : d.plan.inputs) ins.emplace_back(static_cast<size_t>(d.plan.tensors[static_cast<size_t>(s)].bytes()) + 1);
    for (int32_t s : d.plan.outputs) outs.emplace_back(static_cast<size_t>(d.plan.tensors[static_cast<size_t>(s)].bytes()) + 1);
    for (auto& v : ins) in_ptrs.push_back(v.data());
    for (auto& v : outs) out_ptrs.push_back(v.data());
    bool refused = false;
    try {
      auto model = Model::create(std::move(d.plan), d.options);
      model->run(in_ptrs.data(), out_ptrs.data());
    } catch (const Error& e) {
      if (!expect_error) throw;
      refused = true;
    }
    if (expect_error && !refused) throw std::runtime_error("expected an Error, the plan ran");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seed %s: %s\n", name, e.what());
    ++failures;
    return;
  }
  write_file(dir / name, bytes);
}

template <typename T>
std::vector<uint8_t> raw_bytes(std::initializer_list<T> values) {
  std::vector<uint8_t> out;
  for (T v : values) out.insert(out.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + sizeof v);
  return out;
}

// Inputs that once crashed a harness (kept minimal) and integer / edge-value cases of the ops.
void plan_regression_seeds(const fs::path& dir) {
  // A subplan that no If step uses was not validated but was prepared by Model::create (null OpDef).
  {
    fuzz::FuzzOutput o;
    o.u8(0), o.u8(0), o.u8(0), o.u8(1), o.u8(1), o.u8(8);
    o.append("NoSuchOp", 8);
    o.u8(1), o.u8(5), o.u8(1), o.u8(7), o.u8(0), o.u8(0), o.u8(0);
    write_file(dir / "regress_unused_subplan", o.bytes);
  }
  // int64 Mul / Add / Sub overflowing (signed overflow was undefined behaviour; now wraps).
  // And Pow of -1 with the exponent INT64_MIN (-e overflowed).
  const auto big = raw_bytes<int64_t>({INT64_MAX, INT64_MIN, 3037000500, -1});
  plan_seed(dir, "regress_int64_overflow", [](PlanBuilder& b) {
    const int32_t x = b.input(I64, {4});
    b.step("Mul", {x, x}, {b.output(I64, {4})});
    b.step("Add", {x, x}, {b.output(I64, {4})});
    b.step("Sub", {x, x}, {b.output(I64, {4})});
    const int32_t three = b.constant<int64_t>(I64, {1}, {3});
    b.step("Pow", {x, three}, {b.output(I64, {4})});
    const int32_t most_negative = b.constant<int64_t>(I64, {1}, {INT64_MIN});
    b.step("Pow", {x, most_negative}, {b.output(I64, {4})});
  }, 0, &big);
  // Clip of int32 with a NaN / +inf bound (the float -> int cast was undefined behaviour).
  plan_seed(dir, "regress_clip_int_nan_bound", [](PlanBuilder& b) {
    const int32_t x = b.input(I32, {5});
    b.step("Clip", {x}, {b.output(I32, {5})}, {}, {NAN, 2.0f});
    b.step("Clip", {x}, {b.output(I32, {5})}, {}, {INFINITY, -INFINITY});
    b.step("Clip", {x}, {b.output(I32, {5})}, {}, {-1e10f, 1e10f});
  });
  // INT8 weights quantized at creation: a NaN weight was skipped by std::max and cast to int8 (undefined
  // behaviour); it is refused now, like an infinite one.
  plan_seed(dir, "regress_int8_gemm_nan_weight", [](PlanBuilder& b) {
    const int32_t a = b.input(F32, {2, 3});
    const int32_t w = b.constant<float>(F32, {3, 2}, {1.0f, NAN, 0.5f, -2.0f, 3.0f, 0.25f});
    b.step("MatMul", {a, w}, {b.output(F32, {2, 2})}, {0});
  }, fuzz::kFlagInt8, nullptr, true);
  // The same in the INT8 convolutions (large enough to be quantized: NCHW k >= 64 and 32 output channels,
  // channels last 32 and 32); tiny weights made the per-channel scale underflow to 0 (0 / 0 = NaN -> int8).
  plan_seed(dir, "regress_int8_conv_nan_weight", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {1, 64, 2, 2});
    std::vector<float> w = ramp(32 * 64, -1.0f, 0.09f);
    w[100] = NAN;
    b.step("Conv", {x, b.constant(F32, {32, 64, 1, 1}, w), -1}, {b.output(F32, {1, 32, 2, 2})},
           {1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1});
  }, fuzz::kFlagInt8, nullptr, true);
  plan_seed(dir, "regress_int8_conv_tiny_weights", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {1, 2, 2, 32});
    std::vector<float> w = ramp(32 * 32, -1.0f, 0.09f);
    for (int i = 0; i < 32; ++i) w[static_cast<size_t>(i)] = i == 3 ? std::numeric_limits<float>::denorm_min() : 0.0f;
    b.step("ConvNhwc", {x, b.constant(F32, {32, 32, 1, 1}, w), -1}, {b.output(F32, {1, 2, 2, 32})},
           {1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1}, {-INFINITY});
    std::vector<float> w2 = ramp(32 * 64, -1.0f, 0.09f);
    for (int i = 0; i < 64; ++i) w2[static_cast<size_t>(i)] = i == 5 ? std::numeric_limits<float>::denorm_min() : 0.0f;
    const int32_t x2 = b.input(F32, {1, 64, 2, 2});
    b.step("Conv", {x2, b.constant(F32, {32, 64, 1, 1}, w2), -1}, {b.output(F32, {1, 32, 2, 2})},
           {1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1});
  }, fuzz::kFlagInt8);
  plan_seed(dir, "unary_int", [](PlanBuilder& b) {
    for (DType d : {I32, I64, I8, DType::kInt16}) {
      const int32_t x = b.input(d, {5});
      b.step("Clip", {x}, {b.output(d, {5})}, {}, {-3.5f, 100.0f});
      b.step("Neg", {x}, {b.output(d, {5})});
      b.step("Abs", {x}, {b.output(d, {5})});
    }
  });
  plan_seed(dir, "binary_int32", [](PlanBuilder& b) {
    const int32_t x = b.input(I32, {2, 3});
    const int32_t y = b.input(I32, {3});
    const char* ops[] = {"Add", "Sub", "Mul", "Pow", "Max", "Min", "Div", "Mod"};
    for (const char* op : ops) b.step(op, {x, y}, {b.output(I32, {2, 3})});
  });
  plan_seed(dir, "reduce_int", [](PlanBuilder& b) {
    const int32_t x = b.input(I64, {3, 4});
    const int32_t y = b.input(I32, {2, 5});
    const char* ops[] = {"ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin"};
    for (const char* op : ops) {
      b.step(op, {x}, {b.output(I64, {3})}, {0, 1});
      b.step(op, {y}, {b.output(I32, {1, 5})}, {1, 0});
    }
  });
  plan_seed(dir, "cast_ints", [](PlanBuilder& b) {
    const int32_t x = b.input(I64, {4});
    const int32_t u = b.input(U8, {4});
    for (DType d : {I8, U8, F16, F32, BOOL, DType::kFloat64, DType::kUint64, DType::kUint32, DType::kInt16})
      b.step("Cast", {x}, {b.output(d, {4})});
    b.step("Cast", {u}, {b.output(F32, {4})});
    b.step("Cast", {u}, {b.output(I8, {4})});
  });
}

void plan_seeds(const fs::path& dir) {
  plan_seed(dir, "add_relu", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3});
    const int32_t c = b.constant<float>(F32, {3}, {1, 2, 3});
    const int32_t t = b.arena(F32, {2, 3});
    const int32_t y = b.output(F32, {2, 3});
    b.step("Add", {x, c}, {t});
    b.step("Relu", {t}, {y});
  });
  plan_seed(dir, "unary_f32", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {7});
    const char* ops[] = {"Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Erf", "Neg", "Abs", "Reciprocal", "Floor", "Ceil"};
    for (const char* op : ops) b.step(op, {x}, {b.output(F32, {7})});
    b.step("LeakyRelu", {x}, {b.output(F32, {7})}, {}, {0.1f});
    b.step("Clip", {x}, {b.output(F32, {7})}, {}, {-0.5f, 2.0f});
  });
  plan_seed(dir, "binary_broadcast", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3, 1});
    const int32_t y = b.constant<float>(F32, {1, 4}, {0, 10, 20, 30});
    const int32_t t = b.arena(F32, {2, 3, 4});
    b.step("Add", {x, y}, {t});
    const int32_t s = b.constant<float>(F32, {}, {1.5f});
    const char* ops[] = {"Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod"};
    for (const char* op : ops) b.step(op, {t, s}, {b.output(F32, {2, 3, 4})});
  });
  plan_seed(dir, "binary_int", [](PlanBuilder& b) {
    const int32_t x = b.input(I64, {3, 1});
    const int32_t y = b.input(I64, {2});
    const int32_t t = b.arena(I64, {3, 2});
    b.step("Mul", {x, y}, {t});
    b.step("Div", {t, y}, {b.output(I64, {3, 2})});
    b.step("Mod", {t, y}, {b.output(I64, {3, 2})});
    const int32_t xi = b.input(I32, {4});
    const int32_t yi = b.constant<int32_t>(I32, {4}, {3, -3, 0, -1});
    b.step("Mod", {xi, yi}, {b.output(I32, {4})});
    b.step("Div", {xi, yi}, {b.output(I32, {4})});
    b.step("Sub", {xi, yi}, {b.output(I32, {4})});
  });
  plan_seed(dir, "compare_where", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3});
    const int32_t th = b.constant<float>(F32, {3}, {0, 1, 2});
    const int32_t gt = b.arena(BOOL, {2, 3});
    const int32_t eq = b.arena(BOOL, {2, 3});
    const int32_t either = b.arena(BOOL, {2, 3});
    const int32_t notv = b.arena(BOOL, {2, 3});
    const int32_t m1 = b.constant<float>(F32, {1}, {-1.0f});
    b.step("Greater", {x, th}, {gt});
    b.step("Equal", {x, th}, {eq});
    b.step("Or", {gt, eq}, {either});
    b.step("Not", {either}, {notv});
    b.step("Where", {notv, m1, x}, {b.output(F32, {2, 3})});
    b.step("And", {gt, notv}, {b.output(BOOL, {2, 3})});
    b.step("Xor", {gt, eq}, {b.output(BOOL, {2, 3})});
    b.step("Less", {x, th}, {b.output(BOOL, {2, 3})});
    b.step("LessOrEqual", {x, th}, {b.output(BOOL, {2, 3})});
    b.step("GreaterOrEqual", {x, th}, {b.output(BOOL, {2, 3})});
  });
  plan_seed(dir, "where_bool_input", [](PlanBuilder& b) {
    const int32_t c = b.input(BOOL, {4});
    const int32_t x = b.input(I64, {4});
    const int32_t y = b.constant<int64_t>(I64, {1}, {7});
    b.step("Where", {c, x, y}, {b.output(I64, {4})});
    b.step("Not", {c}, {b.output(BOOL, {4})});
  });
  plan_seed(dir, "cast", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {6});
    const int32_t i32 = b.output(I32, {6});
    const int32_t h = b.arena(F16, {6});
    const int32_t i64 = b.arena(I64, {6});
    b.step("Cast", {x}, {i32});
    b.step("Cast", {x}, {b.output(BOOL, {6})});
    b.step("Cast", {x}, {h});
    b.step("Cast", {h}, {b.output(F32, {6})});
    b.step("Cast", {i32}, {i64});
    b.step("Cast", {i64}, {b.output(F32, {6})});
    b.step("Cast", {x}, {b.output(U8, {6})});
    b.step("Cast", {x}, {b.output(I8, {6})});
    b.step("Cast", {x}, {b.output(DType::kFloat64, {6})});
    b.step("Cast", {x}, {b.output(DType::kUint16, {6})});
  });
  plan_seed(dir, "cast_from_input", [](PlanBuilder& b) {
    const int32_t h = b.input(F16, {5});
    const int32_t d = b.input(DType::kFloat64, {5});
    b.step("Cast", {h}, {b.output(I32, {5})});
    b.step("Cast", {d}, {b.output(I64, {5})});
    b.step("Cast", {d}, {b.output(F16, {5})});
  });
  plan_seed(dir, "layernorm_gelu", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {3, 1, 9});
    const int32_t g = b.constant(F32, {9}, ramp(9, 0.5f, 0.1f));
    const int32_t be = b.constant(F32, {9}, ramp(9));
    b.step("LayerNorm", {x, g, be}, {b.output(F32, {3, 1, 9})}, {1, 0}, {1e-5f});
    b.step("LayerNorm", {x, g, -1}, {b.output(F32, {3, 1, 9})}, {2, 2}, {1e-5f});
    b.step("Gelu", {x}, {b.output(F32, {3, 1, 9})}, {0});
    b.step("Gelu", {x}, {b.output(F32, {3, 1, 9})}, {1});
  });
  plan_seed(dir, "layernorm_in_place", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 16});
    const int32_t t = b.arena(F32, {2, 16});
    const int32_t g = b.constant(F32, {16}, ramp(16, 1.0f, 0.0f));
    b.step("Identity", {x}, {t});
    const int32_t same = b.arena_at(F32, {2, 16}, b.plan.tensors[static_cast<size_t>(t)].offset);
    b.step("LayerNorm", {t, g, -1}, {same}, {1, 3}, {0.0f});
    b.step("Gelu", {same}, {b.output(F32, {2, 16})}, {1});
  });
  plan_seed(dir, "data_movement", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3, 4});
    b.step("Transpose", {x}, {b.output(F32, {4, 2, 3})}, {2, 0, 1});
    const int32_t k = b.constant(F32, {2, 2, 4}, ramp(16));
    b.step("Concat", {x, k}, {b.output(F32, {2, 5, 4})}, {1});
    b.step("Split", {x}, {b.output(F32, {2, 3, 1}), b.output(F32, {2, 3, 3})}, {2});
    const int32_t small = b.constant<float>(F32, {2, 1, 3}, {1, 2, 3, 4, 5, 6});
    b.step("Expand", {small}, {b.output(F32, {2, 2, 3})});
    const int32_t r1 = b.arena(F32, {6, 4});
    const int32_t r2 = b.arena_at(F32, {24}, b.plan.tensors[static_cast<size_t>(r1)].offset);
    b.step("Identity", {x}, {r1});
    b.step("Reshape", {r1}, {r2});
    b.step("Flatten", {r2}, {b.output(F32, {4, 6})});
    b.step("Squeeze", {small}, {b.output(F32, {2, 3})});
    b.step("Unsqueeze", {small}, {b.output(F32, {2, 1, 1, 3})});
  });
  plan_seed(dir, "slice_pad", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {3, 5});
    b.step("Slice", {x}, {b.output(F32, {2, 2})}, {2, 4, -2, -3});
    b.step("Pad", {x}, {b.output(F32, {4, 8})}, {0, 0, 1, 1, 2}, {9.0f});
    b.step("Pad", {x}, {b.output(F32, {3, 9})}, {1, 0, 2, 0, 2}, {0.0f});
    b.step("Pad", {x}, {b.output(F32, {5, 5})}, {2, 1, 0, 1, 0}, {0.0f});
    b.step("Pad", {x}, {b.output(F32, {3, 4})}, {0, 0, -1, 0, 0}, {0.0f});
  });
  plan_seed(dir, "gather", [](PlanBuilder& b) {
    const int32_t data = b.constant(F32, {4, 3}, ramp(12));
    const int32_t idx = b.input(I64, {2, 2});
    b.step("Gather", {data, idx}, {b.output(F32, {2, 2, 3})}, {0});
    const int32_t cidx = b.constant<int32_t>(I32, {3}, {-1, 0, 2});
    b.step("Gather", {data, cidx}, {b.output(F32, {4, 3})}, {1});
  });
  plan_seed(dir, "shape_arith_int64", [](PlanBuilder& b) {
    const int32_t shape = b.input(I64, {3});
    const int32_t extra = b.constant<int64_t>(I64, {1}, {-1});
    const int32_t cat = b.arena(I64, {4});
    const int32_t idx = b.constant<int64_t>(I64, {}, {1});
    const int32_t is_neg = b.arena(BOOL, {4});
    const int32_t seven = b.constant<int64_t>(I64, {1}, {7});
    b.step("Concat", {shape, extra}, {cat}, {0});
    b.step("Gather", {cat, idx}, {b.output(I64, {})}, {0});
    b.step("Slice", {cat}, {b.output(I64, {2})}, {2, 1});
    b.step("Equal", {cat, extra}, {is_neg});
    b.step("Where", {is_neg, seven, cat}, {b.output(I64, {4})});
    b.step("ReduceProd", {shape}, {b.output(I64, {1})}, {1, 0});
  });
  plan_seed(dir, "reduce", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3, 4});
    b.step("ReduceMean", {x}, {b.output(F32, {3})}, {0, 0, 2});
    b.step("ReduceMean", {x}, {b.output(F32, {1, 3, 1})}, {1, 0, 2});
    b.step("ReduceMax", {x}, {b.output(F32, {2, 3, 1})}, {1, 2});
    b.step("ReduceSum", {x}, {b.output(F32, {})}, {0});
    b.step("ReduceL2", {x}, {b.output(F32, {2, 4})}, {0, 1});
    b.step("ReduceMin", {x}, {b.output(F32, {4})}, {0, 0, 1});
    b.step("ReduceProd", {x}, {b.output(F32, {2, 3})}, {0, 2});
  });
  plan_seed(dir, "softmax", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3, 4});
    b.step("Softmax", {x}, {b.output(F32, {2, 3, 4})}, {2});
    b.step("Softmax", {x}, {b.output(F32, {2, 3, 4})}, {1});
    b.step("LogSoftmax", {x}, {b.output(F32, {2, 3, 4})}, {1});
    b.step("LogSoftmax", {x}, {b.output(F32, {2, 3, 4})}, {2});
  });
  plan_seed(dir, "if_branches", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {3});
    const int32_t cond = b.input(BOOL, {});
    const int32_t out = b.output(F32, {3});
    const int32_t then_t = b.arena(F32, {3});
    const int32_t else_t = b.arena(F32, {3});
    const int32_t two = b.constant<float>(F32, {1}, {2.0f});
    b.plan.subplans.resize(2);
    b.step("Mul", {x, two}, {then_t}, {}, {}, &b.plan.subplans[0].steps);
    b.plan.subplans[0].outputs = {then_t};
    b.step("Neg", {x}, {else_t}, {}, {}, &b.plan.subplans[1].steps);
    b.plan.subplans[1].outputs = {else_t};
    b.step("If", {cond}, {out}, {0, 1});
  });
  plan_seed(dir, "matmul", [](PlanBuilder& b) {
    const int64_t m = 3, k = 9, n = 5;
    const int32_t a = b.input(F32, {2, m, k});
    const int32_t bin = b.input(F32, {1, k, n});
    const int32_t bc = b.constant(F32, {k, n}, ramp(static_cast<size_t>(k * n)));
    b.step("MatMul", {a, bin}, {b.output(F32, {2, m, n})}, {0});
    b.step("MatMul", {a, bc}, {b.output(F32, {2, m, n})}, {1});
    b.step("MatMulS8Dynamic", {a, bc}, {b.output(F32, {2, m, n})}, {0});
    b.step("MatMulF16", {a, bc}, {b.output(F32, {2, m, n})}, {2});
  }, fuzz::kFlagThreads);
  plan_seed(dir, "gemm", [](PlanBuilder& b) {
    const int64_t m = 4, k = 6, n = 5;
    const int32_t a = b.input(F32, {k, m});
    const int32_t brt = b.input(F32, {n, k});
    const int32_t bc = b.constant(F32, {n, k}, ramp(static_cast<size_t>(n * k)));
    const int32_t c = b.constant(F32, {m, 1}, ramp(static_cast<size_t>(m)));
    const int32_t cb = b.constant(F32, {n}, ramp(static_cast<size_t>(n)));
    b.step("Gemm", {a, brt, c}, {b.output(F32, {m, n})}, {1, 1, 0}, {0.5f, 2.0f});
    b.step("Gemm", {a, bc, c}, {b.output(F32, {m, n})}, {1, 1, 0}, {0.5f, 2.0f});
    b.step("Gemm", {a, bc, cb}, {b.output(F32, {m, n})}, {1, 1, 1}, {0.5f, 2.0f});
    b.step("GemmS8Dynamic", {a, bc, cb}, {b.output(F32, {m, n})}, {1, 1, 4}, {1.0f, 1.0f, 0.1f});
    b.step("GemmF16", {a, bc, -1}, {b.output(F32, {m, n})}, {1, 1, 6}, {1.0f, 1.0f, -1.0f, 1.0f});
  });
  plan_seed(dir, "gemm_int8_precision", [](PlanBuilder& b) {
    const int32_t a = b.input(F32, {2, 8});
    const int32_t w = b.constant(F32, {8, 3}, ramp(24));
    const int32_t x = b.input(F32, {1, 2, 5, 5});
    const int32_t cw = b.constant(F32, {2, 2, 3, 3}, ramp(36));
    b.step("Gemm", {a, w, -1}, {b.output(F32, {2, 3})}, {0, 0, 0}, {1.0f, 1.0f});
    b.step("MatMul", {a, w}, {b.output(F32, {2, 3})}, {0});
    b.step("Conv", {x, cw, -1}, {b.output(F32, {1, 2, 3, 3})}, {1, 0, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1});
  }, fuzz::kFlagInt8 | fuzz::kFlagThreads | fuzz::kFlagRunTwice);
  plan_seed(dir, "conv_pool", [](PlanBuilder& b) {
    const int64_t C = 4, H = 6, W = 5;
    const int32_t x = b.input(F32, {1, C, H, W});
    const int32_t w = b.constant(F32, {6, 2, 3, 2}, ramp(72));
    const int32_t bias = b.constant(F32, {6}, ramp(6));
    // group 2, stride [2, 1], pads [1, 0, 1, 1], dilation [1, 2] -> [1, 6, 3, 4]
    b.step("Conv", {x, w, bias}, {b.output(F32, {1, 6, 3, 4})}, {2, 0, 3, 2, 2, 1, 1, 0, 1, 1, 1, 2});
    const int32_t x1 = b.arena(F32, {1, C, H * W});
    b.step("Reshape", {x}, {x1});
    const int32_t w1 = b.constant(F32, {2, C, 3}, ramp(24));
    b.step("Conv", {x1, w1, -1}, {b.output(F32, {1, 2, 15})}, {1, 0, 3, 2, 1, 1, 1});
    b.step("MaxPool", {x}, {b.output(F32, {1, C, 3, 3})}, {0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1});
    b.step("AveragePool", {x}, {b.output(F32, {1, C, H, W})}, {0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    b.step("AveragePool", {x}, {b.output(F32, {1, C, H, W})}, {1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    b.step("GlobalAveragePool", {x}, {b.output(F32, {1, C, 1, 1})});
    b.step("GlobalMaxPool", {x}, {b.output(F32, {1, C, 1, 1})});
  }, fuzz::kFlagThreads);
  plan_seed(dir, "conv_variants", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {1, 3, 5, 5});
    const int32_t w = b.constant(F32, {4, 3, 3, 3}, ramp(108));
    const int32_t dw = b.constant(F32, {3, 1, 3, 3}, ramp(27));
    const int32_t bias = b.constant(F32, {4}, ramp(4));
    b.step("ConvS8Dynamic", {x, w, bias}, {b.output(F32, {1, 4, 3, 3})}, {1, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1});
    b.step("ConvF16", {x, w, -1}, {b.output(F32, {1, 4, 5, 5})}, {1, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    b.step("Conv", {x, dw, -1}, {b.output(F32, {1, 3, 3, 3})}, {3, 0, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1});
  });
  plan_seed(dir, "conv_nhwc", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {1, 5, 5, 3});
    const int32_t w = b.constant(F32, {4, 3, 3, 3}, ramp(108));
    const int32_t bias = b.constant(F32, {4}, ramp(4));
    b.step("ConvNhwc", {x, w, bias}, {b.output(F32, {1, 3, 3, 4})}, {1, 0, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1},
           {-INFINITY});
    b.step("ConvNhwcS8Dynamic", {x, w, bias}, {b.output(F32, {1, 5, 5, 4})}, {1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
           {0.0f});
    b.step("ConvNhwcF16", {x, w, -1}, {b.output(F32, {1, 2, 2, 4})}, {1, 0, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1}, {-1.0f});
    b.step("MaxPoolNhwc", {x}, {b.output(F32, {1, 2, 2, 3})}, {0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1});
    b.step("AveragePoolNhwc", {x}, {b.output(F32, {1, 5, 5, 3})}, {0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  });
  plan_seed(dir, "quantize", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {2, 3});
    const int32_t s = b.constant<float>(F32, {}, {0.5f});
    const int32_t zp = b.constant<uint8_t>(U8, {}, {10});
    const int32_t q = b.output(U8, {2, 3});
    b.step("QuantizeLinear", {x, s, zp}, {q}, {1});
    b.step("DequantizeLinear", {q, s, zp}, {b.output(F32, {2, 3})}, {1});
    const int32_t sa = b.constant<float>(F32, {3}, {1.0f, 0.1f, 2.0f});
    b.step("QuantizeLinear", {x, sa, -1}, {b.output(I8, {2, 3})}, {1});
    const int32_t q32 = b.constant<int32_t>(I32, {3}, {-5, 0, 70000});
    b.step("DequantizeLinear", {q32, sa, -1}, {b.output(F32, {3})}, {0});
    const int32_t z8 = b.constant<int8_t>(I8, {3}, {-3, 0, 5});
    b.step("QuantizeDequantize", {x, sa, z8}, {b.output(F32, {2, 3})}, {1});
    b.step("QuantizeDequantize", {x, s, -1}, {b.output(F32, {2, 3})}, {0});
  });
  plan_seed(dir, "quantize_runtime_scale", [](PlanBuilder& b) {
    // The scale is a model input: any float reaches the kernels (NaN, 0, Inf, negative).
    const int32_t x = b.input(F32, {4, 5});
    const int32_t s = b.input(F32, {5});
    const int32_t zp = b.input(U8, {5});
    const int32_t q = b.output(U8, {4, 5});
    b.step("QuantizeLinear", {x, s, zp}, {q}, {1});
    b.step("DequantizeLinear", {q, s, zp}, {b.output(F32, {4, 5})}, {1});
    b.step("QuantizeDequantize", {x, s, zp}, {b.output(F32, {4, 5})}, {1});
  });
  plan_seed(dir, "qlinear", [](PlanBuilder& b) {
    const int64_t k = 12, n = 5;
    const int32_t x = b.input(F32, {2, 3, k});
    const int32_t s = b.constant<float>(F32, {}, {0.02f});
    const int32_t z = b.constant<uint8_t>(U8, {}, {128});
    std::vector<int8_t> wv(static_cast<size_t>(k * n));
    for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
    const int32_t w = b.constant(I8, {k, n}, wv);
    const int32_t wsc = b.constant(F32, {n}, ramp(static_cast<size_t>(n), 0.01f, 0.01f));
    const int32_t wz = b.constant(I8, {n}, std::vector<int8_t>(static_cast<size_t>(n), 0));
    const int32_t bc = b.constant(F32, {n}, ramp(static_cast<size_t>(n)));
    b.step("QLinearMatMul", {x, s, z, w, wsc, wz, bc}, {b.output(F32, {2, 3, n})}, {1, 1});
    b.step("QLinearMatMul", {x, -1, -1, w, wsc, -1, -1}, {b.output(F32, {2, 3, n})}, {0, 1});
    const int32_t x2 = b.input(F32, {k, 4});
    const int32_t wt = b.constant(I8, {n, k}, wv);
    const int32_t c = b.constant<float>(F32, {}, {0.5f});
    b.step("QLinearGemm", {x2, s, z, wt, wsc, -1, c}, {b.output(F32, {4, n})}, {1, 1, 0, 0}, {1.5f, 2.0f});
  });
  plan_seed(dir, "qlinear_conv", [](PlanBuilder& b) {
    const int32_t x = b.input(F32, {1, 4, 5, 5});
    const int32_t s = b.constant<float>(F32, {}, {0.05f});
    const int32_t z = b.constant<uint8_t>(U8, {}, {100});
    std::vector<int8_t> wv(static_cast<size_t>(6 * 2 * 3 * 3));
    for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 255) - 127);
    const int32_t w = b.constant(I8, {6, 2, 3, 3}, wv);
    const int32_t wsc = b.constant(F32, {6}, ramp(6, 0.01f, 0.01f));
    const int32_t bc = b.constant(F32, {6}, ramp(6));
    b.step("QLinearConv", {x, s, z, w, wsc, -1, bc}, {b.output(F32, {1, 6, 3, 3})},
           {2, 0, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0});
    const int32_t x1 = b.input(F32, {2, 4, 7});
    const int32_t w1 = b.constant(I8, {6, 2, 3}, std::vector<int8_t>(wv.begin(), wv.begin() + 36));
    b.step("QLinearConv", {x1, -1, -1, w1, wsc, -1, -1}, {b.output(F32, {2, 6, 4})}, {2, 1, 3, 2, 1, 1, 1, 0});
  }, fuzz::kFlagThreads | fuzz::kFlagMisalign);
  plan_seed(dir, "qlinear_conv_levels", [](PlanBuilder& b) {
    // uint8 levels between INT8 ops (lib/onnx/passes/byte-activations.ts): a pool of levels, a conv reading
    // levels through the implicit GEMM (3x3, 8 channels) and a fake quantization with its levels output. (A
    // conv writing levels takes 9 inputs, more than the fuzz format's 8 slots per step.)
    const int32_t x = b.input(F32, {1, 6, 7, 8});
    const int32_t s = b.constant<float>(F32, {}, {0.05f});
    const int32_t z = b.constant<uint8_t>(U8, {}, {100});
    std::vector<int8_t> wv(static_cast<size_t>(8 * 8 * 3 * 3));
    for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 255) - 127);
    const int32_t w = b.constant(I8, {8, 8, 3, 3}, wv);
    const int32_t wsc = b.constant(F32, {8}, ramp(8, 0.01f, 0.01f));
    const int32_t bc = b.constant(F32, {8}, ramp(8));
    const int32_t levels = b.output(U8, {1, 6, 7, 8});
    b.step("QuantizeLinear", {x, s, z}, {levels}, {0});
    b.step("MaxPoolNhwc", {levels}, {b.output(U8, {1, 3, 4, 8})}, {0, 2, 2, 2, 2, 0, 0, 1, 1, 1, 1});
    b.step("QLinearConvNhwc", {levels, s, z, w, wsc, -1, bc}, {b.output(F32, {1, 6, 7, 8})}, {1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0});
    b.step("QuantizeDequantize", {x, s, z}, {b.output(F32, {1, 6, 7, 8}), b.output(U8, {1, 6, 7, 8})}, {0});
  }, fuzz::kFlagThreads | fuzz::kFlagMisalign);
}

// ------------------------------------------------------------------ kernel seeds
void number_seq(fuzz::FuzzOutput& o, std::initializer_list<float> values) {
  for (float v : values) o.number(v);
}

void packed_weights_seeds(const fs::path& dir) {
  {  // mode 0: k 37, n 21, per-channel scales, bias, gemm m 5 int32 output
    fuzz::FuzzOutput o;
    o.u8(0), o.u8(2 /* bias */), o.u8(255 /* best variant: index modulo the list */);
    o.u16(36), o.u16(20);  // k = 37, n = 21
    for (int i = 0; i < 37 * 21; ++i) o.u8(static_cast<uint8_t>(i * 29));
    o.u8(2);  // scale_count n
    for (int i = 0; i < 21; ++i) o.number(0.25f * static_cast<float>(i % 5 + 1));
    for (int i = 0; i < 21; ++i) o.number(static_cast<float>(i % 7) - 3.0f);
    o.u8(0), o.u8(5), o.u8(2), o.u8(3), o.u8(128), o.number(1.0f), o.u8(0);
    for (int i = 0; i < 5 * 40; ++i) o.u8(static_cast<uint8_t>(i * 13));
    write_file(dir / "s8_int32_out", o.bytes);
  }
  {  // mode 0: signed activations, float output with GELU, column range, kNK layout
    fuzz::FuzzOutput o;
    o.u8(0), o.u8(4 /* kNK */), o.u8(1);
    o.u16(63), o.u16(47);  // k = 64, n = 48
    for (int i = 0; i < 64 * 48; ++i) o.u8(static_cast<uint8_t>(i % 3 == 0 ? 0x80 : i * 7));
    o.u8(1), o.number(0.1f);
    o.u8(8 | 4 | 32), o.u8(3), o.u8(0), o.u8(1), o.u8(130), o.number(0.5f), o.u8(2), o.u8(0), o.u8(40);
    for (int i = 0; i < 3 * 66; ++i) o.u8(static_cast<uint8_t>(255 - i));
    write_file(dir / "s8_float_gelu_range", o.bytes);
  }
  {  // mode 1: GemmF32 create, m 3, bias, relu
    fuzz::FuzzOutput o;
    o.u8(1), o.u8(16), o.u8(16), o.u8(10);  // k = 17, n = 11
    number_seq(o, {1.0f, 1.0f});
    o.u8(1), o.number(0.0f), o.number(0.0f);
    for (int i = 0; i < 11; ++i) o.number(0.5f);
    for (int i = 0; i < 17 * 11; ++i) o.number(static_cast<float>(i % 9) - 4.0f);
    o.u8(3 | (1 << 3));
    for (int i = 0; i < 3 * 18; ++i) o.number(static_cast<float>(i % 5) * 0.25f);
    write_file(dir / "f32_create", o.bytes);
  }
  for (int kind = 1; kind <= 3; ++kind) {  // f16, int8, quantized (threads)
    fuzz::FuzzOutput o;
    o.u8(1), o.u8(kind | 32), o.u8(39), o.u8(20);  // k = 40, n = 21
    number_seq(o, {0.5f, 1.0f});
    o.u8(2), o.number(0.0f), o.number(0.0f);
    if (kind == 3) {
      for (int i = 0; i < 40 * 21; ++i) o.u8(static_cast<uint8_t>(i * 31));
      o.u8(0);
      for (int i = 0; i < 21; ++i) o.number(0.1f);
      o.u8(0), o.number(0.05f), o.u8(128);
    } else {
      for (int i = 0; i < 40 * 21; ++i) o.number(static_cast<float>(i % 11) - 5.0f);
    }
    o.u8(5 | (2 << 3));
    for (int i = 0; i < 5 * 42; ++i) o.number(static_cast<float>(i % 13) * 0.5f - 3.0f);
    write_file(dir / (std::string("f32_kind") + std::to_string(kind)), o.bytes);
  }
  for (int tiny = 0; tiny < 2; ++tiny) {  // regressions: GemmF32::create_int8 with a NaN weight / tiny weights
    fuzz::FuzzOutput o;
    o.u8(1), o.u8(2), o.u8(tiny ? 2 : 1), o.u8(1);  // create_int8, k = 3 or 2, n = 2
    number_seq(o, {1.0f, 1.0f});
    o.u8(0), o.number(0.0f), o.number(0.0f);
    if (tiny) number_seq(o, {std::numeric_limits<float>::denorm_min(), 0.0f, 0.0f, 1.0f, 0.0f, -0.5f});
    else number_seq(o, {1.0f, NAN, 0.5f, -2.0f});
    o.u8(2);
    for (int i = 0; i < 6; ++i) o.number(static_cast<float>(i) - 2.0f);
    write_file(dir / (tiny ? "regress_int8_tiny_weights" : "regress_int8_nan_weight"), o.bytes);
  }
  for (int a = 0; a < 2; ++a) {  // mode 2: pack_b / pack_a
    fuzz::FuzzOutput o;
    o.u8(2), o.u8(a ? 3 : 1), o.u8(22), o.u8(40), o.u8(1), o.u8(2);
    write_file(dir / (a ? "pack_a" : "pack_b"), o.bytes);
  }
}

void tensor_desc_seeds(const fs::path& dir) {
  for (int dq = 0; dq < 2; ++dq)
    for (int is_signed = 0; is_signed < 2; ++is_signed) {
      fuzz::FuzzOutput o;
      o.u8(dq), o.u8(is_signed | 8), o.u8(1), o.u8(2), o.u16(70);  // outer 2, channels 3, inner 71
      const float scales[] = {0.5f, 0.1f, 1e-5f};
      for (int c = 0; c < 3; ++c) o.number(scales[c]), o.u8(static_cast<uint8_t>(c * 60 + 60));
      for (int i = 0; i < 2 * 3 * 71; ++i) o.number(static_cast<float>(i % 120) * 0.25f - 15.0f);
      for (int i = 0; i < 2 * 3 * 71; ++i) o.u8(static_cast<uint8_t>(i * 7));
      write_file(dir / (std::string(dq ? "dequantize" : "quantize") + (is_signed ? "_s8" : "_u8")), o.bytes);
    }
  {  // quantize with special scales (NaN, 0, Inf, negative, subnormal) and special values
    fuzz::FuzzOutput o;
    o.u8(0), o.u8(0), o.u8(0), o.u8(5), o.u16(40);  // outer 1, channels 6, inner 41
    const float scales[] = {NAN, 0.0f, INFINITY, -0.5f, std::numeric_limits<float>::denorm_min(), -0.0f};
    for (int c = 0; c < 6; ++c) o.number(scales[c]), o.u8(128);
    for (int i = 0; i < 6 * 41; ++i) o.u8(static_cast<uint8_t>(i % 16 == 0 ? i % 256 : (i * 5) % 240 + 16));
    write_file(dir / "quantize_special_scales", o.bytes);
  }
  for (int act = 0; act < 4; ++act) {  // layer norm: none / gelu erf / gelu tanh, gamma and beta
    fuzz::FuzzOutput o;
    o.u8(2), o.u8(2 | 4 | (act == 3 ? 1 : 0) | (1 << 4)), o.u8(2), o.u16(act == 0 ? 36 : 132);
    o.number(act == 1 ? 0.0f : 1e-5f);
    o.u8(act);  // 0 none, 1 relu (refused), 2 gelu erf, 3 gelu tanh
    const int64_t width = act == 0 ? 37 : 133;
    for (int64_t i = 0; i < width; ++i) o.number(1.0f + 0.25f * static_cast<float>(i % 3));
    for (int64_t i = 0; i < width; ++i) o.number(0.25f * static_cast<float>(i % 5));
    for (int64_t i = 0; i < 3 * width; ++i) o.number(static_cast<float>(i % 60) * 0.25f - 7.0f);
    write_file(dir / (std::string("layernorm_act") + std::to_string(act)), o.bytes);
  }
  for (int t = 0; t < 2; ++t) {  // gelu, erf and tanh, in place for tanh
    fuzz::FuzzOutput o;
    o.u8(3), o.u8(t ? 1 : 0), o.u8(0), o.u16(299);
    o.number(0.0f), o.u8(t ? 0x80 : 0);
    for (int i = 0; i < 300; ++i)
      o.number(i % 37 == 0 ? fuzz::kSpecialFloats[i % 16] : static_cast<float>(i % 200) * 0.25f - 25.0f);
    write_file(dir / (t ? "gelu_tanh" : "gelu_erf"), o.bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus <corpus dir>\n");
    return 2;
  }
  const fs::path root = argv[1];
  plan_seeds(root / "fuzz_plan");
  plan_regression_seeds(root / "fuzz_plan");
  packed_weights_seeds(root / "fuzz_packed_weights");
  tensor_desc_seeds(root / "fuzz_tensor_desc");
  if (failures != 0) {
    std::fprintf(stderr, "%d seeds failed\n", failures);
    return 1;
  }
  std::printf("corpus written to %s\n", root.c_str());
  return 0;
}
