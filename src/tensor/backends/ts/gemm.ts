// Reference GEMM: C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b], plain loops with float64 sums.
import type { GemmArgs } from '../../backend.ts';
import { bf16ToF32Scalar } from './convert.ts';

export function gemm(g: GemmArgs): void {
  const batch = g.batch ?? 1;
  const B = g.B;
  const bf16 = g.bDtype === 'bf16';
  for (let bi = 0; bi < batch; bi++) {
    const oa = (g.offA ?? 0) + bi * (g.strideA ?? 0);
    const ob = (g.offB ?? 0) + bi * (g.strideB ?? 0);
    const oc = (g.offC ?? 0) + bi * (g.strideC ?? 0);
    for (let i = 0; i < g.M; i++) {
      for (let j = 0; j < g.N; j++) {
        let acc = 0;
        for (let k = 0; k < g.K; k++) {
          const a = g.A[oa + (g.transA ? k * g.lda + i : i * g.lda + k)]!;
          const idx = ob + (g.transB ? j * g.ldb + k : k * g.ldb + j);
          const b = bf16 ? bf16ToF32Scalar((B as Uint16Array)[idx]!) : (B as Float32Array)[idx]!;
          acc += a * b;
        }
        const c = oc + i * g.ldc + j;
        g.C[c] = g.beta === 0 ? g.alpha * acc : g.alpha * acc + g.beta * g.C[c]!;
      }
    }
  }
}
