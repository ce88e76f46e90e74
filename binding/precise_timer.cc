// One deadline at a time with microsecond resolution, for the BatchScheduler's queue delay: libuv's timers
// count whole milliseconds, so a maxQueueDelayMicros of 500 waited 1-2 ms. A thread of the timer's own sleeps
// on a condition variable until the deadline (steady clock) and calls back into JS through a thread-safe
// function, so the callback runs on the event loop like a setTimeout callback. While armed the timer keeps the
// event loop alive, idle it does not.
//
// Lifetime: the state is shared by the JS handle (an external, freed when collected) and the thread-safe
// function, whose finalizer runs after preciseTimerClose() released it or when the environment is torn down
// (Node aborts and finalizes thread-safe functions then) and stops and joins the thread first. So a handle used
// after close still reads a live state (EDGEINFER_DISPOSED), and the thread never outlives what it reads.
#include "precise_timer.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace edgeinfer::binding {

namespace {

using Clock = std::chrono::steady_clock;

struct TimerState {
  std::mutex mutex;
  std::condition_variable changed;
  bool armed = false;
  bool stopping = false;
  uint64_t generation = 0;  // bumped by every start and cancel: a wait or a queued call of an older one is stale
  Clock::time_point deadline;
  std::thread thread;
  Napi::ThreadSafeFunction call_js;
  // Event-loop thread only:
  bool referenced = false;
  bool released = false;
};

using SharedState = std::shared_ptr<TimerState>;

// Marks the handles made here: another addon's external passed in is refused, never read as a timer.
constexpr napi_type_tag kTimerHandleTag = {0x6564676569e1f3a1ULL, 0x70726563697365ULL};

struct Fired {
  TimerState* state;
  uint64_t generation;
};

void set_referenced(Napi::Env env, TimerState& state, bool on) {
  if (state.referenced == on || state.released) return;
  state.referenced = on;
  if (on) state.call_js.Ref(env);
  else state.call_js.Unref(env);
}

// Event-loop thread: a new deadline, or none (armed false). Either makes the thread's wait and any call it queued
// for an earlier one stale.
void set_deadline(Napi::Env env, TimerState& state, bool armed, Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.deadline = deadline;
    state.armed = armed;
    ++state.generation;
  }
  state.changed.notify_all();
  set_referenced(env, state, armed);
}

// Event-loop thread: the thread waits at most for a deadline; calls it makes now return napi_closing.
void stop_thread(TimerState& state) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.stopping = true;
  }
  state.changed.notify_all();
  if (state.thread.joinable()) state.thread.join();
}

void on_fired(Napi::Env env, Napi::Function callback, Fired* fired) {
  TimerState& state = *fired->state;
  const uint64_t generation = fired->generation;
  delete fired;
  if (state.released) return;                      // closed meanwhile
  if (generation != state.generation) return;    // re-armed or cancelled after it fired
  set_referenced(env, state, false);
  callback.Call({});
}

void wait_loop(TimerState* state) {
  std::unique_lock<std::mutex> lock(state->mutex);
  while (!state->stopping) {
    if (!state->armed) {
      state->changed.wait(lock);
      continue;
    }
    const uint64_t generation = state->generation;
    const Clock::time_point deadline = state->deadline;
    if (state->changed.wait_until(lock, deadline, [&] { return state->stopping || state->generation != generation; })) continue;
    state->armed = false;
    lock.unlock();
    auto* fired = new Fired{state, generation};
    if (state->call_js.NonBlockingCall(fired, on_fired) != napi_ok) delete fired;  // closing: the environment is going away
    lock.lock();
  }
}

TimerState* state_of(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<SharedState>>().CheckTypeTag(&kTimerHandleTag)) {
    throw_invalid(info.Env(), "expected a precise timer handle");
  }
  TimerState* state = info[0].As<Napi::External<SharedState>>().Data()->get();
  if (state->released) throw_error(info.Env(), "EDGEINFER_DISPOSED", "the precise timer was closed");
  return state;
}

}  // namespace

Napi::Value create_precise_timer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) throw_invalid(env, "createPreciseTimer(callback) takes a function");
  const SharedState shared = std::make_shared<TimerState>();
  TimerState* state = shared.get();
  state->call_js = Napi::ThreadSafeFunction::New(
      env, info[0].As<Napi::Function>(), "edgeinfer:preciseTimer", 0, 1, new SharedState(shared),
      [](Napi::Env, void*, SharedState* owned) {
        (*owned)->released = true;
        stop_thread(**owned);
        delete owned;
      },
      static_cast<void*>(nullptr));
  state->call_js.Unref(env);
  state->thread = std::thread(wait_loop, state);
  auto handle = Napi::External<SharedState>::New(env, new SharedState(shared), [](Napi::Env, SharedState* owned) { delete owned; });
  handle.TypeTag(&kTimerHandleTag);
  return handle;
}

// (handle, micros): fires once, `micros` from now; replaces any earlier deadline.
Napi::Value precise_timer_start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TimerState* state = state_of(info);
  const double micros = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1.0;
  if (!(micros >= 0.0 && micros <= 3.6e9)) throw_invalid(env, "preciseTimerStart(handle, micros): micros must be in [0, 3.6e9]");
  set_deadline(env, *state, true, Clock::now() + std::chrono::microseconds(static_cast<int64_t>(micros)));
  return env.Undefined();
}

Napi::Value precise_timer_cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  set_deadline(env, *state_of(info), false, {});
  return env.Undefined();
}

// Stops the thread and releases the callback; the handle is then dead (EDGEINFER_DISPOSED).
Napi::Value precise_timer_close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TimerState* state = state_of(info);
  set_referenced(env, *state, false);
  stop_thread(*state);
  state->released = true;
  state->call_js.Release();  // the finalizer frees the state once queued calls are done
  return env.Undefined();
}

}  // namespace edgeinfer::binding
