// Every native kernel against the TypeScript reference on random inputs: odd shapes, every GEMM
// transpose form with offsets, strides and batches, bf16 B, every microkernel family this CPU has,
// attention with every mask kind. Tolerances: fp32 kernels 1e-5 relative (GEMM: 1e-4·√K absolute
// scale), conversions exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, setNativeIsa, nativeInfo, nativeFmaPeak } from './native.ts';
import { availableParallelism } from 'node:os';
import { tsBackend as R } from './ts.ts';
import type { AttentionShape, Backend } from '../backend.ts';
import { Rng } from '../../util/index.ts';
import { randn, assertClose } from '../testing/index.ts';

const N = loadNativeBackend();
const skip = N === null && 'the native addon is not built (run `npm run build:native`)';
const TOL = { atol: 1e-5, rtol: 1e-4 };

function pair<T extends Float32Array | Uint16Array>(make: () => T): [T, T] {
  const a = make();
  return [a, a.slice() as T];
}

test('native GEMM equals the reference: all transposes, odd shapes, offsets, batches, bf16, every ISA', { skip }, () => {
  const rng = new Rng(11);
  const isas = (['avx512', 'avx2', 'scalar'] as const).filter((i) => setNativeIsa(i));
  assert.ok(isas.includes('scalar'));
  for (const isa of isas) {
    setNativeIsa(isa);
    for (const [M, Nn, K] of [
      [1, 1, 1],
      [3, 17, 5],
      [17, 3, 1023],
      [37, 65, 130],
      [130, 50, 400],
      [64, 1023, 17],
      [2, 300, 257],
      [4, 129, 1023],
      [3, 200, 347],
      [1, 70, 33],
    ] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const batch = M * Nn * K > 1e5 ? 1 : 2;
          const lda = (transA ? M : K) + 1;
          const ldb = (transB ? K : Nn) + 3;
          const ldc = Nn + 2;
          const strideA = (transA ? K : M) * lda + 1;
          const strideB = (transB ? Nn : K) * ldb;
          const strideC = M * ldc + 4;
          const A = randn(rng, 2 + batch * strideA);
          const bf16 = (M + K) % 2 === 0;
          const Bf = randn(rng, batch * strideB);
          const B = bf16 ? new Uint16Array(Bf.length) : Bf;
          if (bf16) R.f32ToBf16(Bf, B as Uint16Array, Bf.length);
          const [c1, c2] = pair(() => randn(rng, 1 + batch * strideC));
          const args = {
            transA,
            transB,
            M,
            N: Nn,
            K,
            alpha: 0.75,
            beta: (M % 2) as number,
            A,
            lda,
            offA: 2,
            strideA,
            B,
            bDtype: bf16 ? ('bf16' as const) : ('f32' as const),
            ldb,
            strideB,
            ldc,
            offC: 1,
            strideC,
            batch,
          };
          N!.gemm({ ...args, C: c1 });
          R.gemm({ ...args, C: c2 });
          assertClose(c1, c2, { atol: 1e-4 * Math.sqrt(K), rtol: 1e-4 }, `${isa} M${M} N${Nn} K${K} tA${transA} tB${transB} bf16 ${bf16}`);
        }
      }
    }
  }
  setNativeIsa(isas[0]!);
  assert.equal(nativeInfo()!.isa, isas[0]);
});

test('the decode path (M ≤ 4) gives each row bit-identically in a batch and alone, fp32 and bf16', { skip }, () => {
  const rng = new Rng(12);
  const isas = (['avx512', 'avx2', 'scalar'] as const).filter((i) => setNativeIsa(i));
  for (const isa of isas) {
    setNativeIsa(isa);
    for (const [Nn, K] of [
      [37, 1023],
      [65, 256],
      [300, 257],
      [8, 31],
    ] as const) {
      for (const bf16 of [false, true]) {
        const Bf = randn(rng, Nn * K);
        const B = bf16 ? new Uint16Array(Bf.length) : Bf;
        if (bf16) R.f32ToBf16(Bf, B as Uint16Array, Bf.length);
        const A = randn(rng, 4 * K);
        const gemm = (M: number, rows: Float32Array) => {
          const C = new Float32Array(M * Nn);
          N!.gemm({
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
        const alone = [0, 1, 2, 3].map((i) => gemm(1, A.slice(i * K, (i + 1) * K)));
        for (const M of [2, 3, 4]) {
          const batch = gemm(M, A.slice(0, M * K));
          for (let i = 0; i < M; i++)
            assert.deepEqual(batch.slice(i * Nn, (i + 1) * Nn), alone[i], `${isa} M${M} row ${i} N${Nn} K${K} bf16 ${bf16}`);
        }
      }
    }
  }
  setNativeIsa(isas[0]!);
});

function same(name: string, f: (K: Backend, bufs: Float32Array[]) => void, inputs: Float32Array[], outputs: number[], tol = TOL): void {
  const outA = outputs.map((n) => new Float32Array(n));
  const outB = outputs.map((n) => new Float32Array(n));
  f(N!, [...inputs.map((x) => x.slice()), ...outA]);
  f(R, [...inputs.map((x) => x.slice()), ...outB]);
  outA.forEach((o, i) => assertClose(o, outB[i]!, tol, `${name} output ${i}`));
}

test('native row-wise and elementwise kernels equal the reference', { skip }, () => {
  const rng = new Rng(12);
  for (const [rows, cols] of [
    [1, 1],
    [3, 17],
    [1023, 5],
    [64, 1023],
  ] as const) {
    const n = rows * cols;
    const x = randn(rng, n, 2);
    const w = randn(rng, cols);
    const b = randn(rng, cols);
    const dy = randn(rng, n);
    same('softmax', (K, [xx, y]) => K.softmax(xx!, y!, rows, cols), [x], [n]);
    same('softmaxBackward', (K, [y, g, dx]) => K.softmaxBackward(y!, g!, dx!, rows, cols), [x, dy], [n]);
    same('layerNorm', (K, [xx, ww, bb, y, m, r]) => K.layerNorm(xx!, ww!, bb!, y!, m!, r!, rows, cols, 1e-5), [x, w, b], [n, rows, rows]);
    same(
      'layerNormBackward',
      (K, [xx, ww, g, y, m, r, dx, dw, db]) => {
        K.layerNorm(xx!, ww!, null, y!, m!, r!, rows, cols, 1e-5);
        K.layerNormBackward(xx!, ww!, m!, r!, g!, dx!, dw!, db!, rows, cols);
      },
      [x, w, dy],
      [n, rows, rows, n, cols, cols],
      { atol: 1e-4, rtol: 1e-4 },
    );
    for (const addOne of [false, true]) {
      same(
        `rmsNorm ${addOne}`,
        (K, [xx, ww, g, y, r, dx, dw]) => {
          K.rmsNorm(xx!, ww!, y!, r!, rows, cols, 1e-6, addOne);
          K.rmsNormBackward(xx!, ww!, r!, g!, dx!, dw!, rows, cols, addOne);
        },
        [x, w, dy],
        [n, rows, n, cols],
        { atol: 1e-4, rtol: 1e-4 },
      );
    }
    same('gelu', (K, [xx, g, y, dx]) => (K.gelu(xx!, y!, n), K.geluBackward(xx!, g!, dx!, n)), [x, dy], [n, n]);
    same('silu', (K, [xx, g, y, dx]) => (K.silu(xx!, y!, n), K.siluBackward(xx!, g!, dx!, n)), [x, dy], [n, n]);
    for (const kind of ['geglu', 'swiglu'] as const) {
      same(
        kind,
        (K, [gt, up, g, y, dg, du]) => (K.gatedAct(kind, gt!, up!, y!, n), K.gatedActBackward(kind, gt!, up!, g!, dg!, du!, n)),
        [x, dy, w.length === n ? w : randn(rng, n)],
        [n, n, n],
      );
    }
    const V = cols;
    const targets = Int32Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? -100 : rng.int(0, V - 1)));
    same(
      'crossEntropy',
      (K, [lg, losses, lse, d]) => {
        K.crossEntropy(lg!, targets, -100, losses!, lse!, rows, V);
        K.crossEntropyBackward(lg!, targets, -100, lse!, 0.5, d!, rows, V);
      },
      [x],
      [rows, rows, n],
    );
  }
  const D = 8;
  const table = randn(rng, 50 * D);
  const ids = Int32Array.from({ length: 37 }, () => rng.int(0, 49));
  same(
    'embedding',
    (K, [t, g, out, dt]) => (K.embedding(t!, ids, out!, 37, D), K.embeddingBackward(g!, ids, dt!, 37, D)),
    [table, randn(rng, 37 * D)],
    [37 * D, 50 * D],
  );
  const pos = Int32Array.from({ length: 9 }, () => rng.int(0, 5000));
  const inv = Float32Array.from({ length: 4 }, (_, i) => 1 / 10000 ** (i / 4));
  for (const inverse of [false, true])
    same(`rope ${inverse}`, (K, [xx, y]) => (y!.set(xx!), K.rope(y!, pos, inv, 9, 3, 8, inverse)), [randn(rng, 9 * 3 * 8)], [9 * 3 * 8]);
  const n = 1001;
  const [p1, p2] = pair(() => randn(rng, n));
  const g = randn(rng, n);
  const [m1, m2] = pair(() => randn(rng, n, 0.1));
  const [v1, v2] = pair(() => randn(rng, n, 0.1).map(Math.abs));
  const opt = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 3 };
  N!.adamw(p1, g, m1, v1, n, opt);
  R.adamw(p2, g, m2, v2, n, opt);
  assertClose(p1, p2, TOL, 'adamw');
  assert.ok(Math.abs(N!.sumSquares(g, n) - R.sumSquares(g, n)) < 1e-6 * R.sumSquares(g, n));
  const special = Float32Array.of(1, 1 + 2 ** -8, 65520, 3 * 2 ** -25, Number.NaN, -Infinity, -0, 1e-8, ...randn(rng, 100, 100));
  for (const [to, from] of [
    ['f32ToBf16', 'bf16ToF32'],
    ['f32ToF16', 'f16ToF32'],
  ] as const) {
    const h1 = new Uint16Array(special.length);
    const h2 = new Uint16Array(special.length);
    N![to](special, h1, special.length);
    R[to](special, h2, special.length);
    assert.deepEqual(Array.from(h1), Array.from(h2), to);
    const f1 = new Float32Array(special.length);
    const f2 = new Float32Array(special.length);
    N![from](h1, f1, special.length);
    R[from](h1, f2, special.length);
    assertClose(f1, f2, { atol: 0, rtol: 0 }, from);
  }
});

test('native attention forward and backward equal the reference for every mask kind', { skip }, () => {
  const rng = new Rng(13);
  const mk = (
    B: number,
    Tq: number,
    Tk: number,
    Hq: number,
    Hkv: number,
    Dh: number,
    mask: AttentionShape['mask'],
    qOffset = 0,
    pad = 0,
  ): AttentionShape => ({ B, Tq, Tk, Hq, Hkv, Dh, qOffset, kvBatchStride: (Tk + pad) * Hkv * Dh, scale: 1 / Math.sqrt(Dh), mask });
  const cases: AttentionShape[] = [
    mk(2, 17, 17, 4, 2, 16, { causal: true, window: 0 }, 0, 3),
    mk(1, 33, 33, 2, 1, 8, { causal: true, window: 5 }),
    mk(1, 12, 12, 2, 2, 4, { causal: true, window: 0, blocks: Int32Array.of(0, 0, 1, 1, 1, 1, 0, 0, 2, 2, 0, 0) }),
    mk(2, 3, 9, 2, 1, 8, { causal: true, window: 0, kvStart: Int32Array.of(2, 0), kvLen: Int32Array.of(9, 5) }, 6),
    mk(1, 5, 7, 3, 3, 5, { causal: false, window: 0 }),
    mk(1, 4, 4, 1, 1, 4, { causal: true, window: 0, kvStart: Int32Array.of(3) }),
    // Model-sized heads: a sliding window over padded rows, and image spans inside a causal row.
    mk(2, 70, 70, 4, 2, 64, { causal: true, window: 30, kvLen: Int32Array.of(70, 41) }, 0, 2),
    mk(1, 40, 40, 2, 1, 64, {
      causal: true,
      window: 0,
      blocks: Int32Array.from({ length: 40 }, (_, i) => (i >= 3 && i < 19 ? 1 : i >= 25 && i < 33 ? 2 : 0)),
    }),
    // A block id used by two separate spans: the later span stays visible to the earlier one.
    mk(1, 30, 30, 2, 2, 16, {
      causal: true,
      window: 0,
      blocks: Int32Array.from({ length: 30 }, (_, i) => (i >= 2 && i < 6 ? 1 : i >= 20 && i < 24 ? 1 : 0)),
    }),
    // Decoding: one and three query rows against a long cache.
    mk(2, 1, 300, 4, 2, 64, { causal: true, window: 0, kvLen: Int32Array.of(300, 120) }, 299),
    mk(1, 3, 300, 4, 1, 32, { causal: true, window: 100 }, 297),
  ];
  for (const s of cases) {
    const nq = s.B * s.Tq * s.Hq * s.Dh;
    const nk = s.B * s.kvBatchStride;
    const q = randn(rng, nq);
    const k = randn(rng, nk);
    const v = randn(rng, nk);
    const dOut = randn(rng, nq);
    const run = (K: Backend) => {
      const out = new Float32Array(nq);
      const lse = new Float32Array(s.B * s.Hq * s.Tq);
      K.attention(s, q, k, v, out, lse);
      const dq = new Float32Array(nq);
      const dk = new Float32Array(nk);
      const dv = new Float32Array(nk);
      K.attentionBackward(s, q, k, v, out, lse, dOut, dq, dk, dv);
      return [out, lse, dq, dk, dv];
    };
    const a = run(N!);
    const b = run(R);
    a.forEach((x, i) =>
      assertClose(x, b[i]!, { atol: 1e-5, rtol: 1e-4 }, `attention ${JSON.stringify({ ...s, mask: Object.keys(s.mask) })} output ${i}`),
    );
  }
});

test('the native wrapper refuses buffers too small for the sizes it is given', { skip }, () => {
  assert.throws(
    () =>
      N!.gemm({
        transA: false,
        transB: false,
        M: 4,
        N: 4,
        K: 4,
        alpha: 1,
        beta: 0,
        A: new Float32Array(15),
        lda: 4,
        B: new Float32Array(16),
        ldb: 4,
        C: new Float32Array(16),
        ldc: 4,
      }),
    /gemm A/,
  );
  assert.throws(() => N!.softmax(new Float32Array(3), new Float32Array(4), 2, 2), /softmax x/);
  assert.throws(() => N!.embedding(new Float32Array(8), Int32Array.of(4), new Float32Array(2), 1, 2), /outside/);
  assert.throws(
    () => N!.crossEntropy(new Float32Array(4), Int32Array.of(7), -100, new Float32Array(1), new Float32Array(1), 1, 4),
    /outside/,
  );
});

test('the FMA peak runs one thread pinned per CPU, all at once', { skip }, () => {
  const cores = Math.min(2, availableParallelism());
  const peak = nativeFmaPeak(cores);
  if (peak.total === 0) return; // no AVX-512 on this CPU: nothing to measure
  assert.equal(peak.perThread.length, cores);
  assert.ok(peak.perThread.every((g) => g > 0));
  assert.ok(Math.abs(peak.total - peak.perThread.reduce((a, b) => a + b, 0)) < 1e-6);
  if (process.platform === 'linux') assert.equal(new Set(peak.cpus.filter((c) => c >= 0)).size, cores, `pinned to ${peak.cpus.join(', ')}`);
});
