// linear: y [N, out] = x [N, in] · Wᵀ (W [out, in], PyTorch's layout) + b [out]. W is an fp32 tape
// tensor (op 'linear', trainable) or a frozen bf16 weight passed as an attribute (op 'linearBf16':
// not a tape tensor, no gradient; the kernel widens W while packing). Both share the code below.
// matmul: y = x · W with W stored [in, out] (Gemma 3's projector).
import { assertShape, Bf16Tensor } from '../tensor.ts';
import type { Tensor, Weight } from '../tensor.ts';
import { ShapeError } from '../../errors/index.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

/** W's buffer as the GEMM reads it. */
interface Stored {
  B: Float32Array | Uint16Array;
  bDtype: 'f32' | 'bf16';
  out: number;
  inF: number;
}

const stored = (w: Weight): Stored => ({
  B: w instanceof Bf16Tensor ? w.bits : w.data,
  bDtype: w instanceof Bf16Tensor ? 'bf16' : 'f32',
  out: w.shape[0]!,
  inF: w.shape[1]!,
});

function forward(x: Tensor, w: Stored, b: Tensor | undefined): Tensor {
  const { out, inF } = w;
  const N = x.size / inF;
  const y = activation([...x.shape.slice(0, -1), out]);
  // With a bias, every row starts as b and the GEMM adds x·Wᵀ to it (beta = 1).
  if (b) for (let i = 0; i < N; i++) y.data.set(b.data, i * out);
  getBackend().gemm({
    transA: false,
    transB: true,
    M: N,
    N: out,
    K: inF,
    alpha: 1,
    beta: b ? 1 : 0,
    A: x.data,
    lda: inF,
    B: w.B,
    bDtype: w.bDtype,
    ldb: inF,
    C: y.data,
    ldc: out,
  });
  return y;
}

/** dx = g · W, or null when x needs no gradient. */
function inputGrad(x: Tensor, w: Stored, g: Float32Array): Float32Array | null {
  if (!x.requiresGrad) return null;
  const N = x.size / w.inF;
  const dx = gradBuffer(x.size);
  getBackend().gemm({
    transA: false,
    transB: false,
    M: N,
    N: w.inF,
    K: w.out,
    alpha: 1,
    beta: 0,
    A: g,
    lda: w.out,
    B: w.B,
    bDtype: w.bDtype,
    ldb: w.inF,
    C: dx,
    ldc: w.inF,
  });
  return dx;
}

let ones = new Float32Array(0);

/** db = column sums of g (a GEMM: a row of ones times g), or null when there is no trainable bias. */
function biasGrad(b: Tensor | undefined, g: Float32Array, out: number): Float32Array | null {
  if (!b || !b.requiresGrad) return null;
  const rows = g.length / out;
  if (ones.length < rows) ones = new Float32Array(rows).fill(1);
  const db = gradBuffer(out);
  getBackend().gemm({
    transA: false,
    transB: false,
    M: 1,
    N: out,
    K: rows,
    alpha: 1,
    beta: 0,
    A: ones,
    lda: rows,
    B: g,
    ldb: out,
    C: db,
    ldc: out,
  });
  return db;
}

registerOp<null>('linear', {
  forward([x, w, b]) {
    return { output: forward(x!, stored(w!), b) };
  },
  backward([x, w, b], _y, g) {
    const s = stored(w!);
    let dw: Float32Array | null = null;
    if (w!.requiresGrad) {
      dw = gradBuffer(w!.size);
      getBackend().gemm({
        transA: true,
        transB: false,
        M: s.out,
        N: s.inF,
        K: x!.size / s.inF,
        alpha: 1,
        beta: 0,
        A: g,
        lda: s.out,
        B: x!.data,
        ldb: s.inF,
        C: dw,
        ldc: s.inF,
      });
    }
    return [inputGrad(x!, s, g), dw, biasGrad(b, g, s.out)];
  },
});

registerOp<{ w: Bf16Tensor }>('linearBf16', {
  forward([x, b], { w }) {
    return { output: forward(x!, stored(w), b) };
  },
  backward([x, b], _y, g, _s, { w }) {
    return [inputGrad(x!, stored(w), g), biasGrad(b, g, w.shape[0]!)];
  },
});

/** y = x·Wᵀ + b with W [out, in] (PyTorch's layout), W in fp32 or bf16. */
export function linear(x: Tensor, w: Weight, b: Tensor | null = null): Tensor {
  assertShape(w, [null, x.shape[x.shape.length - 1]!], 'linear weight');
  if (b) assertShape(b, [w.shape[0]!], 'linear bias');
  if (w instanceof Bf16Tensor) return run('linearBf16', b ? [x, b] : [x], { w });
  return run('linear', b ? [x, w, b] : [x, w], null);
}

registerOp<null>('matmul', {
  forward([x, w]) {
    const [K, M] = w!.shape as [number, number];
    const N = x!.size / K;
    const y = activation([...x!.shape.slice(0, -1), M]);
    getBackend().gemm({
      transA: false,
      transB: false,
      M: N,
      N: M,
      K,
      alpha: 1,
      beta: 0,
      A: x!.data,
      lda: K,
      B: w!.data,
      ldb: M,
      C: y.data,
      ldc: M,
    });
    return { output: y };
  },
  backward([x, w], _y, g) {
    const [K, M] = w!.shape as [number, number];
    const N = x!.size / K;
    const B = getBackend();
    let dx: Float32Array | null = null;
    if (x!.requiresGrad) {
      dx = gradBuffer(x!.size);
      B.gemm({ transA: false, transB: true, M: N, N: K, K: M, alpha: 1, beta: 0, A: g, lda: M, B: w!.data, ldb: M, C: dx, ldc: K });
    }
    let dw: Float32Array | null = null;
    if (w!.requiresGrad) {
      dw = gradBuffer(w!.size);
      B.gemm({ transA: true, transB: false, M: K, N: M, K: N, alpha: 1, beta: 0, A: x!.data, lda: K, B: g, ldb: M, C: dw, ldc: M });
    }
    return [dx, dw];
  },
});

/** y = x · W with W stored [in, out]. */
export const matmul = (x: Tensor, w: Tensor) => {
  if (w.shape.length !== 2 || x.shape[x.shape.length - 1] !== w.shape[0])
    throw new ShapeError(`matmul: [${x.shape.join(', ')}] · [${w.shape.join(', ')}]`);
  return run('matmul', [x, w], null);
};
