// Layers with parameters: Linear (PyTorch layout W [out, in]), LoRA-wrapped Linear with PEFT
// semantics, Embedding, RMSNorm (optionally Gemma's 1 + w), LayerNorm. Initialisation is seeded.
import { Tensor, linear, loraLinear, add, scale, rmsNorm, layerNorm, embedding } from '../tensor/index.ts';
import type { Rng } from '../util/index.ts';

export interface Module {
  parameters(): Tensor[];
}

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
  return out;
}

export class Linear implements Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
    options: { bias?: boolean; name?: string } = {},
  ) {
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = new Tensor([outFeatures, inFeatures], uniform(rng, outFeatures * inFeatures, bound), {
      requiresGrad: true,
      name: `${options.name ?? 'linear'}.weight`,
    });
    this.bias = options.bias
      ? new Tensor([outFeatures], uniform(rng, outFeatures, bound), { requiresGrad: true, name: `${options.name ?? 'linear'}.bias` })
      : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  parameters(): Tensor[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }
}

/** y = base(x) + (alpha / r) · B(A(dropout(x))); A [r, in] ~ U(±1/√in) (kaiming-uniform like PEFT),
 *  B [out, r] = 0, so a fresh adapter leaves the base output unchanged. The base stays frozen. */
export class LoraLinear implements Module {
  readonly loraA: Tensor;
  readonly loraB: Tensor;
  readonly scaling: number;

  constructor(
    readonly base: Linear,
    readonly r: number,
    readonly alpha: number,
    rng: Rng,
    readonly dropout = 0,
  ) {
    base.weight.requiresGrad = false;
    if (base.bias) base.bias.requiresGrad = false;
    this.loraA = new Tensor([r, base.inFeatures], uniform(rng, r * base.inFeatures, 1 / Math.sqrt(base.inFeatures)), {
      requiresGrad: true,
      name: 'lora_A',
    });
    this.loraB = Tensor.zeros([base.outFeatures, r], { requiresGrad: true, name: 'lora_B' });
    this.scaling = alpha / r;
  }

  forward(x: Tensor): Tensor {
    // A frozen base: one fused op that keeps only the output and x·Aᵀ for backward.
    if (!this.base.weight.requiresGrad) return loraLinear(x, x, this.base.weight, this.base.bias, this.loraA, this.loraB, this.scaling);
    const low = linear(linear(x, this.loraA), this.loraB);
    return add(this.base.forward(x), scale(low, this.scaling));
  }

  parameters(): Tensor[] {
    return [this.loraA, this.loraB];
  }
}

export class Embedding implements Module {
  readonly weight: Tensor;
  constructor(
    readonly vocab: number,
    readonly dim: number,
    rng: Rng,
  ) {
    const w = new Float32Array(vocab * dim);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.02;
    this.weight = new Tensor([vocab, dim], w, { requiresGrad: true, name: 'embedding' });
  }
  forward(ids: Int32Array): Tensor {
    return embedding(this.weight, ids);
  }
  parameters(): Tensor[] {
    return [this.weight];
  }
}

export class RMSNorm implements Module {
  readonly weight: Tensor;
  constructor(
    dim: number,
    readonly eps = 1e-6,
    readonly addOne = false,
  ) {
    this.weight = new Tensor([dim], new Float32Array(dim).fill(addOne ? 0 : 1), { requiresGrad: true, name: 'rmsnorm' });
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps, this.addOne);
  }
  parameters(): Tensor[] {
    return [this.weight];
  }
}

export class LayerNorm implements Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = new Tensor([dim], new Float32Array(dim).fill(1), { requiresGrad: true, name: 'layernorm.weight' });
    this.bias = Tensor.zeros([dim], { requiresGrad: true, name: 'layernorm.bias' });
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
  parameters(): Tensor[] {
    return [this.weight, this.bias];
  }
}
