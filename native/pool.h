// One persistent pool of worker threads for the whole process (never two pools). parallel_for runs
// fn(task) for task in [0, n) on the workers and the calling thread, and returns when all are done.
#pragma once
#include <functional>
#include <vector>

namespace vlm2vla {
void pool_init(int threads);  // idempotent; threads <= 0 means "number of cores"
int pool_threads();
bool pool_spins();  // whether idle workers spin for the next job (VLM2VLA_SPIN_US > 0)
void parallel_for(int n, const std::function<void(int)>& fn);

/** Result of run_pinned: fn's value on each thread, the CPU each was pinned to (-1: pinning failed). */
struct PinnedRun {
  std::vector<double> values;
  std::vector<int> cpus;
};
// Runs fn once on each of n fresh threads started together, thread i pinned to the i-th CPU the process
// may run on (wrapping around when n exceeds them): for measurements such as the FMA peak, where two
// threads must not share a core. Not for kernels: those use the pool (never two pools at once).
PinnedRun run_pinned(int n, const std::function<double()>& fn);
}  // namespace vlm2vla
