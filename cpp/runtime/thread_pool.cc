// Workers wait for a new job generation, take chunk indices from an atomic counter, and the caller works
// too. Nothing is allocated per parallel_for: the job is a few fields in State and the body is passed by
// pointer. A parallel_for from inside a worker (or while another thread's job runs on this pool) is
// serialised: nested calls run inline.
//
// Inside a model run (RunScope), waiting spins for a short while before it blocks on a condition variable:
// a model's ops come back to back, and a futex wake-up costs tens of microseconds, as much as a small op's
// whole GEMM (BERT-small at batch 1 ran slower on two threads than on one). Workers stop spinning when the
// run ends or after kSpinMicroseconds without work, so an idle model costs no CPU and no core is taken
// from the next model of a pipeline.
#include "runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace edgeinfer {

namespace {
thread_local const ThreadPool* t_current_pool = nullptr;  // the pool whose worker this thread is, or is running

// Long enough to bridge the gap between two ops of one inference (and between back-to-back inferences of a
// busy service), short enough that an idle pool stops burning a core almost at once.
constexpr auto kSpinMicroseconds = std::chrono::microseconds(250);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until ready() or the spin time is up; true if ready.
template <typename Ready>
bool spin_until(const Ready& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinMicroseconds;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
  }
}
}  // namespace

struct ThreadPool::State {
  std::mutex mutex;                 // guards the job fields, generation, active, stop
  std::condition_variable wake;     // workers: a new generation or stop
  std::condition_variable done;     // caller: all chunks finished and no worker inside the job
  std::vector<std::thread> workers;
  // Written under the mutex; atomic so that spinning waiters can read them without it.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> generation{0};
  std::atomic<int> active{0};  // workers that joined the current generation and have not left it
  std::atomic<int> scopes{0};  // open RunScopes: workers may spin while there is one

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
        done.notify_all();  // cheap when the caller is spinning (no waiter)
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
      uint64_t seen = 0;
      const auto has_news = [&] { return s->stop.load(std::memory_order_acquire) || s->generation.load(std::memory_order_acquire) != seen; };
      const auto stop_spinning = [&] { return has_news() || s->scopes.load(std::memory_order_relaxed) == 0; };
      std::unique_lock<std::mutex> lock(s->mutex);
      for (;;) {
        if (!has_news() && s->scopes.load(std::memory_order_relaxed) > 0) {
          lock.unlock();
          spin_until(stop_spinning);
          lock.lock();
        }
        s->wake.wait(lock, has_news);
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

ThreadPool::RunScope::RunScope(ThreadPool* pool) : pool_(pool) {
  if (pool_ != nullptr) pool_->state_->scopes.fetch_add(1, std::memory_order_relaxed);
}

ThreadPool::RunScope::~RunScope() {
  if (pool_ != nullptr) pool_->state_->scopes.fetch_sub(1, std::memory_order_relaxed);
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
  const auto all_done = [&] { return s->finished.load(std::memory_order_acquire) == chunks && s->active.load(std::memory_order_acquire) == 0; };
  // A worker past its last chunk touches only State, never the body: returning while it unlocks is safe.
  if (spin_until(all_done)) return;
  std::unique_lock<std::mutex> lock(s->mutex);
  s->done.wait(lock, all_done);
}

}  // namespace edgeinfer
