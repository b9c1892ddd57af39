// One persistent pool of worker threads for the whole process (never two pools). parallel_for runs
// fn(task) for task in [0, n) on the workers and the calling thread, and returns when all are done.
#pragma once
#include <functional>

namespace vlm2vla {
void pool_init(int threads);  // idempotent; threads <= 0 means "number of cores"
int pool_threads();
bool pool_spins();  // whether idle workers spin for the next job (VLM2VLA_SPIN_US > 0)
void parallel_for(int n, const std::function<void(int)>& fn);
}  // namespace vlm2vla
