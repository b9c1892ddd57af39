// The DESIGN.md §6 reference block (2 pre-LN layers, d=256, 4 heads, FFN 1024, seq 128, batch 8, MSE):
// forward + backward step time on our engine against PyTorch in the same run.
// Run: node --import tsx bench/block.ts
// PyTorch comes from Debian (`apt-get install python3-torch libopenblas0-pthread`: without OpenBLAS
// Debian's torch falls back to the slow reference BLAS, ~45× slower, which would be no comparison), run as /usr/bin/python3 with one torch
// thread and OPENBLAS_CORETYPE=SkylakeX (DESIGN.md §6's best settings). Our engine runs with the
// thread count of VLM2VLA_THREADS (default: all cores) on the native backend.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { Tensor, backward, mse, initBackend, getBackend, arena } from '../src/tensor/index.ts';
import { TransformerBlock } from '../src/nn/index.ts';
import { Rng } from '../src/util/index.ts';

const [D, H, FF, T, B] = [256, 4, 1024, 128, 8];
const backend = await initBackend();
const rng = new Rng(0);
const blocks = [0, 1].map(() => new TransformerBlock({ dim: D, heads: H, ffn: FF, ropeTheta: 0 }, rng));
const params = blocks.flatMap((b) => b.parameters());
const x = new Tensor([B, T, D], Float32Array.from({ length: B * T * D }, () => rng.normal()));
const y = new Tensor([B, T, D], Float32Array.from({ length: B * T * D }, () => rng.normal()));
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
console.log(`vlm2vla ${getBackend().describe()}: median ${ours.toFixed(1)} ms per fwd+bwd step (min ${times[0]!.toFixed(1)}; arena reuses ${arena.reuses}, allocations ${arena.allocations})`);

const script = join(dirname(fileURLToPath(import.meta.url)), 'block_torch.py');
const torchRun = spawnSync('/usr/bin/python3', [script, '1'], { env: { ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_NUM_THREADS: '1' }, encoding: 'utf8' });
if (torchRun.status !== 0) {
  console.log(`PyTorch reference not available (${torchRun.stderr.trim().split('\n').pop()}); install it with: apt-get install -y python3-torch libopenblas0-pthread`);
  process.exit(backend.name === 'native' ? 0 : 1);
}
const t = JSON.parse(torchRun.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; median_ms: number; blas: string };
console.log(`PyTorch ${t.torch} (${t.threads} thread, OPENBLAS_CORETYPE=SkylakeX; ${t.blas}): median ${t.median_ms.toFixed(1)} ms per step`);
const ratio = ours / t.median_ms;
console.log(`ratio vlm2vla / PyTorch = ${ratio.toFixed(2)} (target ≤ 0.75: ${ratio <= 0.75 ? 'met' : 'MISSED'})`);
