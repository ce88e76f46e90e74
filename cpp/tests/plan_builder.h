// Builds small native plans for the runtime tests: slots with arena offsets laid out one after another
// (64-byte aligned), constants from vectors, steps, and a helper that runs a model on vectors.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "edgeinfer/plan.h"
#include "edgeinfer/runtime.h"

namespace edgeinfer::testing {

struct PlanBuilder {
  Plan plan;
  int64_t cursor = 0;

  int32_t add(TensorSlot slot) {
    plan.tensors.push_back(std::move(slot));
    return static_cast<int32_t>(plan.tensors.size() - 1);
  }
  int32_t input(DType dtype, std::vector<int64_t> dims) {
    TensorSlot t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    t.storage = Storage::kInput;
    t.binding = static_cast<int32_t>(plan.inputs.size());
    const int32_t id = add(std::move(t));
    plan.inputs.push_back(id);
    return id;
  }
  int32_t output(DType dtype, std::vector<int64_t> dims) {
    TensorSlot t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    t.storage = Storage::kOutput;
    t.binding = static_cast<int32_t>(plan.outputs.size());
    const int32_t id = add(std::move(t));
    plan.outputs.push_back(id);
    return id;
  }
  int32_t arena(DType dtype, std::vector<int64_t> dims) {
    TensorSlot t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    t.storage = Storage::kArena;
    t.offset = cursor;
    cursor += (t.bytes() + 63) / 64 * 64;
    plan.arena_bytes = cursor;
    return add(std::move(t));
  }
  // An arena slot at an explicit offset (aliasing tests).
  int32_t arena_at(DType dtype, std::vector<int64_t> dims, int64_t offset) {
    TensorSlot t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    t.storage = Storage::kArena;
    t.offset = offset;
    const int64_t end = offset + (t.bytes() + 63) / 64 * 64;
    if (end > cursor) cursor = end;
    plan.arena_bytes = cursor;
    return add(std::move(t));
  }
  template <typename T>
  int32_t constant(DType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
    TensorSlot t;
    t.dtype = dtype;
    t.dims = std::move(dims);
    t.storage = Storage::kConstant;
    auto bytes = std::make_shared<std::vector<uint8_t>>(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(bytes->data(), values.data(), bytes->size());
    t.constant = bytes;
    return add(std::move(t));
  }
  Step& step(const char* op, std::vector<int32_t> inputs, std::vector<int32_t> outputs, std::vector<int64_t> ints = {},
             std::vector<float> floats = {}, std::vector<Step>* into = nullptr) {
    Step s;
    s.op = op;
    s.name = std::string(op) + "_" + std::to_string(plan.steps.size());
    s.inputs = std::move(inputs);
    s.outputs = std::move(outputs);
    s.ints = std::move(ints);
    s.floats = std::move(floats);
    std::vector<Step>& list = into ? *into : plan.steps;
    list.push_back(std::move(s));
    return list.back();
  }
};

}  // namespace edgeinfer::testing
