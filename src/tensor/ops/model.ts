// Ops the model families need beyond the block: a broadcast add of a [R, C] table over leading
// dims (position embeddings), x·W with W stored [in, out] (Gemma 3's projector), average pooling
// of a square patch grid, replacing rows at given indices (image features into the token
// embeddings), logit soft-capping, inverted dropout, and the embedding lookup of a bf16 table.
import { ShapeError } from '../../errors/index.ts';
import type { Rng } from '../../util/index.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';
import type { Bf16Tensor, Tensor } from '../tensor.ts';

registerOp<null>('addRows', {
  forward([x, r]) {
    const out = activation(x!.shape);
    const n = r!.size;
    for (let i = 0; i < x!.size; i++) out.data[i] = x!.data[i]! + r!.data[i % n]!;
    return { output: out };
  },
  backward([x, r], _o, g) {
    let dr: Float32Array | null = null;
    if (r!.requiresGrad) {
      dr = gradBuffer(r!.size);
      const n = r!.size;
      for (let i = 0; i < x!.size; i++) dr[i % n]! += g[i]!;
    }
    return [g, dr];
  },
});

registerOp<null>('matmul', {
  forward([x, w]) {
    const [K, M] = w!.shape as [number, number];
    const N = x!.size / K;
    const y = activation([...x!.shape.slice(0, -1), M]);
    getBackend().gemm({ transA: false, transB: false, M: N, N: M, K, alpha: 1, beta: 0, A: x!.data, lda: K, B: w!.data, ldb: M, C: y.data, ldc: M });
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

interface PoolAttrs {
  side: number;
  out: number;
}

/** x [B, side², C] (row-major grid) → [B, out², C], each output the mean of a k×k block, k = side/out. */
registerOp<PoolAttrs>('poolPatches', {
  forward([x], { side, out }) {
    const [B, , C] = x!.shape as [number, number, number];
    const k = side / out;
    const y = activation([B, out * out, C]);
    const inv = 1 / (k * k);
    for (let b = 0; b < B; b++) {
      for (let py = 0; py < side; py++) {
        for (let px = 0; px < side; px++) {
          const src = (b * side * side + py * side + px) * C;
          const dst = (b * out * out + Math.floor(py / k) * out + Math.floor(px / k)) * C;
          for (let c = 0; c < C; c++) y.data[dst + c]! += x!.data[src + c]! * inv;
        }
      }
    }
    return { output: y };
  },
  backward([x], _y, g, _s, { side, out }) {
    const [B, , C] = x!.shape as [number, number, number];
    const k = side / out;
    const inv = 1 / (k * k);
    const dx = gradBuffer(x!.size);
    for (let b = 0; b < B; b++) {
      for (let py = 0; py < side; py++) {
        for (let px = 0; px < side; px++) {
          const dst = (b * side * side + py * side + px) * C;
          const src = (b * out * out + Math.floor(py / k) * out + Math.floor(px / k)) * C;
          for (let c = 0; c < C; c++) dx[dst + c] = g[src + c]! * inv;
        }
      }
    }
    return [dx];
  },
});

/** out = base with out[index[i], :] = rows[i, :]. */
registerOp<{ index: Int32Array }>('scatterRows', {
  forward([base, rows], { index }) {
    const D = base!.shape[base!.shape.length - 1]!;
    const out = activation(base!.shape);
    out.data.set(base!.data);
    for (let i = 0; i < index.length; i++) out.data.set(rows!.data.subarray(i * D, (i + 1) * D), index[i]! * D);
    return { output: out };
  },
  backward([base, rows], _o, g, _s, { index }) {
    const D = base!.shape[base!.shape.length - 1]!;
    const dBase = gradBuffer(g.length);
    dBase.set(g);
    const dRows = gradBuffer(rows!.size);
    for (let i = 0; i < index.length; i++) {
      const at = index[i]! * D;
      dRows.set(g.subarray(at, at + D), i * D);
      dBase.fill(0, at, at + D);
    }
    return [dBase, dRows];
  },
});

/** out[i, :] = x[index[i], :]; backward scatter-adds. */
registerOp<{ index: Int32Array }>('gatherRows', {
  forward([x], { index }) {
    const D = x!.shape[x!.shape.length - 1]!;
    const out = activation([index.length, D]);
    for (let i = 0; i < index.length; i++) out.data.set(x!.data.subarray(index[i]! * D, (index[i]! + 1) * D), i * D);
    return { output: out };
  },
  backward([x], _o, g, _s, { index }) {
    const D = x!.shape[x!.shape.length - 1]!;
    const dx = gradBuffer(x!.size);
    for (let i = 0; i < index.length; i++) {
      const at = index[i]! * D;
      for (let d = 0; d < D; d++) dx[at + d]! += g[i * D + d]!;
    }
    return [dx];
  },
});

registerOp<{ cap: number }>('softcap', {
  forward([x], { cap }) {
    const y = activation(x!.shape);
    for (let i = 0; i < x!.size; i++) y.data[i] = Math.tanh(x!.data[i]! / cap) * cap;
    return { output: y };
  },
  backward(_x, y, g, _s, { cap }) {
    const dx = gradBuffer(g.length);
    for (let i = 0; i < g.length; i++) {
      const t = y.data[i]! / cap;
      dx[i] = g[i]! * (1 - t * t);
    }
    return [dx];
  },
});

registerOp<{ mask: Float32Array }>('dropout', {
  forward([x], { mask }) {
    const y = activation(x!.shape);
    for (let i = 0; i < x!.size; i++) y.data[i] = x!.data[i]! * mask[i]!;
    return { output: y };
  },
  backward(_x, _y, g, _s, { mask }) {
    const out = gradBuffer(g.length);
    for (let i = 0; i < g.length; i++) out[i] = g[i]! * mask[i]!;
    return [out];
  },
});

export const addRows = (x: Tensor, rows: Tensor) => {
  if (x.size % rows.size !== 0 || x.shape[x.shape.length - 1] !== rows.shape[rows.shape.length - 1]) {
    throw new ShapeError(`addRows: [${x.shape.join(', ')}] + [${rows.shape.join(', ')}]`);
  }
  return run('addRows', [x, rows], null);
};

/** y = x · W with W stored [in, out]. */
export const matmul = (x: Tensor, w: Tensor) => {
  if (w.shape.length !== 2 || x.shape[x.shape.length - 1] !== w.shape[0]) throw new ShapeError(`matmul: [${x.shape.join(', ')}] · [${w.shape.join(', ')}]`);
  return run('matmul', [x, w], null);
};

export const poolPatches = (x: Tensor, side: number, out: number) => {
  if (x.shape.length !== 3 || x.shape[1] !== side * side || side % out !== 0) throw new ShapeError(`poolPatches: [${x.shape.join(', ')}] from a ${side}×${side} grid to ${out}×${out}`);
  return run('poolPatches', [x], { side, out });
};

export const scatterRows = (base: Tensor, rows: Tensor, index: Int32Array) => {
  const D = base.shape[base.shape.length - 1]!;
  const N = base.size / D;
  if (rows.size !== index.length * D) throw new ShapeError(`scatterRows: ${index.length} indices for rows [${rows.shape.join(', ')}]`);
  for (const i of index) if (i < 0 || i >= N) throw new ShapeError(`scatterRows: index ${i} outside ${N} rows`);
  return run('scatterRows', [base, rows], { index });
};

/** Rows of a [N, D] tensor at the given indices ([index.length, D]). */
export const gatherRows = (x: Tensor, index: Int32Array) => {
  const D = x.shape[x.shape.length - 1]!;
  const N = x.size / D;
  for (const i of index) if (i < 0 || i >= N) throw new ShapeError(`gatherRows: index ${i} outside ${N} rows`);
  return run('gatherRows', [x], { index });
};

/** tanh(x / cap) · cap (Gemma 2's logit soft-capping). */
export const softcap = (x: Tensor, cap: number) => run('softcap', [x], { cap });

/** Inverted dropout with probability p (identity when p = 0). */
export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  if (p <= 0) return x;
  const keep = 1 / (1 - p);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < p ? 0 : keep;
  return run('dropout', [x], { mask });
}

/** Rows of a bf16 table widened to fp32 (frozen: no gradient). */
export function embeddingBf16(table: Bf16Tensor, ids: Int32Array): Tensor {
  const D = table.shape[1]!;
  const out = activation([ids.length, D]);
  const B = getBackend();
  for (let n = 0; n < ids.length; n++) B.bf16ToF32(table.bits.subarray(ids[n]! * D, (ids[n]! + 1) * D), out.data.subarray(n * D, (n + 1) * D), D);
  return out;
}
