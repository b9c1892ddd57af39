// The DESIGN.md §6 reference block (2 pre-LN layers, d=256, 4 heads, FFN 1024, seq 128, batch 8, MSE):
// forward + backward step time on our engine against PyTorch in the same run.
// Run: node --import tsx bench/block.ts
// PyTorch comes from Debian (`apt-get install python3-torch libopenblas0-pthread`: without OpenBLAS
// Debian's torch falls back to the slow reference BLAS, ~45× slower, which would be no comparison), run as
// /usr/bin/python3 with OPENBLAS_CORETYPE=SkylakeX. Thread for thread: our engine runs with N threads
// (VLM2VLA_THREADS, default all cores) and PyTorch at its best N-core setting, the faster of 1 torch thread +
// N OpenBLAS threads (DESIGN.md §6: the best on today's 2-core machines) and N torch threads + 1 OpenBLAS thread.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Tensor, backward, mse, initBackend, getBackend, arena } from '../src/tensor/index.ts';
import { TransformerBlock } from '../src/nn/index.ts';
import { Rng } from '../src/util/index.ts';
import { printMachineLoad, verdict } from './machine.ts';

const load = printMachineLoad();
const threads = Number(process.env.VLM2VLA_THREADS) > 0 ? Number(process.env.VLM2VLA_THREADS) : availableParallelism();
const [D, H, FF, T, B] = [256, 4, 1024, 128, 8];
const backend = await initBackend();
const rng = new Rng(0);
const blocks = [0, 1].map(() => new TransformerBlock({ dim: D, heads: H, ffn: FF, ropeTheta: 0 }, rng));
const params = blocks.flatMap((b) => b.parameters());
const x = new Tensor(
  [B, T, D],
  Float32Array.from({ length: B * T * D }, () => rng.normal()),
);
const y = new Tensor(
  [B, T, D],
  Float32Array.from({ length: B * T * D }, () => rng.normal()),
);
const positions = Int32Array.from({ length: B * T }, (_, i) => i % T);

function step(): number {
  for (const p of params) p.zeroGrad();
  let h = x;
  for (const b of blocks) h = b.forward(h, positions);
  const loss = mse(h, y);
  const value = loss.item();
  backward(loss);
  return value;
}

for (let i = 0; i < 5; i++) step();
const times: number[] = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  step();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const ours = times[15]!;
console.log(
  `vlm2vla ${getBackend().describe()}: median ${ours.toFixed(1)} ms per fwd+bwd step (min ${times[0]!.toFixed(1)}; arena reuses ${arena.reuses}, allocations ${arena.allocations})`,
);

const script = join(dirname(fileURLToPath(import.meta.url)), 'block_torch.py');
let best: { median_ms: number; setting: string } | null = null;
for (const [torchThreads, blasThreads] of threads === 1
  ? [[1, 1]]
  : [
      [1, threads],
      [threads, 1],
    ]) {
  const env = {
    ...process.env,
    OPENBLAS_CORETYPE: 'SkylakeX',
    OPENBLAS_NUM_THREADS: String(blasThreads),
    OMP_NUM_THREADS: String(torchThreads),
  };
  const torchRun = spawnSync('/usr/bin/python3', [script, String(torchThreads)], { env, encoding: 'utf8' });
  if (torchRun.status !== 0) {
    console.log(
      `PyTorch reference not available (${torchRun.stderr.trim().split('\n').pop()}); install it with: apt-get install -y python3-torch libopenblas0-pthread`,
    );
    process.exit(backend.name === 'native' ? 0 : 1);
  }
  const t = JSON.parse(torchRun.stdout.trim().split('\n').pop()!) as { torch: string; median_ms: number; min_ms: number; blas: string };
  const setting = `${torchThreads} torch thread(s) + ${blasThreads} OpenBLAS thread(s), OPENBLAS_CORETYPE=SkylakeX; ${t.blas}`;
  console.log(`PyTorch ${t.torch} (${setting}): median ${t.median_ms.toFixed(1)} ms per step (min ${t.min_ms.toFixed(1)})`);
  if (!best || t.median_ms < best.median_ms) best = { median_ms: t.median_ms, setting };
}
const ratio = ours / best!.median_ms;
console.log(
  `ratio vlm2vla (${threads} thread(s)) / PyTorch at its best ${threads}-core setting (${best!.setting}) = ${ratio.toFixed(2)} (target ≤ 0.6: ${verdict(ratio <= 0.6, load)})`,
);
