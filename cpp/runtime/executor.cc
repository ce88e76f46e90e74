// The Model: a validated plan with every step prepared (packed weights, broadcast loops, tables), one
// 64-byte aligned buffer holding the arena and the scratch area, and a thread pool. run() binds the
// caller's buffers into the slot pointer table and executes the steps; it allocates nothing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <mutex>

#include "edgeinfer/aligned_buffer.h"
#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace edgeinfer {
namespace runtime {
namespace {

struct PreparedStep {
  const Step* step = nullptr;
  const OpDef* op = nullptr;
  std::unique_ptr<OpState> state;
  size_t stats_index = 0;  // into step_stats_
};

class ModelImpl final : public Model {
 public:
  ModelImpl(Plan plan, const ModelOptions& options) : plan_(std::move(plan)), options_(options) {
    validate_plan(plan_);
    options_.threads = std::max(1, std::min(options_.threads, 256));
    size_t scratch = 0;
    prepare_list(plan_.steps, root_steps_, scratch);
    subplan_steps_.resize(plan_.subplans.size());
    for (size_t s = 0; s < plan_.subplans.size(); ++s) prepare_list(plan_.subplans[s].steps, subplan_steps_[s], scratch);
    scratch_bytes_ = static_cast<int64_t>(align_up(scratch));
    release_copied_constants();
    const size_t arena = align_up(static_cast<size_t>(plan_.arena_bytes));
    buffer_ = AlignedBuffer(arena + static_cast<size_t>(scratch_bytes_) + kAlignment);
    for (const TensorSlot& t : plan_.tensors)
      if (t.storage == Storage::kConstant && t.constant) constant_bytes_ += t.bytes();
    pointers_.assign(plan_.tensors.size(), nullptr);
    for (size_t i = 0; i < plan_.tensors.size(); ++i) {
      const TensorSlot& t = plan_.tensors[i];
      if (t.storage == Storage::kArena) pointers_[i] = buffer_.data() + t.offset;
      if (t.storage == Storage::kConstant && t.constant) pointers_[i] = const_cast<uint8_t*>(t.constant->data());
    }
    scratch_ = buffer_.data() + arena;
    if (options_.threads > 1) pool_ = std::make_unique<ThreadPool>(options_.threads);
  }

  void run(const void* const* inputs, void* const* outputs) override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const int32_t slot : plan_.inputs) {
      const TensorSlot& t = plan_.tensors[static_cast<size_t>(slot)];
      pointers_[static_cast<size_t>(slot)] = static_cast<uint8_t*>(const_cast<void*>(inputs[t.binding]));
    }
    for (const int32_t slot : plan_.outputs) {
      const TensorSlot& t = plan_.tensors[static_cast<size_t>(slot)];
      pointers_[static_cast<size_t>(slot)] = static_cast<uint8_t*>(outputs[t.binding]);
    }
    RunContext ctx;
    ctx.plan = &plan_;
    ctx.tensors = plan_.tensors.data();
    ctx.ptr = pointers_.data();
    ctx.scratch = scratch_;
    ctx.pool = pool_.get();
    ctx.executor = this;
    ctx.run_subplan = &ModelImpl::run_subplan_entry;
    const ThreadPool::RunScope scope(pool_.get());
    run_list(ctx, root_steps_);
    runs_.fetch_add(1, std::memory_order_relaxed);
  }

  const Plan& plan() const override { return plan_; }

  ModelStats stats() const override {
    ModelStats s;
    s.arena_bytes = plan_.arena_bytes;
    s.scratch_bytes = scratch_bytes_;
    s.weight_bytes = weight_bytes_;
    s.constant_bytes = constant_bytes_;
    s.runs = runs_.load(std::memory_order_relaxed);
    s.threads = options_.threads;
    std::lock_guard<std::mutex> lock(mutex_);
    s.steps = step_stats_;
    return s;
  }

 private:
  void prepare_list(const std::vector<Step>& steps, std::vector<PreparedStep>& out, size_t& scratch) {
    out.reserve(steps.size());
    for (const Step& step : steps) {
      PreparedStep p;
      p.step = &step;
      p.op = find_op(step.op);
      PrepareContext ctx{plan_, options_};
      if (p.op->prepare) p.state = p.op->prepare(ctx, step);
      for (const int32_t slot : ctx.copied_constants) ++copies_[slot];
      scratch = std::max(scratch, ctx.scratch_bytes);
      weight_bytes_ += ctx.weight_bytes;
      p.stats_index = step_stats_.size();
      step_stats_.push_back({step.op, step.name, ctx.kernel});
      out.push_back(std::move(p));
    }
  }

  // Frees each constant whose every reader copied it at prepare (and that is no plan output): the model
  // then holds its weights once, in packed (FP32, FP16 or INT8) form.
  void release_copied_constants() {
    std::map<int32_t, int> reads;
    auto count = [&](const std::vector<Step>& steps) {
      for (const Step& step : steps)
        for (const int32_t slot : std::set<int32_t>(step.inputs.begin(), step.inputs.end()))
          if (slot >= 0) ++reads[slot];
    };
    count(plan_.steps);
    for (const auto& sub : plan_.subplans) {
      count(sub.steps);
      for (const int32_t slot : sub.outputs) reads[slot] += 1 << 20;  // read by the If's copy
    }
    for (const int32_t slot : plan_.outputs) reads[slot] += 1 << 20;
    for (const auto& [slot, copied] : copies_) {
      TensorSlot& t = plan_.tensors[static_cast<size_t>(slot)];
      if (t.storage == Storage::kConstant && reads[slot] == copied) t.constant.reset();
    }
    copies_.clear();
  }

  static void run_subplan_entry(RunContext& ctx, int64_t subplan) {
    auto* self = static_cast<ModelImpl*>(ctx.executor);
    self->run_list(ctx, self->subplan_steps_[static_cast<size_t>(subplan)]);
  }

  void run_list(RunContext& ctx, const std::vector<PreparedStep>& steps) {
    if (!options_.profile) {
      for (const PreparedStep& p : steps) p.op->run(ctx, *p.step, p.state.get());
      return;
    }
    using Clock = std::chrono::steady_clock;
    for (const PreparedStep& p : steps) {
      const Clock::time_point start = Clock::now();
      p.op->run(ctx, *p.step, p.state.get());
      StepStats& s = step_stats_[p.stats_index];
      s.total_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
      ++s.calls;
    }
  }

  Plan plan_;
  ModelOptions options_;
  std::vector<PreparedStep> root_steps_;
  std::vector<std::vector<PreparedStep>> subplan_steps_;
  std::vector<StepStats> step_stats_;
  std::map<int32_t, int> copies_;  // constant slot -> steps that copied it (during preparation)
  AlignedBuffer buffer_;
  uint8_t* scratch_ = nullptr;
  int64_t scratch_bytes_ = 0;
  int64_t weight_bytes_ = 0;
  int64_t constant_bytes_ = 0;
  std::vector<uint8_t*> pointers_;
  std::unique_ptr<ThreadPool> pool_;
  mutable std::mutex mutex_;
  std::atomic<int64_t> runs_{0};
};

}  // namespace
}  // namespace runtime

std::unique_ptr<Model> Model::create(Plan plan, const ModelOptions& options) {
  return std::make_unique<runtime::ModelImpl>(std::move(plan), options);
}

}  // namespace edgeinfer
