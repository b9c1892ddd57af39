// Tests of the TypeScript reference kernels: GEMM against an independent formulation, every
// backward kernel against central finite differences in float64, attention masks against explicit
// mask tables, conversions against known bit patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tsBackend as K } from './ts.ts';
import type { AttentionShape } from '../backend.ts';
import { Rng } from '../../util/index.ts';
import { randn, randn64, assertClose, finiteDifferences, asF32, dot } from '../testing/index.ts';
import { visible } from './ts/attention.ts';

const FD = { atol: 1e-6, rtol: 1e-5 };

test('gemm: every transpose form, odd shapes, leading dims, offsets, batches, beta, bf16 B', () => {
  const rng = new Rng(1);
  for (const [M, N, Kd] of [
    [1, 1, 1],
    [3, 17, 5],
    [17, 3, 1],
    [4, 1, 17],
  ] as const) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const batch = 2;
        const lda = (transA ? M : Kd) + 2;
        const ldb = (transB ? Kd : N) + 1;
        const ldc = N + 3;
        const rowsA = transA ? Kd : M;
        const rowsB = transB ? N : Kd;
        const strideA = rowsA * lda + 5;
        const strideB = rowsB * ldb + 2;
        const strideC = M * ldc + 1;
        const A = randn(rng, 3 + batch * strideA);
        const B = randn(rng, 1 + batch * strideB);
        const C = randn(rng, 2 + batch * strideC);
        const C0 = C.slice();
        K.gemm({
          transA,
          transB,
          M,
          N,
          K: Kd,
          alpha: 0.5,
          beta: 2,
          A,
          lda,
          offA: 3,
          strideA,
          B,
          ldb,
          offB: 1,
          strideB,
          C,
          ldc,
          offC: 2,
          strideC,
          batch,
        });
        for (let b = 0; b < batch; b++) {
          // Build op(A) and op(B) explicitly, then multiply.
          const opA = Array.from({ length: M }, (_, i) =>
            Array.from({ length: Kd }, (_, k) => A[3 + b * strideA + (transA ? k * lda + i : i * lda + k)]!),
          );
          const opB = Array.from({ length: Kd }, (_, k) =>
            Array.from({ length: N }, (_, j) => B[1 + b * strideB + (transB ? j * ldb + k : k * ldb + j)]!),
          );
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) {
              const c = 2 + b * strideC + i * ldc + j;
              const want = 0.5 * opA[i]!.reduce((s, a, k) => s + a * opB[k]![j]!, 0) + 2 * C0[c]!;
              assert.ok(Math.abs(C[c]! - want) <= 1e-5 * (1 + Math.abs(want)), `M${M} N${N} K${Kd} tA${transA} tB${transB}: C[${i},${j}]`);
            }
          }
          // Padding between rows is untouched.
          if (N + 3 > N) assert.equal(C[2 + b * strideC + N]!, C0[2 + b * strideC + N]!);
        }
      }
    }
  }
  // beta = 0 ignores NaN in C; bf16 B equals the f32 B rounded to bf16.
  const A = randn(rng, 6);
  const Bf = randn(rng, 6);
  const Bh = new Uint16Array(6);
  K.f32ToBf16(Bf, Bh, 6);
  const Bround = new Float32Array(6);
  K.bf16ToF32(Bh, Bround, 6);
  const C1 = new Float32Array(4).fill(Number.NaN);
  const C2 = new Float32Array(4);
  K.gemm({ transA: false, transB: false, M: 2, N: 2, K: 3, alpha: 1, beta: 0, A, lda: 3, B: Bh, bDtype: 'bf16', ldb: 2, C: C1, ldc: 2 });
  K.gemm({ transA: false, transB: false, M: 2, N: 2, K: 3, alpha: 1, beta: 0, A, lda: 3, B: Bround, ldb: 2, C: C2, ldc: 2 });
  assertClose(C1, C2, { atol: 0, rtol: 0 }, 'bf16 gemm');
});

/** Checks dL/dinputs of L = <w, f(inputs)> computed by `backward` against finite differences. */
function checkGrad(
  name: string,
  inputs: Float64Array[],
  outLen: number,
  forward: (out: Float64Array) => void,
  backward: (dOut: Float64Array) => Float64Array[],
  tol = FD,
): void {
  const rng = new Rng(name.length);
  const w = randn64(rng, outLen);
  const out = new Float64Array(outLen);
  const loss = () => {
    forward(out);
    return dot(w, out);
  };
  const numeric = finiteDifferences(loss, inputs);
  forward(out);
  const analytic = backward(w);
  analytic.forEach((g, i) => assertClose(g, numeric[i]!, tol, `${name} input ${i}`));
}

test('softmax, layer norm, RMS norm (w and 1 + w): backward = finite differences (float64)', () => {
  const rng = new Rng(2);
  const rows = 3;
  const cols = 7;
  const x = randn64(rng, rows * cols);
  checkGrad(
    'softmax',
    [x],
    rows * cols,
    (y) => K.softmax(asF32(x), asF32(y), rows, cols),
    (dy) => {
      const y = new Float64Array(rows * cols);
      K.softmax(asF32(x), asF32(y), rows, cols);
      const dx = new Float64Array(rows * cols);
      K.softmaxBackward(asF32(y), asF32(dy), asF32(dx), rows, cols);
      return [dx];
    },
  );
  const w = randn64(rng, cols);
  const b = randn64(rng, cols);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  checkGrad(
    'layerNorm',
    [x, w, b],
    rows * cols,
    (y) => K.layerNorm(asF32(x), asF32(w), asF32(b), asF32(y), asF32(mean), asF32(rstd), rows, cols, 1e-5),
    (dy) => {
      const dx = new Float64Array(rows * cols);
      const dw = new Float64Array(cols).fill(0);
      const db = new Float64Array(cols);
      K.layerNormBackward(asF32(x), asF32(w), asF32(mean), asF32(rstd), asF32(dy), asF32(dx), asF32(dw), asF32(db), rows, cols);
      return [dx, dw, db];
    },
  );
  for (const addOne of [false, true]) {
    checkGrad(
      `rmsNorm addOne=${addOne}`,
      [x, w],
      rows * cols,
      (y) => K.rmsNorm(asF32(x), asF32(w), asF32(y), asF32(rstd), rows, cols, 1e-6, addOne),
      (dy) => {
        const dx = new Float64Array(rows * cols);
        const dw = new Float64Array(cols);
        K.rmsNormBackward(asF32(x), asF32(w), asF32(rstd), asF32(dy), asF32(dx), asF32(dw), rows, cols, addOne);
        return [dx, dw];
      },
    );
  }
});

test('GELU (tanh), SiLU, GeGLU, SwiGLU: backward = finite differences', () => {
  const rng = new Rng(3);
  const n = 11;
  const x = randn64(rng, n, 2);
  const up = randn64(rng, n);
  for (const [name, f, df] of [
    ['gelu', K.gelu, K.geluBackward],
    ['silu', K.silu, K.siluBackward],
  ] as const) {
    checkGrad(
      name,
      [x],
      n,
      (y) => f(asF32(x), asF32(y), n),
      (dy) => {
        const dx = new Float64Array(n);
        df(asF32(x), asF32(dy), asF32(dx), n);
        return [dx];
      },
    );
  }
  for (const kind of ['geglu', 'swiglu'] as const) {
    checkGrad(
      kind,
      [x, up],
      n,
      (y) => K.gatedAct(kind, asF32(x), asF32(up), asF32(y), n),
      (dy) => {
        const dg = new Float64Array(n);
        const du = new Float64Array(n);
        K.gatedActBackward(kind, asF32(x), asF32(up), asF32(dy), asF32(dg), asF32(du), n);
        return [dg, du];
      },
    );
  }
  // gelu_pytorch_tanh at known points.
  const y = new Float32Array(3);
  K.gelu(Float32Array.of(0, 1, -2), y, 3);
  assertClose(y, [0, 0.8411920070648193, -0.0454023], { atol: 1e-6, rtol: 1e-5 }, 'gelu values');
});

test('RoPE: rotate_half convention, backward (inverse) = finite differences, inverse undoes forward', () => {
  const rng = new Rng(4);
  const N = 3;
  const H = 2;
  const Dh = 4;
  const pos = Int32Array.of(0, 5, 17);
  const inv = Float32Array.of(1, 0.01);
  const x = randn64(rng, N * H * Dh);
  checkGrad(
    'rope',
    [x],
    x.length,
    (y) => {
      y.set(x);
      K.rope(asF32(y), pos, inv, N, H, Dh, false);
    },
    (dy) => {
      const dx = Float64Array.from(dy);
      K.rope(asF32(dx), pos, inv, N, H, Dh, true);
      return [dx];
    },
  );
  const y = Float32Array.from(x);
  K.rope(y, pos, inv, N, H, Dh, false);
  assertClose(y.subarray(0, Dh * H), Float32Array.from(x.subarray(0, Dh * H)), { atol: 0, rtol: 0 }, 'position 0 is identity');
  // Position 5, pair (0, 2) rotated by 5 rad.
  const [a, b] = [x[8]!, x[10]!];
  assertClose(
    [y[8]!, y[10]!],
    [a * Math.cos(5) - b * Math.sin(5), b * Math.cos(5) + a * Math.sin(5)],
    { atol: 1e-6, rtol: 1e-5 },
    'rotation',
  );
  K.rope(y, pos, inv, N, H, Dh, true);
  assertClose(y, Float32Array.from(x), { atol: 1e-5, rtol: 1e-5 }, 'inverse');
});

test('embedding gather and scatter-add; cross-entropy with ignored rows = finite differences', () => {
  const rng = new Rng(5);
  const V = 6;
  const D = 3;
  const table = randn64(rng, V * D);
  const ids = Int32Array.of(2, 0, 2, 5);
  checkGrad(
    'embedding',
    [table],
    ids.length * D,
    (y) => K.embedding(asF32(table), ids, asF32(y), ids.length, D),
    (dy) => {
      const dt = new Float64Array(V * D);
      K.embeddingBackward(asF32(dy), ids, asF32(dt), ids.length, D);
      return [dt];
    },
  );
  const N = 4;
  const logits = randn64(rng, N * V, 2);
  const targets = Int32Array.of(1, -100, 5, 0);
  const losses = new Float64Array(N);
  const lse = new Float64Array(N);
  let count = 0;
  checkGrad(
    'crossEntropy',
    [logits],
    1,
    (y) => {
      count = K.crossEntropy(asF32(logits), targets, -100, asF32(losses), asF32(lse), N, V);
      y[0] = losses.reduce((a, b) => a + b, 0) / count;
    },
    (dy) => {
      const dl = new Float64Array(N * V);
      K.crossEntropyBackward(asF32(logits), targets, -100, asF32(lse), dy[0]! / count, asF32(dl), N, V);
      return [dl];
    },
  );
  assert.equal(count, 3);
  assert.equal(losses[1], 0);
});

function attnCase(
  B: number,
  Tq: number,
  Tk: number,
  Hq: number,
  Hkv: number,
  Dh: number,
  mask: AttentionShape['mask'],
  qOffset = 0,
  pad = 0,
): AttentionShape {
  return { B, Tq, Tk, Hq, Hkv, Dh, qOffset, kvBatchStride: (Tk + pad) * Hkv * Dh, scale: 1 / Math.sqrt(Dh), mask };
}

test('attention masks: causal, sliding window, bidirectional blocks, padding, query offset', () => {
  const table = (s: AttentionShape, b = 0) =>
    Array.from({ length: s.Tq }, (_, t) => Array.from({ length: s.Tk }, (_, j) => (visible(s, b, t, j) ? 1 : 0)).join('')).join(' ');
  assert.equal(table(attnCase(1, 4, 4, 1, 1, 1, { causal: true, window: 0 })), '1000 1100 1110 1111');
  assert.equal(table(attnCase(1, 4, 4, 1, 1, 1, { causal: true, window: 2 })), '1000 1100 0110 0011');
  assert.equal(table(attnCase(1, 4, 4, 1, 1, 1, { causal: false, window: 0 })), '1111 1111 1111 1111');
  // Image tokens at positions 1..2 (block 1) see each other both ways.
  assert.equal(table(attnCase(1, 4, 4, 1, 1, 1, { causal: true, window: 0, blocks: Int32Array.of(0, 1, 1, 0) })), '1000 1110 1110 1111');
  assert.equal(
    table(attnCase(2, 4, 4, 1, 1, 1, { causal: true, window: 0, kvStart: Int32Array.of(0, 2), kvLen: Int32Array.of(4, 3) }), 1),
    '0000 0000 0010 0010',
  );
  // Decoding 2 new tokens at positions 3, 4 against 5 cached keys.
  assert.equal(table(attnCase(1, 2, 5, 1, 1, 1, { causal: true, window: 0 }, 3)), '11110 11111');
});

test('attention forward matches softmax(QKᵀ)V; fully masked rows give 0 and lse = -Infinity; backward = finite differences', () => {
  const rng = new Rng(6);
  const cases: [string, AttentionShape][] = [
    ['causal GQA', attnCase(2, 5, 5, 4, 2, 3, { causal: true, window: 0 }, 0, 2)],
    ['window + blocks', attnCase(1, 6, 6, 2, 1, 4, { causal: true, window: 3, blocks: Int32Array.of(0, 2, 2, 2, 0, 0) })],
    [
      'decode with padding',
      attnCase(2, 2, 6, 2, 2, 2, { causal: true, window: 0, kvStart: Int32Array.of(1, 0), kvLen: Int32Array.of(6, 4) }, 4),
    ],
    ['bidirectional', attnCase(1, 3, 4, 1, 1, 5, { causal: false, window: 0 })],
  ];
  for (const [name, s] of cases) {
    const q = randn64(rng, s.B * s.Tq * s.Hq * s.Dh);
    const k = randn64(rng, s.B * s.kvBatchStride);
    const v = randn64(rng, s.B * s.kvBatchStride);
    const lse = new Float64Array(s.B * s.Hq * s.Tq);
    // Forward against a direct softmax over the visible keys.
    const out = new Float64Array(q.length);
    K.attention(s, asF32(q), asF32(k), asF32(v), asF32(out), asF32(lse));
    const group = s.Hq / s.Hkv;
    for (let b = 0; b < s.B; b++)
      for (let h = 0; h < s.Hq; h++)
        for (let t = 0; t < s.Tq; t++) {
          const qo = ((b * s.Tq + t) * s.Hq + h) * s.Dh;
          const keys = Array.from({ length: s.Tk }, (_, j) => j).filter((j) => visible(s, b, t, j));
          const kv = (j: number) => b * s.kvBatchStride + (j * s.Hkv + Math.floor(h / group)) * s.Dh;
          const sc = keys.map(
            (j) => s.scale * Array.from({ length: s.Dh }, (_, d) => q[qo + d]! * k[kv(j) + d]!).reduce((x, y) => x + y, 0),
          );
          const m = Math.max(...sc);
          const e = sc.map((x) => Math.exp(x - m));
          const z = e.reduce((x, y) => x + y, 0);
          for (let d = 0; d < s.Dh; d++) {
            const want = keys.length === 0 ? 0 : keys.reduce((acc, j, i) => acc + (e[i]! / z) * v[kv(j) + d]!, 0);
            assert.ok(Math.abs(out[qo + d]! - want) < 1e-9, `${name}: out[${b},${t},${h},${d}]`);
          }
          if (keys.length === 0) assert.equal(lse[(b * s.Hq + h) * s.Tq + t], -Infinity);
        }
    checkGrad(
      `attention ${name}`,
      [q, k, v],
      q.length,
      (o) => K.attention(s, asF32(q), asF32(k), asF32(v), asF32(o), asF32(lse)),
      (dOut) => {
        const o = new Float64Array(q.length);
        K.attention(s, asF32(q), asF32(k), asF32(v), asF32(o), asF32(lse));
        const dq = new Float64Array(q.length);
        const dk = new Float64Array(k.length);
        const dv = new Float64Array(v.length);
        K.attentionBackward(s, asF32(q), asF32(k), asF32(v), asF32(o), asF32(lse), asF32(dOut), asF32(dq), asF32(dk), asF32(dv));
        return [dq, dk, dv];
      },
    );
  }
});

test('AdamW step, sumSquares, scale, axpy', () => {
  const p = Float32Array.of(1, -2);
  const g = Float32Array.of(0.5, 0.25);
  const m = new Float32Array(2);
  const v = new Float32Array(2);
  K.adamw(p, g, m, v, 2, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 });
  // Step 1: mhat = g, vhat = g², so the update is lr·(sign(g) + wd·p).
  assertClose(p, [1 - 0.1 * (1 + 0.01), -2 - 0.1 * (1 - 0.02)], { atol: 1e-6, rtol: 1e-6 }, 'adamw');
  assert.equal(K.sumSquares(Float32Array.of(3, 4), 2), 25);
  const x = Float32Array.of(1, 2);
  K.scale(x, 0.5, 2);
  K.axpy(2, Float32Array.of(1, 1), x, 2);
  assert.deepEqual(Array.from(x), [2.5, 3]);
});

test('bf16 and fp16 conversions round to nearest even and keep NaN and infinities', () => {
  const cases = [
    1,
    -2,
    0,
    -0,
    1 + 2 ** -8,
    1 + 3 * 2 ** -8,
    65504,
    65520,
    1e-8,
    2 ** -24,
    3 * 2 ** -25,
    Infinity,
    -Infinity,
    Number.NaN,
    3.4e38,
  ];
  const src = Float32Array.from(cases);
  const h = new Uint16Array(cases.length);
  const back = new Float32Array(cases.length);
  K.f32ToBf16(src, h, cases.length);
  K.bf16ToF32(h, back, cases.length);
  assert.equal(h[4], 0x3f80, '1 + 2^-8 is a tie: rounds to even (1.0)');
  assert.equal(h[5], 0x3f82, '1 + 3·2^-8 is a tie: rounds to even (1 + 2^-6)');
  assert.ok(Number.isNaN(back[13]!) && back[11] === Infinity && back[12] === -Infinity);
  K.f32ToF16(src, h, cases.length);
  K.f16ToF32(h, back, cases.length);
  assert.equal(h[0], 0x3c00);
  assert.equal(h[1], 0xc000);
  assert.equal(h[3], 0x8000, '-0 keeps its sign');
  assert.equal(back[6], 65504, 'largest half');
  assert.equal(back[7], Infinity, '65520 rounds up to Inf');
  assert.equal(h[8], 0, '1e-8 underflows to 0');
  assert.equal(h[9], 1, 'smallest subnormal');
  assert.equal(h[10], 2, '1.5 × the smallest subnormal is a tie: rounds to even (2)');
  K.f32ToF16(Float32Array.of(0.75 * 2 ** -24, 2.5 * 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11), h, 4);
  assert.deepEqual(Array.from(h.subarray(0, 4)), [1, 2, 0x3c00, 0x3c02]);
  assert.ok(Number.isNaN(back[13]!) && back[11] === Infinity && back[14] === Infinity);
});
