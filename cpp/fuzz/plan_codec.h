// The byte format fuzz_plan.cc decodes into an edgeinfer::Plan (plus model options), and its encoder for the
// seed corpus (make_corpus.cc). Compact and total: every byte string decodes to some plan; counts are taken
// modulo small caps so one input stays small. Values stay inside what binding/model_wrap.cc's Reader lets
// through (dtype 0..255, dims 0..2^40, storage 0..3, offsets 0..2^50, slots -1..2^30, ints +-2^53), so the
// fuzzer never builds a plan the binding would refuse before validate_plan sees it.
//
//   u8 flags        bit0 2 threads, bit1 int8 precision, bit2 profile, bit3 explicit bindings and input /
//                   output lists, bit4 explicit arena_bytes, bit5 run twice, bit6 misalign the caller's
//                   buffers by one element (typed arrays are only element-aligned)
//   u8 tensors      (% 33), each:
//     u8 dtype (% 16: unknown codes included), u8 rank (% 10: 9 exceeds the maximum), dims: u8 each
//     (255: u64 % (2^40 + 1)), u8 storage (% 4),
//     arena: u8 offset (255: auto, packed after the previous arena slot; 254: u64 % (2^50 + 1); else * 64),
//     constant: u8 size mode (% 4: 1 one byte short, 2 one byte long, else exact; over 64 KiB: empty),
//               then the bytes,
//     with bit3: u8 binding
//   with bit3: u8 count + u8 slot each, for inputs then outputs (else: the input / output slots in order)
//   with bit4: u64 arena_bytes % (2^50 + 1) (else: the end of the last arena slot)
//   steps: u8 count (% 17), each:
//     u8 name length (% 33; 0: u8 index into the runtime's op list), the name,
//     u8 inputs (% 9) + u8 slot each (255: -1), u8 outputs (% 9) + u8 slot each,
//     u8 ints (% 33) + one byte each as int8 (0x80: u64 as int64 clamped to +-2^53),
//     u8 floats (% 17) + FuzzInput::number() each
//   u8 subplans (% 5), each: steps as above, u8 outputs (% 9) + u8 slot each
//   the rest: the input buffers' bytes, in binding order (zeros after the end)
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/plan.h"
#include "edgeinfer/runtime.h"
#include "fuzz/fuzz_input.h"

namespace edgeinfer::fuzz {

inline constexpr size_t kMaxTensors = 32, kMaxSteps = 16, kMaxSlotsPerStep = 8, kMaxInts = 32, kMaxFloats = 16,
                        kMaxSubplans = 4, kMaxBindings = 8, kMaxNameLength = 32, kMaxRankCoded = 9;
inline constexpr int64_t kMaxConstantBytes = int64_t{1} << 16;
inline constexpr int64_t kDimLimit = int64_t{1} << 40;     // binding: dims in [0, 2^40]
inline constexpr int64_t kOffsetLimit = int64_t{1} << 50;  // binding: offset and arenaBytes in [0, 2^50]
inline constexpr int64_t kIntLimit = int64_t{1} << 53;     // binding: ints in [-2^53, 2^53]

enum PlanFlags : uint8_t {
  kFlagThreads = 1, kFlagInt8 = 2, kFlagProfile = 4, kFlagExplicitBindings = 8, kFlagExplicitArena = 16,
  kFlagRunTwice = 32, kFlagMisalign = 64,
};

struct DecodedPlan {
  Plan plan;
  ModelOptions options;
  uint8_t flags = 0;
};

// Saturating byte size of a slot (as TensorSlot::bytes, but also for unknown dtypes: 1 byte per element).
inline int64_t coded_bytes(const TensorSlot& t) {
  const int64_t b = t.bytes();
  if (b >= 0 && dtype_size(t.dtype) != 0) return b;
  const int64_t n = t.elements();
  return n < 0 ? 0 : n;
}

inline int64_t align64_saturated(int64_t v) { return v > INT64_MAX - 63 ? INT64_MAX : (v + 63) / 64 * 64; }

// ------------------------------------------------------------------ decoding
inline std::vector<Step> decode_steps(FuzzInput& in, const std::vector<std::string>& op_names, size_t first_index) {
  std::vector<Step> steps(in.u8() % (kMaxSteps + 1));
  for (size_t i = 0; i < steps.size(); ++i) {
    Step& s = steps[i];
    const size_t name_length = in.u8() % (kMaxNameLength + 1);
    if (name_length == 0) {
      s.op = op_names.empty() ? std::string("Relu") : op_names[in.u8() % op_names.size()];
    } else {
      for (size_t c = 0; c < name_length; ++c) s.op.push_back(static_cast<char>(in.u8()));
    }
    s.name = "s" + std::to_string(first_index + i);
    s.inputs.resize(in.u8() % (kMaxSlotsPerStep + 1));
    for (int32_t& slot : s.inputs) {
      const uint8_t b = in.u8();
      slot = b == 255 ? -1 : b;
    }
    s.outputs.resize(in.u8() % (kMaxSlotsPerStep + 1));
    for (int32_t& slot : s.outputs) slot = in.u8();
    s.ints.resize(in.u8() % (kMaxInts + 1));
    for (int64_t& v : s.ints) {
      const uint8_t b = in.u8();
      if (b == 0x80) {
        v = static_cast<int64_t>(in.u64());
        v = std::clamp(v, -kIntLimit, kIntLimit);
      } else {
        v = static_cast<int8_t>(b);
      }
    }
    s.floats.resize(in.u8() % (kMaxFloats + 1));
    for (float& f : s.floats) f = in.number();
  }
  return steps;
}

inline std::vector<int32_t> decode_slot_list(FuzzInput& in, size_t max) {
  std::vector<int32_t> list(in.u8() % (max + 1));
  for (int32_t& slot : list) slot = in.u8();
  return list;
}

inline DecodedPlan decode_plan(FuzzInput& in, const std::vector<std::string>& op_names) {
  DecodedPlan d;
  d.flags = in.u8();
  d.options.threads = (d.flags & kFlagThreads) ? 2 : 1;
  d.options.precision = (d.flags & kFlagInt8) ? Precision::kInt8 : Precision::kFloat32;
  d.options.profile = (d.flags & kFlagProfile) != 0;
  Plan& plan = d.plan;
  plan.tensors.resize(in.u8() % (kMaxTensors + 1));
  int64_t cursor = 0;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    TensorSlot& t = plan.tensors[i];
    t.dtype = static_cast<DType>(in.u8() % 16);
    t.dims.resize(in.u8() % (kMaxRankCoded + 1));
    for (int64_t& dim : t.dims) {
      const uint8_t b = in.u8();
      dim = b == 255 ? static_cast<int64_t>(in.u64() % static_cast<uint64_t>(kDimLimit + 1)) : b;
    }
    t.storage = static_cast<Storage>(in.u8() % 4);
    if (t.storage == Storage::kArena) {
      const uint8_t o = in.u8();
      if (o == 255) t.offset = cursor;
      else if (o == 254) t.offset = static_cast<int64_t>(in.u64() % static_cast<uint64_t>(kOffsetLimit + 1));
      else t.offset = int64_t{o} * 64;
      const int64_t end = t.offset > INT64_MAX - coded_bytes(t) ? INT64_MAX : t.offset + coded_bytes(t);
      cursor = std::max(cursor, align64_saturated(end));
    } else if (t.storage == Storage::kConstant) {
      const uint8_t mode = in.u8() % 4;
      int64_t size = coded_bytes(t);
      if (size > kMaxConstantBytes) size = 0;
      else if (mode == 1) size = std::max<int64_t>(0, size - 1);
      else if (mode == 2) size += 1;
      auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(size));
      in.fill(bytes->data(), bytes->size());
      t.constant = std::move(bytes);
    }
    if (d.flags & kFlagExplicitBindings) {
      t.binding = in.u8();
    } else if (t.storage == Storage::kInput) {
      t.binding = static_cast<int32_t>(plan.inputs.size());
      plan.inputs.push_back(static_cast<int32_t>(i));
    } else if (t.storage == Storage::kOutput) {
      t.binding = static_cast<int32_t>(plan.outputs.size());
      plan.outputs.push_back(static_cast<int32_t>(i));
    }
  }
  if (d.flags & kFlagExplicitBindings) {
    plan.inputs = decode_slot_list(in, kMaxBindings);
    plan.outputs = decode_slot_list(in, kMaxBindings);
  }
  plan.arena_bytes = (d.flags & kFlagExplicitArena)
                         ? static_cast<int64_t>(in.u64() % static_cast<uint64_t>(kOffsetLimit + 1))
                         : std::min(cursor, kOffsetLimit);
  plan.steps = decode_steps(in, op_names, 0);
  plan.subplans.resize(in.u8() % (kMaxSubplans + 1));
  for (size_t s = 0; s < plan.subplans.size(); ++s) {
    plan.subplans[s].steps = decode_steps(in, op_names, 100 * (s + 1));
    plan.subplans[s].outputs = decode_slot_list(in, kMaxSlotsPerStep);
  }
  return d;
}

// ------------------------------------------------------------------ encoding (seed generator)
// Encodes a plan built the way the tests build them (cpp/tests/plan_builder.h). Returns false when the plan
// uses something the format cannot say (more slots than the caps, a constant over 64 KiB, ...).
inline bool encode_steps(FuzzOutput& out, const std::vector<Step>& steps) {
  if (steps.size() > kMaxSteps) return false;
  out.u8(steps.size());
  for (const Step& s : steps) {
    if (s.op.empty() || s.op.size() > kMaxNameLength || s.inputs.size() > kMaxSlotsPerStep ||
        s.outputs.size() > kMaxSlotsPerStep || s.ints.size() > kMaxInts || s.floats.size() > kMaxFloats)
      return false;
    out.u8(s.op.size());
    out.append(s.op.data(), s.op.size());
    out.u8(s.inputs.size());
    for (int32_t slot : s.inputs) {
      if (slot < -1 || slot > 254) return false;
      out.u8(slot < 0 ? 255 : slot);
    }
    out.u8(s.outputs.size());
    for (int32_t slot : s.outputs) {
      if (slot < 0 || slot > 255) return false;
      out.u8(slot);
    }
    out.u8(s.ints.size());
    for (int64_t v : s.ints) {
      if (v >= -128 && v <= 127 && v != -128) {
        out.u8(static_cast<uint8_t>(static_cast<int8_t>(v)));
      } else {
        out.u8(0x80);
        out.u64(static_cast<uint64_t>(v));
      }
    }
    out.u8(s.floats.size());
    for (float f : s.floats) out.number(f);
  }
  return true;
}

inline bool encode_plan(const Plan& plan, uint8_t flags, const std::vector<uint8_t>& input_bytes,
                        std::vector<uint8_t>& result) {
  FuzzOutput out;
  if (plan.tensors.size() > kMaxTensors || plan.subplans.size() > kMaxSubplans) return false;
  // Bindings are implicit when they are the slots of each storage in order.
  std::vector<int32_t> auto_inputs, auto_outputs;
  bool bindings_in_order = true;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorSlot& t = plan.tensors[i];
    if (t.storage == Storage::kInput) {
      bindings_in_order = bindings_in_order && t.binding == static_cast<int32_t>(auto_inputs.size());
      auto_inputs.push_back(static_cast<int32_t>(i));
    } else if (t.storage == Storage::kOutput) {
      bindings_in_order = bindings_in_order && t.binding == static_cast<int32_t>(auto_outputs.size());
      auto_outputs.push_back(static_cast<int32_t>(i));
    }
  }
  const bool explicit_bindings = !bindings_in_order || auto_inputs != plan.inputs || auto_outputs != plan.outputs;
  flags = static_cast<uint8_t>(flags & ~(kFlagExplicitBindings | kFlagExplicitArena));
  if (explicit_bindings) flags |= kFlagExplicitBindings;
  const size_t flags_at = out.bytes.size();
  out.u8(flags);
  out.u8(plan.tensors.size());
  int64_t cursor = 0;
  for (const TensorSlot& t : plan.tensors) {
    if (static_cast<int>(t.dtype) >= 16 || t.dims.size() > kMaxRankCoded) return false;
    out.u8(static_cast<int>(t.dtype));
    out.u8(t.dims.size());
    for (int64_t dim : t.dims) {
      if (dim < 0 || dim > kDimLimit) return false;
      if (dim < 255) {
        out.u8(dim);
      } else {
        out.u8(255);
        out.u64(static_cast<uint64_t>(dim));
      }
    }
    out.u8(static_cast<int>(t.storage));
    if (t.storage == Storage::kArena) {
      if (t.offset == cursor) out.u8(255);
      else if (t.offset >= 0 && t.offset % 64 == 0 && t.offset / 64 < 254) out.u8(t.offset / 64);
      else if (t.offset >= 0 && t.offset <= kOffsetLimit) out.u8(254), out.u64(static_cast<uint64_t>(t.offset));
      else return false;
      cursor = std::max(cursor, align64_saturated(t.offset + coded_bytes(t)));
    } else if (t.storage == Storage::kConstant) {
      if (!t.constant || static_cast<int64_t>(t.constant->size()) != coded_bytes(t) ||
          coded_bytes(t) > kMaxConstantBytes)
        return false;
      out.u8(0);
      out.append(t.constant->data(), t.constant->size());
    }
    if (explicit_bindings) out.u8(t.binding);
  }
  if (explicit_bindings) {
    for (const auto* list : {&plan.inputs, &plan.outputs}) {
      if (list->size() > kMaxBindings) return false;
      out.u8(list->size());
      for (int32_t slot : *list) out.u8(slot);
    }
  }
  if (plan.arena_bytes != cursor) {
    out.bytes[flags_at] |= kFlagExplicitArena;
    out.u64(static_cast<uint64_t>(plan.arena_bytes));
  }
  if (!encode_steps(out, plan.steps)) return false;
  out.u8(plan.subplans.size());
  for (const Plan& sub : plan.subplans) {
    if (!encode_steps(out, sub.steps) || sub.outputs.size() > kMaxSlotsPerStep) return false;
    out.u8(sub.outputs.size());
    for (int32_t slot : sub.outputs) out.u8(slot);
  }
  out.append(input_bytes.data(), input_bytes.size());
  result = std::move(out.bytes);
  return true;
}

}  // namespace edgeinfer::fuzz
