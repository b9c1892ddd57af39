// The kernel contract: every op the engine runs, over flat Float32Array buffers with explicit sizes.
//
// Two implementations exist: `ts` (pure TypeScript, obviously correct, the oracle in tests) and
// `native` (C++ behind N-API, AVX-512/AVX2/scalar chosen at run time). Kernels never allocate their
// outputs: the caller passes every buffer, so the tensor layer's arena can reuse memory.
// All matrices are row-major. Shape letters: B batch, T tokens, H heads, D width, V vocabulary.
// A kernel may assume its buffers do not overlap unless the doc says "in place allowed".

/** Masking rules for attention. Key j is visible to query i (both absolute positions) iff all hold:
 *  - `causal` is false, or j <= i, or `blocks` puts i and j in the same non-zero block;
 *  - `window` is 0, or i - j < window (a sliding window; applies to the causal part only);
 *  - j >= kvStart[b] when `kvStart` is given (left padding in a batch);
 *  - j < kvLen[b] when `kvLen` is given (right padding / partially filled cache).
 *  A query with no visible key produces a zero output row and lse = -Infinity. */
export interface AttentionMask {
  causal: boolean;
  /** Sliding-window size in tokens; 0 = unlimited. */
  window: number;
  /** [B, Tk] block ids over key positions (query i uses the id at position i; needs Tq positions
   *  covered, see qOffset). 0 = no block. Tokens sharing a non-zero id attend bidirectionally
   *  (Gemma 3 image tokens; a "bidirectional prefix" is block 1 over the prefix). */
  blocks?: Int32Array | null;
  /** [B] first visible key per batch row. */
  kvStart?: Int32Array | null;
  /** [B] number of valid keys per batch row. */
  kvLen?: Int32Array | null;
}

/** Attention problem description. q: [B, Tq, Hq, Dh]; k, v: [B, Tk, Hkv, Dh] with batch stride
 *  `kvBatchStride` elements (>= Tk*Hkv*Dh, so a KV cache with spare capacity can be passed);
 *  out: [B, Tq, Hq, Dh]; lse: [B, Hq, Tq] (log-sum-exp of the scaled, masked scores, saved for
 *  backward). Hq must be a multiple of Hkv (grouped-query attention: query head h reads kv head
 *  floor(h / (Hq / Hkv))). Query t sits at absolute position qOffset + t; keys at 0..Tk-1. */
export interface AttentionShape {
  B: number;
  Tq: number;
  Tk: number;
  Hq: number;
  Hkv: number;
  Dh: number;
  qOffset: number;
  kvBatchStride: number;
  scale: number;
  mask: AttentionMask;
}

/** GEMM: C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b in 0..batch-1.
 *  op(A) is [M, K]: A is stored [M, K] (lda >= K) or, when transA, [K, M] (lda >= M).
 *  op(B) is [K, N]: B is stored [K, N] (ldb >= N) or, when transB, [N, K] (ldb >= K).
 *  C is [M, N] with ldc >= N. Offsets (in elements) locate batch 0 inside each buffer; batch b
 *  adds b * stride. beta = 0 means C is write-only (its old contents, even NaN, are ignored). */
export interface GemmArgs {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  A: Float32Array;
  lda: number;
  offA?: number;
  strideA?: number;
  /** Float32Array, or Uint16Array holding bf16 values when bDtype is 'bf16' (weights kept in bf16
   *  in memory are widened inside the kernel, never copied whole). */
  B: Float32Array | Uint16Array;
  bDtype?: 'f32' | 'bf16';
  ldb: number;
  offB?: number;
  strideB?: number;
  C: Float32Array;
  ldc: number;
  offC?: number;
  strideC?: number;
  batch?: number;
}

export interface AdamWArgs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

export interface Backend {
  readonly name: 'ts' | 'native';
  /** Human-readable description (e.g. "native avx512 x2 threads"). */
  describe(): string;

  gemm(a: GemmArgs): void;

  /** Row-wise softmax over [rows, cols]. In place allowed (y === x). */
  softmax(x: Float32Array, y: Float32Array, rows: number, cols: number): void;
  /** dx = y * (dy - sum(dy * y)) row-wise. In place allowed (dx === dy). */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;

  /** LayerNorm over the last dim: y = (x - mean) * rstd * w + b. Saves mean and rstd ([rows]).
   *  w and b may be null (no affine). */
  layerNorm(
    x: Float32Array,
    w: Float32Array | null,
    b: Float32Array | null,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** Writes dx; ACCUMULATES into dw and db (+=) when they are non-null. */
  layerNormBackward(
    x: Float32Array,
    w: Float32Array | null,
    mean: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array | null,
    db: Float32Array | null,
    rows: number,
    cols: number,
  ): void;

  /** RMSNorm: y = x * rstd * (addOne ? 1 + w : w), rstd = 1/sqrt(mean(x²) + eps). Saves rstd ([rows]).
   *  addOne is Gemma's `1 + w` variant. */
  rmsNorm(
    x: Float32Array,
    w: Float32Array,
    y: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
    addOne: boolean,
  ): void;
  /** Writes dx; ACCUMULATES into dw (+=). */
  rmsNormBackward(
    x: Float32Array,
    w: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array,
    rows: number,
    cols: number,
    addOne: boolean,
  ): void;

  /** Elementwise activations over n values. In place allowed. gelu is the tanh approximation
   *  (gelu_pytorch_tanh). Backward: dx = dy * f'(x). */
  gelu(x: Float32Array, y: Float32Array, n: number): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  silu(x: Float32Array, y: Float32Array, n: number): void;
  siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;

  /** Gated MLP activation on separate gate and up buffers of n values each:
   *  kind 'geglu': y = gelu_tanh(gate) * up; 'swiglu': y = silu(gate) * up. */
  gatedAct(kind: 'geglu' | 'swiglu', gate: Float32Array, up: Float32Array, y: Float32Array, n: number): void;
  /** Writes dGate and dUp (not accumulating). */
  gatedActBackward(
    kind: 'geglu' | 'swiglu',
    gate: Float32Array,
    up: Float32Array,
    dy: Float32Array,
    dGate: Float32Array,
    dUp: Float32Array,
    n: number,
  ): void;

  /** Rotary embedding, HF "rotate_half" convention, in place on x: [N, H, Dh] where row n has
   *  position positions[n]. For i < Dh/2: angle = pos * invFreq[i],
   *  (x[i], x[i+Dh/2]) <- (x[i] cos - x[i+Dh/2] sin, x[i+Dh/2] cos + x[i] sin).
   *  invFreq has Dh/2 entries (the caller folds in theta and any linear scaling).
   *  inverse = true applies the opposite rotation (this is the backward pass). */
  rope(x: Float32Array, positions: Int32Array, invFreq: Float32Array, N: number, H: number, Dh: number, inverse: boolean): void;

  /** out[n, :] = table[ids[n], :] for n < N; table is [V, D]. Ids are assumed validated. */
  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, N: number, D: number): void;
  /** dTable[ids[n], :] += dOut[n, :] (scatter-add; repeated ids accumulate). */
  embeddingBackward(dOut: Float32Array, ids: Int32Array, dTable: Float32Array, N: number, D: number): void;

  /** Cross-entropy of logits [N, V] against targets [N], fused with log-softmax.
   *  Rows whose target equals ignoreIndex contribute nothing. Writes the per-row loss into
   *  `losses` ([N], 0 for ignored rows) and the per-row log-sum-exp into `lse` ([N]).
   *  Returns the number of non-ignored rows. */
  crossEntropy(
    logits: Float32Array,
    targets: Int32Array,
    ignoreIndex: number,
    losses: Float32Array,
    lse: Float32Array,
    N: number,
    V: number,
  ): number;
  /** dLogits[n, :] = scale * (softmax(logits[n]) - onehot(target)) for non-ignored rows, 0 otherwise.
   *  (scale is typically dLoss / count.) In place allowed (dLogits === logits). */
  crossEntropyBackward(
    logits: Float32Array,
    targets: Int32Array,
    ignoreIndex: number,
    lse: Float32Array,
    scale: number,
    dLogits: Float32Array,
    N: number,
    V: number,
  ): void;

  /** Fused attention (online softmax; memory O(T), never materialises [Tq, Tk]). */
  attention(s: AttentionShape, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array): void;
  /** Writes dq; ACCUMULATES into dk and dv (+=) so that grouped heads sum. dOut and out are
   *  [B, Tq, Hq, Dh]; dk and dv share k's layout (kvBatchStride). */
  attentionBackward(
    s: AttentionShape,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dOut: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
  ): void;

  /** Decoupled-weight-decay Adam, in place on param, m, v over n values:
   *  m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²; mhat = m/(1-b1^t); vhat = v/(1-b2^t);
   *  p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p). */
  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, a: AdamWArgs): void;

  /** Sum of squares of the first n values (accumulated in float64). */
  sumSquares(x: Float32Array, n: number): number;
  /** x *= factor over n values (gradient clipping applies this to every gradient). */
  scale(x: Float32Array, factor: number, n: number): void;
  /** y += alpha * x over n values. */
  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void;

  /** Storage conversions, round to nearest even; NaN stays NaN, overflow gives ±Inf. */
  f32ToBf16(src: Float32Array, dst: Uint16Array, n: number): void;
  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
  f32ToF16(src: Float32Array, dst: Uint16Array, n: number): void;
  f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
}
