// Attention over q [B, T, Hq, Dh], k/v [B, T, Hkv, Dh] (self-attention on one sequence layout) with
// the backend's fused kernel, and RoPE applied to q or k. Masks as in AttentionMask.
import type { AttentionMask, AttentionShape } from '../backend.ts';
import type { Tensor } from '../tensor.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

interface AttnAttrs {
  mask: AttentionMask;
  scale: number;
}

function shapeOf(q: Tensor, k: Tensor, a: AttnAttrs): AttentionShape {
  const [B, Tq, Hq, Dh] = q.shape as [number, number, number, number];
  const [, Tk, Hkv] = k.shape as [number, number, number, number];
  return { B, Tq, Tk, Hq, Hkv, Dh, qOffset: 0, kvBatchStride: Tk * Hkv * Dh, scale: a.scale, mask: a.mask };
}

registerOp<AttnAttrs>('attention', {
  forward([q, k, v], attrs) {
    const s = shapeOf(q!, k!, attrs);
    const out = activation(q!.shape);
    const lse = new Float32Array(s.B * s.Hq * s.Tq);
    getBackend().attention(s, q!.data, k!.data, v!.data, out.data, lse);
    return { output: out, saved: lse };
  },
  backward([q, k, v], out, g, saved, attrs) {
    const s = shapeOf(q!, k!, attrs);
    const dq = gradBuffer(q!.size);
    const dk = gradBuffer(k!.size);
    const dv = gradBuffer(v!.size);
    getBackend().attentionBackward(s, q!.data, k!.data, v!.data, out.data, saved as Float32Array, g, dq, dk, dv);
    return [dq, dk, dv];
  },
});

registerOp<{ positions: Int32Array; invFreq: Float32Array }>('rope', {
  forward([x], { positions, invFreq }) {
    const [B, T, H, Dh] = x!.shape as [number, number, number, number];
    const y = activation(x!.shape);
    y.data.set(x!.data);
    getBackend().rope(y.data, positions, invFreq, B * T, H, Dh, false);
    return { output: y };
  },
  backward([x], _y, g, _s, { positions, invFreq }) {
    const [B, T, H, Dh] = x!.shape as [number, number, number, number];
    const dx = Float32Array.from(g);
    getBackend().rope(dx, positions, invFreq, B * T, H, Dh, true);
    return [dx];
  },
});

export const attention = (q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask, scale = 1 / Math.sqrt(q.shape[3]!)) =>
  run('attention', [q, k, v], { mask, scale });

/** positions: [B·T] absolute positions; invFreq: [Dh/2] (theta and scaling folded in). */
export const rope = (x: Tensor, positions: Int32Array, invFreq: Float32Array) => run('rope', [x], { positions, invFreq });

/** HF's default inverse frequencies: 1 / theta^(2i/Dh), divided by a linear scaling factor. */
export function ropeInvFreq(Dh: number, theta: number, linearScale = 1): Float32Array {
  return Float32Array.from({ length: Dh / 2 }, (_, i) => 1 / theta ** ((2 * i) / Dh) / linearScale);
}
