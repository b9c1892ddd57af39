// Activations: tanh-GELU, SiLU, the gated MLP activations GeGLU / SwiGLU (gate, up), logit
// soft-capping and inverted dropout.
import type { Tensor } from '../tensor.ts';
import type { Rng } from '../../util/index.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

registerOp<{ kind: 'gelu' | 'silu' }>('act', {
  forward([x], { kind }) {
    const y = activation(x!.shape);
    getBackend()[kind](x!.data, y.data, x!.size);
    return { output: y };
  },
  backward([x], _y, g, _s, { kind }) {
    const dx = gradBuffer(x!.size);
    const K = getBackend();
    (kind === 'gelu' ? K.geluBackward : K.siluBackward).call(K, x!.data, g, dx, x!.size);
    return [dx];
  },
});

registerOp<{ kind: 'geglu' | 'swiglu' }>('gated', {
  forward([gate, up], { kind }) {
    const y = activation(gate!.shape);
    getBackend().gatedAct(kind, gate!.data, up!.data, y.data, gate!.size);
    return { output: y };
  },
  backward([gate, up], _y, g, _s, { kind }) {
    const dg = gradBuffer(gate!.size);
    const du = gradBuffer(up!.size);
    getBackend().gatedActBackward(kind, gate!.data, up!.data, g, dg, du, gate!.size);
    return [dg, du];
  },
});

export const gelu = (x: Tensor) => run('act', [x], { kind: 'gelu' as const });
export const silu = (x: Tensor) => run('act', [x], { kind: 'silu' as const });
export const gated = (kind: 'geglu' | 'swiglu', gate: Tensor, up: Tensor) => run('gated', [gate, up], { kind });

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
