// AdamW over parameter tensors (β 0.9/0.999, ε 1e-8 by default) and global gradient-norm clipping,
// both through the backend's kernels.
import { getBackend } from './backends/index.ts';
import type { Tensor } from './tensor.ts';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export class AdamW {
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  step = 0;
  readonly config: AdamWConfig;

  /** Per-parameter multipliers of the learning rate (1 for every parameter by default). */
  readonly lrScale: number[];

  constructor(
    readonly params: Tensor[],
    config: Partial<AdamWConfig> = {},
    lrScale?: readonly number[],
  ) {
    this.config = { ...ADAMW_DEFAULTS, ...config };
    if (lrScale && (lrScale.length !== params.length || lrScale.some((f) => !(f > 0 && Number.isFinite(f))))) {
      throw new RangeError(`lrScale needs one positive factor per parameter (${params.length}), got ${lrScale.length}`);
    }
    this.lrScale = lrScale ? [...lrScale] : params.map(() => 1);
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
  }

  /** One update with learning rate `lr` (defaults to the configured one); skips params without grad. */
  update(lr = this.config.lr): void {
    this.step++;
    const K = getBackend();
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      K.adamw(p.data, p.grad, this.m[i]!, this.v[i]!, p.size, { ...this.config, lr: lr * this.lrScale[i]!, step: this.step });
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const K = getBackend();
  let ss = 0;
  for (const p of params) if (p.grad) ss += K.sumSquares(p.grad, p.size);
  const norm = Math.sqrt(ss);
  if (norm > maxNorm && norm > 0) for (const p of params) if (p.grad) K.scale(p.grad, maxNorm / norm, p.size);
  return norm;
}
