// Row ops over [..., C] tensors: a broadcast add of a [R, C] table over leading dims (position
// embeddings), gathering rows and replacing rows at given indices (image features into the token
// embeddings), the rows of a bf16 embedding table, and average pooling of the rows of a square patch
// grid (Gemma 3's projector).
import { ShapeError } from '../../errors/index.ts';
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

export const addRows = (x: Tensor, rows: Tensor) => {
  if (x.size % rows.size !== 0 || x.shape[x.shape.length - 1] !== rows.shape[rows.shape.length - 1]) {
    throw new ShapeError(`addRows: [${x.shape.join(', ')}] + [${rows.shape.join(', ')}]`);
  }
  return run('addRows', [x, rows], null);
};

export const poolPatches = (x: Tensor, side: number, out: number) => {
  if (x.shape.length !== 3 || x.shape[1] !== side * side || side % out !== 0)
    throw new ShapeError(`poolPatches: [${x.shape.join(', ')}] from a ${side}×${side} grid to ${out}×${out}`);
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

/** Rows of a bf16 table widened to fp32 (frozen: no gradient). */
export function embeddingBf16(table: Bf16Tensor, ids: Int32Array): Tensor {
  const D = table.shape[1]!;
  const out = activation([ids.length, D]);
  const B = getBackend();
  for (let n = 0; n < ids.length; n++)
    B.bf16ToF32(table.bits.subarray(ids[n]! * D, (ids[n]! + 1) * D), out.data.subarray(n * D, (n + 1) * D), D);
  return out;
}
