// GEMM throughput of the native kernels (GFLOP/s) on the transformer shapes, with 1 and 2 threads,
// against the machine's fp32 peak (an FMA loop, one thread pinned per core, measured in the same run and
// stated in DESIGN.md §6 for an idle machine) and the TypeScript reference measured in the same run.
// Run: node --import tsx bench/gemm.ts            (spawns one child per thread count)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend, nativeInfo, nativeFmaPeak } from '../src/tensor/backends/native.ts';
import { tsBackend } from '../src/tensor/backends/ts.ts';
import type { Backend, GemmArgs } from '../src/tensor/backend.ts';
import { Rng } from '../src/util/index.ts';
import { printMachineLoad, verdict } from './machine.ts';

/** fp32 FMA peak of this project's machines on an idle machine, 1 and 2 cores, AVX-512 (DESIGN.md §6). */
const PEAK_IDLE = [229, 462];

interface Shape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

const SHAPES: Shape[] = [
  { name: '512³', M: 512, N: 512, K: 512, transA: false, transB: false },
  { name: '1024³', M: 1024, N: 1024, K: 1024, transA: false, transB: false },
  { name: 'fwd M2048 K256 N1024', M: 2048, N: 1024, K: 256, transA: false, transB: false },
  { name: 'dA = dC·Bᵀ (M2048 K1024 N256)', M: 2048, N: 256, K: 1024, transA: false, transB: true },
  { name: 'dB = Aᵀ·dC (M256 K2048 N1024)', M: 256, N: 1024, K: 2048, transA: true, transB: false },
];

function args(s: Shape, rng: Rng): GemmArgs {
  const A = new Float32Array(s.M * s.K).map(() => rng.normal());
  const B = new Float32Array(s.K * s.N).map(() => rng.normal());
  return {
    transA: s.transA,
    transB: s.transB,
    M: s.M,
    N: s.N,
    K: s.K,
    alpha: 1,
    beta: 0,
    A,
    lda: s.transA ? s.M : s.K,
    B,
    ldb: s.transB ? s.K : s.N,
    C: new Float32Array(s.M * s.N),
    ldc: s.N,
  };
}

function gflops(k: Backend, g: GemmArgs, minMs = 400): number {
  k.gemm(g); // warm-up (page faults, packing buffers)
  let reps = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs || reps < 3) {
    k.gemm(g);
    reps++;
    t = performance.now();
  }
  return (2 * g.M * g.N * g.K * reps) / ((t - t0) / 1000) / 1e9;
}

if (process.argv[2] === '--child') {
  const native = loadNativeBackend();
  if (!native) {
    console.log(JSON.stringify({ error: 'native addon not built' }));
    process.exit(0);
  }
  const rng = new Rng(1);
  const results = SHAPES.map((s) => ({ name: s.name, gflops: gflops(native, args(s, rng)) }));
  console.log(JSON.stringify({ info: nativeInfo(), peak: nativeFmaPeak().total, results }));
} else {
  const load = printMachineLoad();
  const self = fileURLToPath(import.meta.url);
  const runs = [1, 2].map((threads) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child'], {
      env: { ...process.env, VLM2VLA_THREADS: String(threads) },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      info: { isa: string; threads: number };
      peak: number;
      results: { name: string; gflops: number }[];
      error?: string;
    };
  });
  if (runs[0]!.error) {
    console.log('native addon not built: run `npm run build:native`');
    process.exit(1);
  }
  const small: Shape = { name: '256³', M: 256, N: 256, K: 256, transA: false, transB: false };
  const tsG = gflops(tsBackend, args(small, new Rng(2)), 300);
  const peak1 = runs[0]!.peak;
  const peak2 = runs[1]!.peak;
  console.log(
    `native GEMM (${runs[0]!.info.isa}); fp32 FMA peak measured now, one thread pinned per core: ${peak1.toFixed(1)} GFLOP/s on 1 core, ${peak2.toFixed(1)} on 2 (idle machine, DESIGN.md §6: ${PEAK_IDLE[0]} and ${PEAK_IDLE[1]})`,
  );
  console.log(`% of the idle peak; a peak measured on a busy machine reads low, so "% of now" can pass 100%`);
  console.log(
    `${'shape'.padEnd(34)}${'1 thread'.padStart(10)}${'% idle'.padStart(8)}${'% now'.padStart(7)}${'2 threads'.padStart(11)}${'% idle'.padStart(8)}${'% now'.padStart(7)}${'scaling'.padStart(9)}`,
  );
  SHAPES.forEach((s, i) => {
    const one = runs[0]!.results[i]!.gflops;
    const two = runs[1]!.results[i]!.gflops;
    const pct = (g: number, p: number) => `${((100 * g) / p).toFixed(0)}%`;
    console.log(
      `${s.name.padEnd(34)}${one.toFixed(1).padStart(10)}${pct(one, PEAK_IDLE[0]!).padStart(8)}${pct(one, peak1).padStart(7)}${two.toFixed(1).padStart(11)}${pct(two, PEAK_IDLE[1]!).padStart(8)}${pct(two, peak2).padStart(7)}${`${(two / one).toFixed(2)}×`.padStart(9)}`,
    );
  });
  const two256 = runs[1]!.results[0]!.gflops;
  console.log(`TypeScript reference, 256³: ${tsG.toFixed(2)} GFLOP/s (native 512³ with 2 threads is ${(two256 / tsG).toFixed(0)}× faster)`);
  const fwd = runs[1]!.results[2]!.gflops;
  const bwd = Math.min(runs[1]!.results[3]!.gflops, runs[1]!.results[4]!.gflops);
  const scaling = Math.min(...SHAPES.slice(2).map((_, i) => runs[1]!.results[i + 2]!.gflops / runs[0]!.results[i + 2]!.gflops));
  console.log(
    `targets with 2 threads: transformer shape ≥ 370 GFLOP/s (80% of ${PEAK_IDLE[1]}): ${verdict(fwd >= 370, load)} (${fwd.toFixed(1)}); backward shapes ≥ 330: ${verdict(bwd >= 330, load)} (${bwd.toFixed(1)}); 2-thread scaling ≥ 1.8× on the transformer shapes: ${verdict(scaling >= 1.8, load)} (${scaling.toFixed(2)}×)`,
  );
}
