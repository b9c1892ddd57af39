// A pre-LN transformer block (the reference block of DESIGN.md §6): x + attn(LN(x)), then
// x + mlp(LN(x)), multi-head causal self-attention with RoPE, GELU MLP. Shapes: x [B, T, D].
import { Tensor, add, gelu, reshape, attention, rope, ropeInvFreq } from '../tensor/index.ts';
import type { AttentionMask } from '../tensor/index.ts';
import type { Rng } from '../util/index.ts';
import { LayerNorm, Linear } from './layers.ts';
import type { Module } from './layers.ts';

export interface BlockConfig {
  dim: number;
  heads: number;
  ffn: number;
  /** RoPE base; 0 = no rotary embedding (the DESIGN.md §6 reference block). */
  ropeTheta: number;
}

export class TransformerBlock implements Module {
  readonly ln1: LayerNorm;
  readonly ln2: LayerNorm;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly up: Linear;
  readonly down: Linear;
  readonly invFreq: Float32Array;

  constructor(
    readonly cfg: BlockConfig,
    rng: Rng,
  ) {
    const { dim, ffn } = cfg;
    this.ln1 = new LayerNorm(dim);
    this.ln2 = new LayerNorm(dim);
    this.q = new Linear(dim, dim, rng, { name: 'q' });
    this.k = new Linear(dim, dim, rng, { name: 'k' });
    this.v = new Linear(dim, dim, rng, { name: 'v' });
    this.o = new Linear(dim, dim, rng, { name: 'o' });
    this.up = new Linear(dim, ffn, rng, { name: 'up', bias: true });
    this.down = new Linear(ffn, dim, rng, { name: 'down', bias: true });
    this.invFreq = ropeInvFreq(dim / cfg.heads, cfg.ropeTheta);
  }

  /** x [B, T, D]; positions [B·T]. */
  forward(x: Tensor, positions: Int32Array, mask: AttentionMask = { causal: true, window: 0 }): Tensor {
    const [B, T, D] = x.shape as [number, number, number];
    const H = this.cfg.heads;
    const Dh = D / H;
    const h = this.ln1.forward(x);
    const split = (t: Tensor) => reshape(t, [B, T, H, Dh]);
    const useRope = this.cfg.ropeTheta > 0;
    const q = useRope ? rope(split(this.q.forward(h)), positions, this.invFreq) : split(this.q.forward(h));
    const k = useRope ? rope(split(this.k.forward(h)), positions, this.invFreq) : split(this.k.forward(h));
    const v = split(this.v.forward(h));
    const a = reshape(attention(q, k, v, mask), [B, T, D]);
    const x1 = add(x, this.o.forward(a));
    const m = this.down.forward(gelu(this.up.forward(this.ln2.forward(x1))));
    return add(x1, m);
  }

  parameters(): Tensor[] {
    return [this.ln1, this.ln2, this.q, this.k, this.v, this.o, this.up, this.down].flatMap((m) => m.parameters());
  }
}
