// The thread pool: workers sleep on a condition variable; a job is a counter of tasks that workers
// and the caller claim atomically until none are left. The state lives on the heap and is never
// destroyed: detached workers wait on it until the process ends, and destroying a condition
// variable with waiters during exit would hang the process.
#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace vlm2vla {
namespace {
struct State {
  std::mutex mu;
  std::condition_variable wake, done;
  const std::function<void(int)>* job = nullptr;
  std::atomic<int> next{0};
  int total = 0;
  int active = 0;
  unsigned long generation = 0;
  int threads = 1;
  bool started = false;
};

State& state() {
  static State* s = new State();
  return *s;
}

void run_tasks(State& s, const std::function<void(int)>& fn) {
  for (;;) {
    const int t = s.next.fetch_add(1);
    if (t >= s.total) break;
    fn(t);
  }
}

void worker() {
  State& s = state();
  unsigned long seen = 0;
  for (;;) {
    const std::function<void(int)>* fn;
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.wake.wait(lock, [&] { return s.generation != seen; });
      seen = s.generation;
      fn = s.job;
      if (fn == nullptr) continue;  // woke after the job finished
      s.active++;
    }
    run_tasks(s, *fn);
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (--s.active == 0) s.done.notify_all();
    }
  }
}
}  // namespace

void pool_init(int threads) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.started) return;
  s.started = true;
  if (threads <= 0) threads = (int)std::thread::hardware_concurrency();
  if (threads < 1) threads = 1;
  s.threads = threads;
  for (int i = 1; i < threads; i++) std::thread(worker).detach();
}

int pool_threads() { return state().threads; }

void parallel_for(int n, const std::function<void(int)>& fn) {
  State& s = state();
  if (n <= 0) return;
  if (s.threads == 1 || n == 1) {
    for (int i = 0; i < n; i++) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.job = &fn;
    s.total = n;
    s.next.store(0);
    s.generation++;
  }
  s.wake.notify_all();
  run_tasks(s, fn);
  std::unique_lock<std::mutex> lock(s.mu);
  s.done.wait(lock, [&] { return s.active == 0 && s.next.load() >= s.total; });
  s.job = nullptr;
}
}  // namespace vlm2vla
