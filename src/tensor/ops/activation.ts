// Activations: tanh-GELU, SiLU, and the gated MLP activations GeGLU / SwiGLU (gate, up).
import type { Tensor } from '../tensor.ts';
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
