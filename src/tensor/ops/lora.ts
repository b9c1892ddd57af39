// loraLinear: y [N, out] = x [N, in] · Wᵀ + b + s · (h [N, in] · Aᵀ) · Bᵀ, with W [out, in] frozen (fp32 or bf16,
// an attribute: never a tape tensor, never a gradient), A [r, in] and B [out, r] trainable, s the LoRA scaling and
// h = dropout(x) (or x itself). One fused op so LoRA keeps what full fine-tuning keeps: the output and, beyond it,
// only h·Aᵀ [N, r] — the unfused expression (linear + linear + add) kept three [N, out] activations per
// projection and copied the [N, out] output gradient once more in backward.
import { Bf16Tensor, assertShape } from '../tensor.ts';
import type { Tensor, Weight } from '../tensor.ts';
import { ShapeError } from '../../errors/index.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

interface LoraAttrs {
  w: Weight;
  scaling: number;
  /** h is x itself (no dropout): the inputs are [x, A, B, b?] instead of [x, h, A, B, b?]. */
  shared: boolean;
}

/** Inputs by role (their position depends on `shared` and on the bias). */
function roles(inputs: Tensor[], shared: boolean): { x: Tensor; h: Tensor; A: Tensor; B: Tensor; b: Tensor | undefined } {
  const k = shared ? 0 : 1;
  return { x: inputs[0]!, h: inputs[k]!, A: inputs[k + 1]!, B: inputs[k + 2]!, b: inputs[k + 3] };
}

const weightOf = (w: Weight): { data: Float32Array | Uint16Array; dtype: 'f32' | 'bf16' } =>
  w instanceof Bf16Tensor ? { data: w.bits, dtype: 'bf16' } : { data: w.data, dtype: 'f32' };

registerOp<LoraAttrs>('loraLinear', {
  forward(inputs, { w, scaling, shared }) {
    const { x, h, A, B, b } = roles(inputs, shared);
    const [out, inF] = w.shape as [number, number];
    const r = A.shape[0]!;
    const N = x.size / inF;
    const gemm = getBackend().gemm.bind(getBackend());
    const W = weightOf(w);
    const y = activation([...x.shape.slice(0, -1), out]);
    if (b) for (let i = 0; i < N; i++) y.data.set(b.data, i * out);
    gemm({
      transA: false,
      transB: true,
      M: N,
      N: out,
      K: inF,
      alpha: 1,
      beta: b ? 1 : 0,
      A: x.data,
      lda: inF,
      B: W.data,
      bDtype: W.dtype,
      ldb: inF,
      C: y.data,
      ldc: out,
    });
    const ha = new Float32Array(N * r); // h·Aᵀ [N, r]: kept for backward
    gemm({ transA: false, transB: true, M: N, N: r, K: inF, alpha: 1, beta: 0, A: h.data, lda: inF, B: A.data, ldb: inF, C: ha, ldc: r });
    gemm({
      transA: false,
      transB: true,
      M: N,
      N: out,
      K: r,
      alpha: scaling,
      beta: 1,
      A: ha,
      lda: r,
      B: B.data,
      ldb: r,
      C: y.data,
      ldc: out,
    });
    return { output: y, saved: ha };
  },
  backward(inputs, _y, g, saved, { w, scaling, shared }) {
    const { x, h, A, B, b } = roles(inputs, shared);
    const [out, inF] = w.shape as [number, number];
    const r = A.shape[0]!;
    const N = x.size / inF;
    const ha = saved as Float32Array;
    const gemm = getBackend().gemm.bind(getBackend());
    const W = weightOf(w);
    // d(h·Aᵀ) [N, r] = s · g · B
    const dha = gradBuffer(N * r);
    gemm({ transA: false, transB: false, M: N, N: r, K: out, alpha: scaling, beta: 0, A: g, lda: out, B: B.data, ldb: r, C: dha, ldc: r });
    let dB: Float32Array | null = null;
    if (B.requiresGrad) {
      dB = gradBuffer(B.size); // s · gᵀ · (h·Aᵀ)
      gemm({ transA: true, transB: false, M: out, N: r, K: N, alpha: scaling, beta: 0, A: g, lda: out, B: ha, ldb: r, C: dB, ldc: r });
    }
    let dA: Float32Array | null = null;
    if (A.requiresGrad) {
      dA = gradBuffer(A.size); // d(h·Aᵀ)ᵀ · h
      gemm({ transA: true, transB: false, M: r, N: inF, K: N, alpha: 1, beta: 0, A: dha, lda: r, B: h.data, ldb: inF, C: dA, ldc: inF });
    }
    let dx: Float32Array | null = null;
    if (x.requiresGrad) {
      dx = gradBuffer(x.size); // g · W (+ d(h·Aᵀ) · A when h is x)
      gemm({
        transA: false,
        transB: false,
        M: N,
        N: inF,
        K: out,
        alpha: 1,
        beta: 0,
        A: g,
        lda: out,
        B: W.data,
        bDtype: W.dtype,
        ldb: inF,
        C: dx,
        ldc: inF,
      });
      if (shared)
        gemm({ transA: false, transB: false, M: N, N: inF, K: r, alpha: 1, beta: 1, A: dha, lda: r, B: A.data, ldb: inF, C: dx, ldc: inF });
    }
    let dh: Float32Array | null = null;
    if (!shared && h.requiresGrad) {
      dh = gradBuffer(h.size);
      gemm({ transA: false, transB: false, M: N, N: inF, K: r, alpha: 1, beta: 0, A: dha, lda: r, B: A.data, ldb: inF, C: dh, ldc: inF });
    }
    let db: Float32Array | null = null;
    if (b?.requiresGrad) {
      db = gradBuffer(out);
      for (let i = 0; i < N; i++) for (let j = 0; j < out; j++) db[j]! += g[i * out + j]!;
    }
    const grads = shared ? [dx, dA, dB] : [dx, dh, dA, dB];
    return b ? [...grads, db] : grads;
  },
});

/**
 * y = x·Wᵀ + b + scaling · (h·Aᵀ)·Bᵀ for a frozen W [out, in] (fp32 without gradient, or bf16) and a LoRA pair
 * A [r, in], B [out, r]; `h` is dropout(x), or x itself when there is no dropout.
 */
export function loraLinear(x: Tensor, h: Tensor, w: Weight, b: Tensor | null, A: Tensor, B: Tensor, scaling: number): Tensor {
  if (!(w instanceof Bf16Tensor) && w.requiresGrad)
    throw new ShapeError('loraLinear: the base weight must be frozen (train it with linear)', { field: w.name ?? 'weight' });
  const [out, inF] = w.shape as [number, number];
  assertShape(x, [...x.shape.slice(0, -1).map(() => null), inF], 'loraLinear input');
  if (h !== x) assertShape(h, x.shape, 'loraLinear dropout input');
  assertShape(A, [null, inF], 'lora_A');
  assertShape(B, [out, A.shape[0]!], 'lora_B');
  if (b) assertShape(b, [out], 'linear bias');
  const shared = h === x;
  const inputs = shared ? [x, A, B] : [x, h, A, B];
  return run<LoraAttrs>('loraLinear', b ? [...inputs, b] : inputs, { w, scaling, shared });
}
