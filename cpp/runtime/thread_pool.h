// One pool of worker threads per model for intra-op parallelism. parallel_for splits [0, count) into
// contiguous chunks run by the workers and the calling thread; it returns when all are done. It does not
// allocate per call (the task is passed by reference), so it can be used on the inference hot path.
#pragma once

#include <cstdint>

namespace edgeinfer {

class ThreadPool {
 public:
  // threads: total threads including the caller (1 = no workers, everything inline).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // While a scope is open (a model run), idle workers spin between parallel_for calls instead of sleeping:
  // the next op comes within microseconds. When the last scope closes they go to sleep at once, so a model
  // between runs never takes a core from another model's run.
  class RunScope {
   public:
    explicit RunScope(ThreadPool* pool);
    ~RunScope();
    RunScope(const RunScope&) = delete;
    RunScope& operator=(const RunScope&) = delete;

   private:
    ThreadPool* pool_;
  };

  // body(begin, end) for disjoint chunks covering [0, count); at most one chunk per thread, each at least
  // `grain` long (except the last).
  template <typename Body>
  void parallel_for(int64_t count, int64_t grain, const Body& body) {
    run(count, grain, &invoke<Body>, &body);
  }

 private:
  using Trampoline = void (*)(const void* body, int64_t begin, int64_t end);
  template <typename Body>
  static void invoke(const void* body, int64_t begin, int64_t end) {
    (*static_cast<const Body*>(body))(begin, end);
  }
  void run(int64_t count, int64_t grain, Trampoline trampoline, const void* body);

  int threads_;
  struct State;
  State* state_;  // workers, queue and wake-up; owned
};

}  // namespace edgeinfer
