// The native backend: C++ kernels behind N-API (build/Release/vlm2vla_native.node), AVX-512, AVX2 or
// plain C++ chosen at run time, one persistent thread pool (VLM2VLA_THREADS, default all cores).
// This wrapper passes buffers and sizes straight through; the addon trusts them, so every entry
// point that indexes with caller-supplied sizes checks them here first.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import type { Backend, GemmArgs, AttentionShape } from '../backend.ts';
import { ShapeError } from '../../errors/index.ts';

type Addon = Record<string, (...args: any[]) => any>;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const ADDON_PATH = join(ROOT, 'build', 'Release', 'vlm2vla_native.node');

function need(buf: { length: number }, n: number, what: string): void {
  if (!(n >= 0) || buf.length < n)
    throw new ShapeError(`${what}: buffer has ${buf.length} elements, the kernel needs ${n}`, { field: what });
}

function gemmExtent(rows: number, cols: number, ld: number, off: number, stride: number, batch: number): number {
  if (rows === 0 || cols === 0) return 0;
  return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

let addon: Addon | null | undefined;

function load(): Addon | null {
  if (addon !== undefined) return addon;
  if (!existsSync(ADDON_PATH)) return (addon = null);
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch {
    addon = null;
  }
  return addon;
}

/** Forces the GEMM microkernel family for tests and benchmarks; false if this CPU lacks it. */
export function setNativeIsa(isa: 'avx512' | 'avx2' | 'scalar'): boolean {
  return Boolean(load()?.setIsa!(isa));
}

/** A measured fp32 FMA peak: GFLOP/s in total and per thread, and the CPU each thread was pinned to (-1: not pinned). */
export interface FmaPeak {
  total: number;
  perThread: number[];
  cpus: number[];
}

/** Measured fp32 FMA peak of this machine on `threads` threads (default: the pool's), one pinned per core (GFLOP/s;
 *  total 0 without AVX-512 or without the addon). */
export function nativeFmaPeak(threads?: number): FmaPeak {
  const r = load()?.fmaPeak!(...(threads === undefined ? [] : [threads])) as FmaPeak | undefined;
  return r ?? { total: 0, perThread: [], cpus: [] };
}

export function nativeInfo(): { isa: string; threads: number } | null {
  return (load()?.info!() as { isa: string; threads: number } | undefined) ?? null;
}

function attnArgs(s: AttentionShape): unknown[] {
  const m = s.mask;
  return [
    s.B,
    s.Tq,
    s.Tk,
    s.Hq,
    s.Hkv,
    s.Dh,
    s.qOffset,
    s.kvBatchStride,
    s.scale,
    m.causal,
    m.window,
    m.blocks ?? null,
    m.kvStart ?? null,
    m.kvLen ?? null,
  ];
}

function checkAttention(s: AttentionShape, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array): void {
  if (s.Hq % s.Hkv !== 0) throw new ShapeError(`attention: Hq ${s.Hq} is not a multiple of Hkv ${s.Hkv}`);
  const nq = s.B * s.Tq * s.Hq * s.Dh;
  need(q, nq, 'attention q');
  need(out, nq, 'attention out');
  const nk = (s.B - 1) * s.kvBatchStride + s.Tk * s.Hkv * s.Dh;
  need(k, nk, 'attention k');
  need(v, nk, 'attention v');
  if (s.mask.blocks) need(s.mask.blocks, s.B * s.Tk, 'attention mask.blocks');
  if (s.mask.kvStart) need(s.mask.kvStart, s.B, 'attention mask.kvStart');
  if (s.mask.kvLen) need(s.mask.kvLen, s.B, 'attention mask.kvLen');
}

export function loadNativeBackend(): Backend | null {
  const a = load();
  if (!a) return null;
  return {
    name: 'native',
    describe: () => {
      const i = a.info!() as { isa: string; threads: number };
      return `native (${i.isa}, ${i.threads} thread${i.threads === 1 ? '' : 's'})`;
    },
    gemm(g: GemmArgs) {
      const batch = g.batch ?? 1;
      const [ra, ca] = g.transA ? [g.K, g.M] : [g.M, g.K];
      const [rb, cb] = g.transB ? [g.N, g.K] : [g.K, g.N];
      need(g.A, gemmExtent(ra, ca, g.lda, g.offA ?? 0, g.strideA ?? 0, batch), 'gemm A');
      need(g.B, gemmExtent(rb, cb, g.ldb, g.offB ?? 0, g.strideB ?? 0, batch), 'gemm B');
      need(g.C, gemmExtent(g.M, g.N, g.ldc, g.offC ?? 0, g.strideC ?? 0, batch), 'gemm C');
      if (ca > g.lda || cb > g.ldb || g.N > g.ldc) throw new ShapeError('gemm: a leading dimension is smaller than its row');
      a.gemm!(
        g.transA,
        g.transB,
        g.M,
        g.N,
        g.K,
        g.alpha,
        g.beta,
        g.A,
        g.lda,
        g.offA ?? 0,
        g.strideA ?? 0,
        g.B,
        g.ldb,
        g.offB ?? 0,
        g.strideB ?? 0,
        g.bDtype === 'bf16',
        g.C,
        g.ldc,
        g.offC ?? 0,
        g.strideC ?? 0,
        batch,
      );
    },
    softmax(x, y, rows, cols) {
      need(x, rows * cols, 'softmax x');
      need(y, rows * cols, 'softmax y');
      a.softmax!(x, y, rows, cols);
    },
    softmaxBackward(y, dy, dx, rows, cols) {
      for (const [b, n] of [
        [y, 'y'],
        [dy, 'dy'],
        [dx, 'dx'],
      ] as const)
        need(b, rows * cols, `softmaxBackward ${n}`);
      a.softmaxBackward!(y, dy, dx, rows, cols);
    },
    layerNorm(x, w, b, y, mean, rstd, rows, cols, eps) {
      need(x, rows * cols, 'layerNorm x');
      need(y, rows * cols, 'layerNorm y');
      need(mean, rows, 'layerNorm mean');
      need(rstd, rows, 'layerNorm rstd');
      if (w) need(w, cols, 'layerNorm w');
      if (b) need(b, cols, 'layerNorm b');
      a.layerNorm!(x, w, b, y, mean, rstd, rows, cols, eps);
    },
    layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols) {
      need(x, rows * cols, 'layerNormBackward x');
      need(dy, rows * cols, 'layerNormBackward dy');
      need(dx, rows * cols, 'layerNormBackward dx');
      if (dw) need(dw, cols, 'layerNormBackward dw');
      if (db) need(db, cols, 'layerNormBackward db');
      a.layerNormBackward!(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
    },
    rmsNorm(x, w, y, rstd, rows, cols, eps, addOne) {
      need(x, rows * cols, 'rmsNorm x');
      need(y, rows * cols, 'rmsNorm y');
      need(w, cols, 'rmsNorm w');
      need(rstd, rows, 'rmsNorm rstd');
      a.rmsNorm!(x, w, y, rstd, rows, cols, eps, addOne);
    },
    rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols, addOne) {
      need(x, rows * cols, 'rmsNormBackward x');
      need(dy, rows * cols, 'rmsNormBackward dy');
      need(dx, rows * cols, 'rmsNormBackward dx');
      need(dw, cols, 'rmsNormBackward dw');
      a.rmsNormBackward!(x, w, rstd, dy, dx, dw, rows, cols, addOne);
    },
    gelu(x, y, n) {
      need(x, n, 'gelu x');
      need(y, n, 'gelu y');
      a.gelu!(x, y, n);
    },
    geluBackward(x, dy, dx, n) {
      need(x, n, 'x');
      need(dy, n, 'dy');
      need(dx, n, 'dx');
      a.geluBackward!(x, dy, dx, n);
    },
    silu(x, y, n) {
      need(x, n, 'silu x');
      need(y, n, 'silu y');
      a.silu!(x, y, n);
    },
    siluBackward(x, dy, dx, n) {
      need(x, n, 'x');
      need(dy, n, 'dy');
      need(dx, n, 'dx');
      a.siluBackward!(x, dy, dx, n);
    },
    gatedAct(kind, gate, up, y, n) {
      need(gate, n, 'gate');
      need(up, n, 'up');
      need(y, n, 'y');
      a.gatedAct!(kind === 'geglu', gate, up, y, n);
    },
    gatedActBackward(kind, gate, up, dy, dGate, dUp, n) {
      for (const b of [gate, up, dy, dGate, dUp]) need(b, n, 'gatedActBackward');
      a.gatedActBackward!(kind === 'geglu', gate, up, dy, dGate, dUp, n);
    },
    rope(x, positions, invFreq, N, H, Dh, inverse) {
      need(x, N * H * Dh, 'rope x');
      need(positions, N, 'rope positions');
      need(invFreq, Dh / 2, 'rope invFreq');
      a.rope!(x, positions, invFreq, N, H, Dh, inverse);
    },
    embedding(table, ids, out, N, D) {
      need(ids, N, 'embedding ids');
      need(out, N * D, 'embedding out');
      const V = table.length / D;
      for (let i = 0; i < N; i++)
        if (!(ids[i]! >= 0 && ids[i]! < V)) throw new ShapeError(`embedding: id ${ids[i]} at ${i} is outside [0, ${V})`);
      a.embedding!(table, ids, out, N, D);
    },
    embeddingBackward(dOut, ids, dTable, N, D) {
      need(ids, N, 'ids');
      need(dOut, N * D, 'dOut');
      const V = dTable.length / D;
      for (let i = 0; i < N; i++)
        if (!(ids[i]! >= 0 && ids[i]! < V)) throw new ShapeError(`embedding: id ${ids[i]} at ${i} is outside [0, ${V})`);
      a.embeddingBackward!(dOut, ids, dTable, N, D);
    },
    crossEntropy(logits, targets, ignoreIndex, losses, lse, N, V) {
      need(logits, N * V, 'crossEntropy logits');
      need(targets, N, 'targets');
      need(losses, N, 'losses');
      need(lse, N, 'lse');
      for (let i = 0; i < N; i++)
        if (targets[i] !== ignoreIndex && !(targets[i]! >= 0 && targets[i]! < V))
          throw new ShapeError(`crossEntropy: target ${targets[i]} at ${i} is outside [0, ${V})`);
      return a.crossEntropy!(logits, targets, ignoreIndex, losses, lse, N, V) as number;
    },
    crossEntropyBackward(logits, targets, ignoreIndex, lse, scale, dLogits, N, V) {
      need(logits, N * V, 'logits');
      need(dLogits, N * V, 'dLogits');
      need(targets, N, 'targets');
      for (let i = 0; i < N; i++)
        if (targets[i] !== ignoreIndex && !(targets[i]! >= 0 && targets[i]! < V))
          throw new ShapeError(`crossEntropy: target ${targets[i]} at ${i} is outside [0, ${V})`);
      a.crossEntropyBackward!(logits, targets, ignoreIndex, lse, scale, dLogits, N, V);
    },
    attention(s, q, k, v, out, lse) {
      checkAttention(s, q, k, v, out);
      need(lse, s.B * s.Hq * s.Tq, 'attention lse');
      a.attention!(...attnArgs(s), q, k, v, out, lse);
    },
    attentionBackward(s, q, k, v, out, lse, dOut, dq, dk, dv) {
      checkAttention(s, q, k, v, out);
      need(dOut, q.length, 'dOut');
      need(dq, s.B * s.Tq * s.Hq * s.Dh, 'dq');
      need(dk, k.length, 'dk');
      need(dv, v.length, 'dv');
      a.attentionBackward!(...attnArgs(s), q, k, v, out, lse, dOut, dq, dk, dv);
    },
    adamw(param, grad, m, v, n, o) {
      for (const b of [param, grad, m, v]) need(b, n, 'adamw');
      a.adamw!(param, grad, m, v, n, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.step);
    },
    sumSquares(x, n) {
      need(x, n, 'sumSquares');
      return a.sumSquares!(x, n) as number;
    },
    scale(x, factor, n) {
      need(x, n, 'scale');
      a.scale!(x, factor, n);
    },
    axpy(alpha, x, y, n) {
      need(x, n, 'axpy x');
      need(y, n, 'axpy y');
      a.axpy!(alpha, x, y, n);
    },
    f32ToBf16(src, dst, n) {
      need(src, n, 'src');
      need(dst, n, 'dst');
      a.f32ToBf16!(src, dst, n);
    },
    bf16ToF32(src, dst, n) {
      need(src, n, 'src');
      need(dst, n, 'dst');
      a.bf16ToF32!(src, dst, n);
    },
    f32ToF16(src, dst, n) {
      need(src, n, 'src');
      need(dst, n, 'dst');
      a.f32ToF16!(src, dst, n);
    },
    f16ToF32(src, dst, n) {
      need(src, n, 'src');
      need(dst, n, 'dst');
      a.f16ToF32!(src, dst, n);
    },
  };
}
