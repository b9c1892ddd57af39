// linear: y [N, out] = x [N, in] · Wᵀ (W [out, in], PyTorch's layout) + b [out].
import { assertShape, Bf16Tensor } from '../tensor.ts';
import type { Tensor, Weight } from '../tensor.ts';
import { getBackend } from '../backends/index.ts';
import { activation, registerOp, run } from '../tape.ts';

registerOp<null>('linear', {
  forward([x, w, b]) {
    const N = x!.size / w!.shape[1]!;
    const [out, inF] = w!.shape as [number, number];
    const y = activation([...x!.shape.slice(0, -1), out]);
    getBackend().gemm({ transA: false, transB: true, M: N, N: out, K: inF, alpha: 1, beta: 0, A: x!.data, lda: inF, B: w!.data, ldb: inF, C: y.data, ldc: out });
    if (b) for (let i = 0; i < N; i++) for (let j = 0; j < out; j++) y.data[i * out + j]! += b.data[j]!;
    return { output: y };
  },
  backward([x, w, b], _y, g) {
    const [out, inF] = w!.shape as [number, number];
    const N = x!.size / inF;
    const K = getBackend();
    let dx: Float32Array | null = null;
    if (x!.requiresGrad) {
      dx = new Float32Array(x!.size);
      K.gemm({ transA: false, transB: false, M: N, N: inF, K: out, alpha: 1, beta: 0, A: g, lda: out, B: w!.data, ldb: inF, C: dx, ldc: inF });
    }
    let dw: Float32Array | null = null;
    if (w!.requiresGrad) {
      dw = new Float32Array(w!.size);
      K.gemm({ transA: true, transB: false, M: out, N: inF, K: N, alpha: 1, beta: 0, A: g, lda: out, B: x!.data, ldb: inF, C: dw, ldc: inF });
    }
    let db: Float32Array | null = null;
    if (b && b.requiresGrad) {
      db = new Float32Array(out);
      for (let i = 0; i < N; i++) for (let j = 0; j < out; j++) db[j]! += g[i * out + j]!;
    }
    return [dx, dw, db];
  },
});

// The same with a frozen bf16 weight (passed as an attribute: it is not a tape tensor and gets no
// gradient); the kernel widens W while packing.
registerOp<{ w: Bf16Tensor }>('linearBf16', {
  forward([x, b], { w }) {
    const [out, inF] = w.shape as [number, number];
    const N = x!.size / inF;
    const y = activation([...x!.shape.slice(0, -1), out]);
    getBackend().gemm({ transA: false, transB: true, M: N, N: out, K: inF, alpha: 1, beta: 0, A: x!.data, lda: inF, B: w.bits, bDtype: 'bf16', ldb: inF, C: y.data, ldc: out });
    if (b) for (let i = 0; i < N; i++) for (let j = 0; j < out; j++) y.data[i * out + j]! += b.data[j]!;
    return { output: y };
  },
  backward([x, b], _y, g, _s, { w }) {
    const [out, inF] = w.shape as [number, number];
    const N = x!.size / inF;
    let dx: Float32Array | null = null;
    if (x!.requiresGrad) {
      dx = new Float32Array(x!.size);
      getBackend().gemm({ transA: false, transB: false, M: N, N: inF, K: out, alpha: 1, beta: 0, A: g, lda: out, B: w.bits, bDtype: 'bf16', ldb: inF, C: dx, ldc: inF });
    }
    let db: Float32Array | null = null;
    if (b && b.requiresGrad) {
      db = new Float32Array(out);
      for (let i = 0; i < N; i++) for (let j = 0; j < out; j++) db[j]! += g[i * out + j]!;
    }
    return [dx, db];
  },
});

/** y = x·Wᵀ + b with W [out, in] (PyTorch's layout), W in fp32 or bf16. */
export function linear(x: Tensor, w: Weight, b: Tensor | null = null): Tensor {
  const inF = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 2 || w.shape[1] !== inF) assertShape(w as Tensor, [null, inF], 'linear weight');
  if (b) assertShape(b, [w.shape[0]!], 'linear bias');
  if (w instanceof Bf16Tensor) return run('linearBf16', b ? [x, b] : [x], { w });
  return run('linear', b ? [x, w, b] : [x, w], null);
}
