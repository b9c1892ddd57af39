// Reference attention over q [B, Tq, Hq, Dh], k/v [B, Tk, Hkv, Dh] (batch stride kvBatchStride),
// out [B, Tq, Hq, Dh], lse [B, Hq, Tq]: explicit scores per query row, float64 accumulation, masks as
// defined by AttentionMask. Backward recomputes probabilities from lse.
import type { AttentionShape } from '../../backend.ts';

/** Whether key j is visible to query t (absolute position qOffset + t) in batch row b. */
export function visible(s: AttentionShape, b: number, t: number, j: number): boolean {
  const m = s.mask;
  const i = s.qOffset + t;
  if (m.kvStart && j < m.kvStart[b]!) return false;
  if (m.kvLen && j >= m.kvLen[b]!) return false;
  if (m.causal && j > i) {
    const blocks = m.blocks;
    if (!blocks || i >= s.Tk) return false;
    const bi = blocks[b * s.Tk + i]!;
    if (bi === 0 || blocks[b * s.Tk + j] !== bi) return false;
  }
  if (m.window > 0 && i - j >= m.window) return false;
  return true;
}

const qIndex = (s: AttentionShape, b: number, t: number, h: number) => ((b * s.Tq + t) * s.Hq + h) * s.Dh;
const kIndex = (s: AttentionShape, b: number, j: number, h: number) => b * s.kvBatchStride + (j * s.Hkv + h) * s.Dh;

export function attention(
  s: AttentionShape,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
): void {
  const group = s.Hq / s.Hkv;
  const scores = new Float64Array(s.Tk);
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.Hq; h++) {
      const hk = Math.floor(h / group);
      for (let t = 0; t < s.Tq; t++) {
        const qo = qIndex(s, b, t, h);
        let max = -Infinity;
        for (let j = 0; j < s.Tk; j++) {
          if (!visible(s, b, t, j)) {
            scores[j] = -Infinity;
            continue;
          }
          const ko = kIndex(s, b, j, hk);
          let dot = 0;
          for (let d = 0; d < s.Dh; d++) dot += q[qo + d]! * k[ko + d]!;
          scores[j] = dot * s.scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        const li = (b * s.Hq + h) * s.Tq + t;
        if (max === -Infinity) {
          out.fill(0, qo, qo + s.Dh);
          lse[li] = -Infinity;
          continue;
        }
        let sum = 0;
        const acc = new Float64Array(s.Dh);
        for (let j = 0; j < s.Tk; j++) {
          if (scores[j] === -Infinity) continue;
          const p = Math.exp(scores[j]! - max);
          sum += p;
          const vo = kIndex(s, b, j, hk);
          for (let d = 0; d < s.Dh; d++) acc[d]! += p * v[vo + d]!;
        }
        for (let d = 0; d < s.Dh; d++) out[qo + d] = acc[d]! / sum;
        lse[li] = max + Math.log(sum);
      }
    }
  }
}

export function attentionBackward(
  s: AttentionShape,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dOut: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
): void {
  const group = s.Hq / s.Hkv;
  for (let b = 0; b < s.B; b++) {
    for (let h = 0; h < s.Hq; h++) {
      const hk = Math.floor(h / group);
      for (let t = 0; t < s.Tq; t++) {
        const qo = qIndex(s, b, t, h);
        const l = lse[(b * s.Hq + h) * s.Tq + t]!;
        const dqRow = new Float64Array(s.Dh);
        if (l !== -Infinity) {
          let D = 0;
          for (let d = 0; d < s.Dh; d++) D += dOut[qo + d]! * out[qo + d]!;
          for (let j = 0; j < s.Tk; j++) {
            if (!visible(s, b, t, j)) continue;
            const ko = kIndex(s, b, j, hk);
            let dot = 0;
            let dP = 0;
            for (let d = 0; d < s.Dh; d++) {
              dot += q[qo + d]! * k[ko + d]!;
              dP += dOut[qo + d]! * v[ko + d]!;
            }
            const p = Math.exp(dot * s.scale - l);
            const dS = p * (dP - D) * s.scale;
            for (let d = 0; d < s.Dh; d++) {
              dqRow[d]! += dS * k[ko + d]!;
              dk[ko + d]! += dS * q[qo + d]!;
              dv[ko + d]! += p * dOut[qo + d]!;
            }
          }
        }
        for (let d = 0; d < s.Dh; d++) dq[qo + d] = dqRow[d]!;
      }
    }
  }
}
