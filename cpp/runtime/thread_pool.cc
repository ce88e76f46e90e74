// Workers wait on a condition variable for a new job generation, take chunk indices from an atomic
// counter, and the caller works too. Nothing is allocated per parallel_for: the job is a few fields in
// State and the body is passed by pointer. A parallel_for from inside a worker (or while another thread's
// job runs on this pool) is serialised: nested calls run inline.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace edgeinfer {

namespace {
thread_local const ThreadPool* t_current_pool = nullptr;  // the pool whose worker this thread is, or is running
}

struct ThreadPool::State {
  std::mutex mutex;                 // guards the job fields, generation, active, stop
  std::condition_variable wake;     // workers: a new generation or stop
  std::condition_variable done;     // caller: all chunks finished and no worker inside the job
  std::vector<std::thread> workers;
  bool stop = false;
  uint64_t generation = 0;
  int active = 0;  // workers that joined the current generation and have not left it

  // The job.
  Trampoline trampoline = nullptr;
  const void* body = nullptr;
  int64_t count = 0, chunk = 0, chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};

  std::mutex call_mutex;  // one parallel_for at a time per pool

  void work(Trampoline tr, const void* b, int64_t n, int64_t size, int64_t total_chunks) {
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= total_chunks) return;
      const int64_t begin = i * size;
      const int64_t end = std::min(n, begin + size);
      tr(b, begin, end);
      if (finished.fetch_add(1, std::memory_order_acq_rel) + 1 == total_chunks) {
        std::lock_guard<std::mutex> lock(mutex);
        done.notify_all();
      }
    }
  }
};

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)), state_(new State()) {
  State* s = state_;
  s->workers.reserve(static_cast<size_t>(threads_ - 1));
  for (int w = 1; w < threads_; ++w) {
    s->workers.emplace_back([this, s] {
      t_current_pool = this;
      std::unique_lock<std::mutex> lock(s->mutex);
      uint64_t seen = 0;
      for (;;) {
        s->wake.wait(lock, [&] { return s->stop || s->generation != seen; });
        if (s->stop) return;
        seen = s->generation;
        ++s->active;
        const Trampoline tr = s->trampoline;
        const void* body = s->body;
        const int64_t count = s->count, chunk = s->chunk, chunks = s->chunks;
        lock.unlock();
        s->work(tr, body, count, chunk, chunks);
        lock.lock();
        if (--s->active == 0) s->done.notify_all();
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (std::thread& t : state_->workers) t.join();
  delete state_;
}

void ThreadPool::run(int64_t count, int64_t grain, Trampoline trampoline, const void* body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t chunks = std::min<int64_t>(threads_, (count + grain - 1) / grain);
  if (chunks <= 1 || t_current_pool == this) {
    trampoline(body, 0, count);
    return;
  }
  const int64_t chunk = (count + chunks - 1) / chunks;
  chunks = (count + chunk - 1) / chunk;
  State* s = state_;
  std::lock_guard<std::mutex> call(s->call_mutex);
  {
    std::unique_lock<std::mutex> lock(s->mutex);
    // A worker that woke late for the previous job must leave it before the fields change.
    s->done.wait(lock, [&] { return s->active == 0; });
    s->trampoline = trampoline;
    s->body = body;
    s->count = count;
    s->chunk = chunk;
    s->chunks = chunks;
    s->next.store(0, std::memory_order_relaxed);
    s->finished.store(0, std::memory_order_relaxed);
    ++s->generation;
  }
  s->wake.notify_all();
  const ThreadPool* previous = t_current_pool;
  t_current_pool = this;
  s->work(trampoline, body, count, chunk, chunks);
  t_current_pool = previous;
  std::unique_lock<std::mutex> lock(s->mutex);
  s->done.wait(lock, [&] { return s->finished.load(std::memory_order_acquire) == chunks && s->active == 0; });
}

}  // namespace edgeinfer
