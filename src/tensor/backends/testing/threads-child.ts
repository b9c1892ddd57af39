// Child process for the multi-threaded parity test: with the pool size given by VLM2VLA_THREADS,
// compares native GEMM (shapes large enough to split across threads), attention and row kernels
// with the TypeScript reference; prints "ok <threads>" or the first mismatch and exits 1.
import { loadNativeBackend, nativeInfo } from '../native.ts';
import { tsBackend as R } from '../ts.ts';
import { Rng } from '../../../util/index.ts';

const N = loadNativeBackend();
if (!N) {
  console.log('skip: native addon not built');
  process.exit(0);
}
const rng = new Rng(5);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)))) {
      console.log(`mismatch in ${what} at ${i}: ${a[i]} vs ${b[i]}`);
      process.exit(1);
    }
  }
}
for (const [M, Nn, K, tA, tB] of [
  [300, 200, 70, false, true],
  [64, 513, 90, true, false],
  [257, 96, 33, true, true],
  [3, 701, 257, false, true],
  [1, 4099, 64, false, true],
  [5, 4099, 64, false, true],
] as const) {
  const A = randn(M * K);
  const B = randn(K * Nn);
  const c1 = new Float32Array(M * Nn);
  const c2 = new Float32Array(M * Nn);
  const g = { transA: tA, transB: tB, M, N: Nn, K, alpha: 1, beta: 0, A, lda: tA ? M : K, B, ldb: tB ? K : Nn, ldc: Nn };
  N.gemm({ ...g, C: c1 });
  R.gemm({ ...g, C: c2 });
  close(c1, c2, 1e-4, `gemm ${M}x${Nn}x${K}`);
}
// The decode path (M ≤ 4, weight [N, K]) splits weights of 64 KiB and more (2 MiB when the workers
// do not spin) by rows across the threads: fp32 and bf16 against the reference, and each row of a batch equal to the row alone.
for (const [bf16, Nn, K] of [
  [false, 1100, 1024],
  [true, 1100, 1024],
  [false, 129, 160],
  [true, 257, 130],
] as const) {
  const Bf = randn(Nn * K);
  const B = bf16 ? new Uint16Array(Bf.length) : Bf;
  if (bf16) R.f32ToBf16(Bf, B as Uint16Array, Bf.length);
  const A = randn(3 * K);
  const gemm = (K_: typeof R, M: number, rows: Float32Array) => {
    const C = new Float32Array(M * Nn);
    K_.gemm({
      transA: false,
      transB: true,
      M,
      N: Nn,
      K,
      alpha: 1,
      beta: 0,
      A: rows,
      lda: K,
      B,
      bDtype: bf16 ? 'bf16' : 'f32',
      ldb: K,
      C,
      ldc: Nn,
    });
    return C;
  };
  const batch = gemm(N, 3, A);
  close(batch, gemm(R, 3, A), 1e-4, `decode gemm bf16 ${bf16}`);
  for (let i = 0; i < 3; i++) {
    const alone = gemm(N, 1, A.slice(i * K, (i + 1) * K));
    for (let j = 0; j < Nn; j++) {
      if (alone[j] !== batch[i * Nn + j]) {
        console.log(`decode gemm bf16 ${bf16}: row ${i} alone differs from the batch at ${j}`);
        process.exit(1);
      }
    }
  }
}
const s = {
  B: 3,
  Tq: 40,
  Tk: 40,
  Hq: 4,
  Hkv: 2,
  Dh: 16,
  qOffset: 0,
  kvBatchStride: 40 * 2 * 16,
  scale: 0.25,
  mask: { causal: true, window: 0 },
};
const q = randn(3 * 40 * 4 * 16);
const k = randn(3 * 40 * 2 * 16);
const v = randn(3 * 40 * 2 * 16);
const dOut = randn(q.length);
const run = (K: typeof R) => {
  const out = new Float32Array(q.length);
  const lse = new Float32Array(3 * 4 * 40);
  K.attention(s, q, k, v, out, lse);
  const dq = new Float32Array(q.length);
  const dk = new Float32Array(k.length);
  const dv = new Float32Array(v.length);
  K.attentionBackward(s, q, k, v, out, lse, dOut, dq, dk, dv);
  return [out, dq, dk, dv];
};
const a = run(N);
const b = run(R);
a.forEach((x, i) => close(x, b[i]!, 1e-4, `attention output ${i}`));
const x = randn(2000 * 64);
const y1 = new Float32Array(x.length);
const y2 = new Float32Array(x.length);
N.softmax(x, y1, 2000, 64);
R.softmax(x, y2, 2000, 64);
close(y1, y2, 1e-5, 'softmax');
// Many small split jobs back to back, with pauses longer than the workers' spin between some of
// them, so that jobs start both on spinning and on sleeping workers (pool.cc): every result stays
// equal to the same product computed once before.
{
  const [Nn, K] = [200, 128];
  const B = randn(Nn * K);
  const A = randn(K);
  const once = new Float32Array(Nn);
  N.gemm({ transA: false, transB: true, M: 1, N: Nn, K, alpha: 1, beta: 0, A, lda: K, B, ldb: K, C: once, ldc: Nn });
  close(
    once,
    (() => {
      const c = new Float32Array(Nn);
      R.gemm({ transA: false, transB: true, M: 1, N: Nn, K, alpha: 1, beta: 0, A, lda: K, B, ldb: K, C: c, ldc: Nn });
      return c;
    })(),
    1e-4,
    'small decode gemm',
  );
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let it = 0; it < 3000; it++) {
    const C = new Float32Array(Nn);
    N.gemm({ transA: false, transB: true, M: 1, N: Nn, K, alpha: 1, beta: 0, A, lda: K, B, ldb: K, C, ldc: Nn });
    for (let j = 0; j < Nn; j++) {
      if (C[j] !== once[j]) {
        console.log(`repeated decode gemm ${it} differs at ${j}`);
        process.exit(1);
      }
    }
    if (it % 100 === 99) Atomics.wait(pause, 0, 0, 1 + (it % 3));
  }
}
console.log(`ok ${nativeInfo()!.threads}`);
