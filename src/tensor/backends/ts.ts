// The pure-TypeScript backend: every kernel of the contract in plain, obviously correct loops
// (float64 accumulation). It is the fallback when the native addon is missing and the oracle that
// native kernels are tested against. Shape letters: N rows, D/cols width, V vocabulary.
import type { AdamWArgs, Backend } from '../backend.ts';
import { gemm } from './ts/gemm.ts';
import { attention, attentionBackward } from './ts/attention.ts';
import { f32ToBf16Scalar, bf16ToF32Scalar, f32ToF16Scalar, f16ToF32Scalar } from './ts/convert.ts';

const GELU_C = Math.sqrt(2 / Math.PI);

function geluScalar(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}
function geluGrad(x: number): number {
  const u = GELU_C * (x + 0.044715 * x * x * x);
  const th = Math.tanh(u);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_C * (1 + 3 * 0.044715 * x * x);
}
function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
function siluScalar(x: number): number {
  return x * sigmoid(x);
}
function siluGrad(x: number): number {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
}

export const tsBackend: Backend = {
  name: 'ts',
  describe: () => 'ts (pure TypeScript reference kernels, 1 thread)',
  gemm,

  softmax(x, y, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]!);
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(x[o + c]! - max);
        y[o + c] = e;
        sum += e;
      }
      for (let c = 0; c < cols; c++) y[o + c]! /= sum;
    }
  },
  softmaxBackward(y, dy, dx, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += dy[o + c]! * y[o + c]!;
      for (let c = 0; c < cols; c++) dx[o + c] = y[o + c]! * (dy[o + c]! - dot);
    }
  },

  layerNorm(x, w, b, y, mean, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mu = 0;
      for (let c = 0; c < cols; c++) mu += x[o + c]!;
      mu /= cols;
      let v = 0;
      for (let c = 0; c < cols; c++) v += (x[o + c]! - mu) ** 2;
      const rs = 1 / Math.sqrt(v / cols + eps);
      mean[r] = mu;
      rstd[r] = rs;
      for (let c = 0; c < cols; c++) y[o + c] = (x[o + c]! - mu) * rs * (w ? w[c]! : 1) + (b ? b[c]! : 0);
    }
  },
  layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const mu = mean[r]!;
      const rs = rstd[r]!;
      let sumG = 0;
      let sumGX = 0;
      for (let c = 0; c < cols; c++) {
        const xh = (x[o + c]! - mu) * rs;
        const g = dy[o + c]! * (w ? w[c]! : 1);
        sumG += g;
        sumGX += g * xh;
        if (dw) dw[c]! += dy[o + c]! * xh;
        if (db) db[c]! += dy[o + c]!;
      }
      for (let c = 0; c < cols; c++) {
        const xh = (x[o + c]! - mu) * rs;
        const g = dy[o + c]! * (w ? w[c]! : 1);
        dx[o + c] = rs * (g - sumG / cols - (xh * sumGX) / cols);
      }
    }
  },

  rmsNorm(x, w, y, rstd, rows, cols, eps, addOne) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let ss = 0;
      for (let c = 0; c < cols; c++) ss += x[o + c]! ** 2;
      const rs = 1 / Math.sqrt(ss / cols + eps);
      rstd[r] = rs;
      for (let c = 0; c < cols; c++) y[o + c] = x[o + c]! * rs * (addOne ? 1 + w[c]! : w[c]!);
    }
  },
  rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols, addOne) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const rs = rstd[r]!;
      let dot = 0;
      for (let c = 0; c < cols; c++) {
        const g = dy[o + c]! * (addOne ? 1 + w[c]! : w[c]!);
        dot += g * x[o + c]!;
        dw[c]! += dy[o + c]! * x[o + c]! * rs;
      }
      for (let c = 0; c < cols; c++) {
        const g = dy[o + c]! * (addOne ? 1 + w[c]! : w[c]!);
        dx[o + c] = rs * g - (rs * rs * rs * x[o + c]! * dot) / cols;
      }
    }
  },

  gelu(x, y, n) {
    for (let i = 0; i < n; i++) y[i] = geluScalar(x[i]!);
  },
  geluBackward(x, dy, dx, n) {
    for (let i = 0; i < n; i++) dx[i] = dy[i]! * geluGrad(x[i]!);
  },
  silu(x, y, n) {
    for (let i = 0; i < n; i++) y[i] = siluScalar(x[i]!);
  },
  siluBackward(x, dy, dx, n) {
    for (let i = 0; i < n; i++) dx[i] = dy[i]! * siluGrad(x[i]!);
  },
  gatedAct(kind, gate, up, y, n) {
    const f = kind === 'geglu' ? geluScalar : siluScalar;
    for (let i = 0; i < n; i++) y[i] = f(gate[i]!) * up[i]!;
  },
  gatedActBackward(kind, gate, up, dy, dGate, dUp, n) {
    const f = kind === 'geglu' ? geluScalar : siluScalar;
    const df = kind === 'geglu' ? geluGrad : siluGrad;
    for (let i = 0; i < n; i++) {
      const g = gate[i]!;
      const d = dy[i]!;
      dGate[i] = d * up[i]! * df(g);
      dUp[i] = d * f(g);
    }
  },

  rope(x, positions, invFreq, N, H, Dh, inverse) {
    const half = Dh / 2;
    for (let n = 0; n < N; n++) {
      const pos = positions[n]!;
      for (let i = 0; i < half; i++) {
        const angle = pos * invFreq[i]!;
        const c = Math.cos(angle);
        const s = inverse ? -Math.sin(angle) : Math.sin(angle);
        for (let h = 0; h < H; h++) {
          const o = (n * H + h) * Dh;
          const a = x[o + i]!;
          const b = x[o + i + half]!;
          x[o + i] = a * c - b * s;
          x[o + i + half] = b * c + a * s;
        }
      }
    }
  },

  embedding(table, ids, out, N, D) {
    for (let n = 0; n < N; n++) out.set(table.subarray(ids[n]! * D, ids[n]! * D + D), n * D);
  },
  embeddingBackward(dOut, ids, dTable, N, D) {
    for (let n = 0; n < N; n++) {
      const o = ids[n]! * D;
      for (let d = 0; d < D; d++) dTable[o + d]! += dOut[n * D + d]!;
    }
  },

  crossEntropy(logits, targets, ignoreIndex, losses, lse, N, V) {
    let count = 0;
    for (let n = 0; n < N; n++) {
      const o = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v]!);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v]! - max);
      const l = max + Math.log(sum);
      lse[n] = l;
      const t = targets[n]!;
      if (t === ignoreIndex) {
        losses[n] = 0;
        continue;
      }
      losses[n] = l - logits[o + t]!;
      count++;
    }
    return count;
  },
  crossEntropyBackward(logits, targets, ignoreIndex, lse, scale, dLogits, N, V) {
    for (let n = 0; n < N; n++) {
      const o = n * V;
      const t = targets[n]!;
      if (t === ignoreIndex) {
        dLogits.fill(0, o, o + V);
        continue;
      }
      const l = lse[n]!;
      for (let v = 0; v < V; v++) dLogits[o + v] = scale * (Math.exp(logits[o + v]! - l) - (v === t ? 1 : 0));
    }
  },

  attention,
  attentionBackward,

  adamw(param, grad, m, v, n, a: AdamWArgs) {
    const c1 = 1 - a.beta1 ** a.step;
    const c2 = 1 - a.beta2 ** a.step;
    for (let i = 0; i < n; i++) {
      const g = grad[i]!;
      m[i] = a.beta1 * m[i]! + (1 - a.beta1) * g;
      v[i] = a.beta2 * v[i]! + (1 - a.beta2) * g * g;
      const mhat = m[i]! / c1;
      const vhat = v[i]! / c2;
      param[i]! -= a.lr * (mhat / (Math.sqrt(vhat) + a.eps) + a.weightDecay * param[i]!);
    }
  },
  sumSquares(x, n) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
    return s;
  },
  scale(x, factor, n) {
    for (let i = 0; i < n; i++) x[i]! *= factor;
  },
  axpy(alpha, x, y, n) {
    for (let i = 0; i < n; i++) y[i]! += alpha * x[i]!;
  },

  f32ToBf16(src, dst, n) {
    for (let i = 0; i < n; i++) dst[i] = f32ToBf16Scalar(src[i]!);
  },
  bf16ToF32(src, dst, n) {
    for (let i = 0; i < n; i++) dst[i] = bf16ToF32Scalar(src[i]!);
  },
  f32ToF16(src, dst, n) {
    for (let i = 0; i < n; i++) dst[i] = f32ToF16Scalar(src[i]!);
  },
  f16ToF32(src, dst, n) {
    for (let i = 0; i < n; i++) dst[i] = f16ToF32Scalar(src[i]!);
  },
};
