// The thread pool: a job is a counter of tasks that workers and the caller claim atomically until
// none are left. Between jobs a worker first spins for a short while (VLM2VLA_SPIN_US, default
// 200 us) watching for the next job, then sleeps on a condition variable. Decoding calls the pool
// every few microseconds: a spinning worker starts in well under a microsecond, a sleeping one takes
// ~13 us to wake, which is as long as the work it would share. The caller likewise spins for the
// workers to finish before it sleeps. The state lives on the heap and is never destroyed: detached
// workers wait on it until the process ends, and destroying a condition variable with waiters
// during exit would hang the process.
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace vlm2vla {
namespace {
struct State {
  std::mutex mu;
  std::condition_variable wake, done;
  // job, total, sleepers and waiting change under mu; generation, next and active are also read
  // without it while spinning.
  const std::function<void(int)>* job = nullptr;
  int total = 0;
  int sleepers = 0;
  bool waiting = false;
  std::atomic<unsigned long> generation{0};
  std::atomic<int> next{0};
  std::atomic<int> active{0};
  int threads = 1;
  long spin_ns = 200000;
  bool started = false;
};

State& state() {
  static State* s = new State();
  return *s;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or spin_ns have passed; true if done() came true.
template <typename F>
bool spin_until(long spin_ns, F done) {
  if (spin_ns <= 0) return false;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0;; i++) {
    if (done()) return true;
    if ((i & 63) == 63 && std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count() > spin_ns) return done();
    cpu_relax();
  }
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
    const bool fresh = spin_until(s.spin_ns, [&] { return s.generation.load(std::memory_order_acquire) != seen; });
    const std::function<void(int)>* fn;
    {
      std::unique_lock<std::mutex> lock(s.mu);
      if (!fresh) {
        s.sleepers++;
        s.wake.wait(lock, [&] { return s.generation.load() != seen; });
        s.sleepers--;
      }
      seen = s.generation.load();
      fn = s.job;
      if (fn == nullptr) continue;  // the job finished before this worker got to it
      s.active.fetch_add(1);
    }
    run_tasks(s, *fn);
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.active.fetch_sub(1) == 1 && s.waiting) s.done.notify_all();
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
  // VLM2VLA_SPIN_US: microseconds, a whole number >= 0; unset, empty or malformed keeps the default.
  if (const char* spin = std::getenv("VLM2VLA_SPIN_US")) {
    char* end = nullptr;
    const long us = std::strtol(spin, &end, 10);
    if (end != spin && *end == '\0' && us >= 0 && us <= 1000000) s.spin_ns = us * 1000L;
  }
  for (int i = 1; i < threads; i++) std::thread(worker).detach();
}

PinnedRun run_pinned(int n, const std::function<double()>& fn) {
  PinnedRun r;
  if (n < 1) return r;
  r.values.assign(n, 0.0);
  r.cpus.assign(n, -1);
  std::vector<int> allowed;
#if defined(__linux__)
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &mask)) allowed.push_back(c);
#endif
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; i++) {
    threads.emplace_back([&, i] {
#if defined(__linux__)
      if (!allowed.empty()) {
        const int cpu = allowed[i % allowed.size()];
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0) r.cpus[i] = cpu;
      }
#endif
      // Start together: each thread waits until all are pinned and ready.
      ready.fetch_add(1);
      while (ready.load() < n) cpu_relax();
      r.values[i] = fn();
    });
  }
  for (auto& t : threads) t.join();
  return r;
}

int pool_threads() { return state().threads; }
bool pool_spins() { return state().spin_ns > 0; }

void parallel_for(int n, const std::function<void(int)>& fn) {
  State& s = state();
  if (n <= 0) return;
  if (s.threads == 1 || n == 1) {
    for (int i = 0; i < n; i++) fn(i);
    return;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.job = &fn;
    s.total = n;
    s.next.store(0);
    s.generation.fetch_add(1, std::memory_order_release);
    wake = s.sleepers > 0;
  }
  if (wake) s.wake.notify_all();
  run_tasks(s, fn);
  // A worker that has not started by now finds job == nullptr (cleared below, under the lock) and
  // skips this job, so once the tasks are all claimed only the active workers are waited for.
  spin_until(s.spin_ns, [&] { return s.active.load() == 0; });
  std::unique_lock<std::mutex> lock(s.mu);
  s.waiting = true;
  s.done.wait(lock, [&] { return s.active.load() == 0; });
  s.waiting = false;
  s.job = nullptr;
}
}  // namespace vlm2vla
