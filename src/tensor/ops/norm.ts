// Normalisation over the last dimension: layerNorm (w, b) and rmsNorm (w, or Gemma's 1 + w).
import type { Tensor } from '../tensor.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

registerOp<{ eps: number }>('layerNorm', {
  forward([x, w, b], { eps }) {
    const cols = x!.shape[x!.shape.length - 1]!;
    const rows = x!.size / cols;
    const y = activation(x!.shape);
    const mean = new Float32Array(rows);
    const rstd = new Float32Array(rows);
    getBackend().layerNorm(x!.data, w?.data ?? null, b?.data ?? null, y.data, mean, rstd, rows, cols, eps);
    return { output: y, saved: { mean, rstd } };
  },
  backward([x, w, b], _y, g, saved) {
    const { mean, rstd } = saved as { mean: Float32Array; rstd: Float32Array };
    const cols = x!.shape[x!.shape.length - 1]!;
    const dx = gradBuffer(x!.size);
    const dw = w ? gradBuffer(cols) : null;
    const db = b ? gradBuffer(cols) : null;
    getBackend().layerNormBackward(x!.data, w?.data ?? null, mean, rstd, g, dx, dw, db, x!.size / cols, cols);
    return [dx, dw, db];
  },
});

registerOp<{ eps: number; addOne: boolean }>('rmsNorm', {
  forward([x, w], { eps, addOne }) {
    const cols = x!.shape[x!.shape.length - 1]!;
    const rows = x!.size / cols;
    const y = activation(x!.shape);
    const rstd = new Float32Array(rows);
    getBackend().rmsNorm(x!.data, w!.data, y.data, rstd, rows, cols, eps, addOne);
    return { output: y, saved: rstd };
  },
  backward([x, w], _y, g, saved, { addOne }) {
    const cols = x!.shape[x!.shape.length - 1]!;
    const dx = gradBuffer(x!.size);
    const dw = gradBuffer(cols);
    getBackend().rmsNormBackward(x!.data, w!.data, saved as Float32Array, g, dx, dw, x!.size / cols, cols, addOne);
    return [dx, dw];
  },
});

export const layerNorm = (x: Tensor, w: Tensor | null, b: Tensor | null, eps = 1e-5) =>
  run('layerNorm', [x, ...(w ? [w] : []), ...(b ? [b] : [])], { eps });
export const rmsNorm = (x: Tensor, w: Tensor, eps = 1e-6, addOne = false) => run('rmsNorm', [x, w], { eps, addOne });
