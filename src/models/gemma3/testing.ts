// Test helpers: tiny Gemma 3 configs that exercise every architectural detail (GQA, sliding and
// global layers with different RoPE bases and linear scaling, a query_pre_attn_scalar that differs
// from head_dim, soft-capping, several images), random weights with every tensor (norms included)
// perturbed, and an independent float64 reference forward written from the Hugging Face modelling
// code with plain loops: the oracle for the engine-based model.
import { Tensor } from '../../tensor/index.ts';
import type { Weight } from '../../tensor/index.ts';
import { Rng } from '../../util/index.ts';
import { parseGemma3Config } from './config.ts';
import type { AnyGemma3Config, Gemma3Config } from './config.ts';
import { gemma3TensorSpec } from './weights.ts';

/** The decoder shared by the tiny configs: GQA, sliding + global layers, a window shorter than the
 *  test sequences. */
const TINY_TEXT = {
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  sliding_window: 3,
  layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'],
  max_position_embeddings: 512,
};

export function tinyGemma3Config(overrides: Record<string, unknown> = {}): Gemma3Config {
  const { text_config: textOverrides, ...rest } = overrides;
  return parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      ...TINY_TEXT,
      rope_theta: 1_000_000,
      rope_local_base_freq: 10_000,
      rope_scaling: { rope_type: 'linear', factor: 2 },
      query_pre_attn_scalar: 12,
      final_logit_softcapping: 5,
      ...((textOverrides as object | undefined) ?? {}),
    },
    vision_config: {
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      image_size: 8,
      patch_size: 2,
      layer_norm_eps: 1e-6,
    },
    mm_tokens_per_image: 4,
    boi_token_index: 61,
    eoi_token_index: 62,
    image_token_index: 63,
    ...rest,
  }) as Gemma3Config;
}

export function tinyTextConfig(overrides: Record<string, unknown> = {}): AnyGemma3Config {
  return parseGemma3Config({ model_type: 'gemma3_text', ...TINY_TEXT, query_pre_attn_scalar: 8, ...overrides });
}

/** Every tensor of the config, normal(0, std) — norm weights and biases too, so `1 + w` matters. */
export function randomParams(cfg: AnyGemma3Config, seed: number, std = 0.3): Map<string, Weight> {
  const rng = new Rng(seed);
  const out = new Map<string, Weight>();
  for (const [name, shape] of gemma3TensorSpec(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(
      name,
      new Tensor(
        shape,
        Float32Array.from({ length: n }, () => rng.normal() * std),
        { name },
      ),
    );
  }
  return out;
}

type P = (name: string) => Float32Array;

function rms(x: number[], w: Float32Array, eps: number): number[] {
  let s = 0;
  for (const v of x) s += v * v;
  const r = 1 / Math.sqrt(s / x.length + eps);
  return x.map((v, i) => v * r * (1 + w[i]!));
}

function layerNorm(x: number[], w: Float32Array, b: Float32Array, eps: number): number[] {
  const mean = x.reduce((a, c) => a + c, 0) / x.length;
  const variance = x.reduce((a, c) => a + (c - mean) ** 2, 0) / x.length;
  const r = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * r * w[i]! + b[i]!);
}

/** y = W x (+ b), W [out, in]. */
function lin(W: Float32Array, x: number[], out: number, b?: Float32Array): number[] {
  const inF = x.length;
  return Array.from({ length: out }, (_, o) => {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < inF; i++) s += W[o * inF + i]! * x[i]!;
    return s;
  });
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

function ropeRotate(x: number[], pos: number, theta: number, factor: number): number[] {
  const half = x.length / 2;
  const y = x.slice();
  for (let i = 0; i < half; i++) {
    const inv = 1 / theta ** ((2 * i) / x.length) / factor;
    const c = Math.cos(pos * inv);
    const s = Math.sin(pos * inv);
    y[i] = x[i]! * c - x[i + half]! * s;
    y[i + half] = x[i + half]! * c + x[i]! * s;
  }
  return y;
}

/** softmax(q·k · scale) v over the visible keys. */
function attend(qs: number[][], ks: number[][], vs: number[][], visible: (i: number, j: number) => boolean, scaleF: number): number[][] {
  return qs.map((q, i) => {
    const scores = ks.map((k, j) => (visible(i, j) ? q.reduce((a, c, d) => a + c * k[d]!, 0) * scaleF : -Infinity));
    const m = Math.max(...scores);
    const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - m)));
    const z = e.reduce((a, c) => a + c, 0);
    return q.map((_, d) => vs.reduce((a, v, j) => a + (e[j]! / z) * v[d]!, 0));
  });
}

function visionReference(cfg: Gemma3Config, p: P, pixels: Float32Array, img: number): number[][] {
  const { imageSize: S, patchSize: Ps, numChannels: Ch, hiddenSize: C, numHeads, layerNormEps: eps } = cfg.vision;
  const side = S / Ps;
  const vm = 'vision_tower.vision_model.';
  const W = p(`${vm}embeddings.patch_embedding.weight`);
  const bias = p(`${vm}embeddings.patch_embedding.bias`);
  const pos = p(`${vm}embeddings.position_embedding.weight`);
  let x: number[][] = [];
  for (let gy = 0; gy < side; gy++) {
    for (let gx = 0; gx < side; gx++) {
      x.push(
        Array.from({ length: C }, (_, o) => {
          let s = bias[o]! + pos[(gy * side + gx) * C + o]!;
          for (let c = 0; c < Ch; c++) {
            for (let py = 0; py < Ps; py++) {
              for (let px = 0; px < Ps; px++) {
                s += W[((o * Ch + c) * Ps + py) * Ps + px]! * pixels[img * Ch * S * S + c * S * S + (gy * Ps + py) * S + gx * Ps + px]!;
              }
            }
          }
          return s;
        }),
      );
    }
  }
  const Dh = C / numHeads;
  for (let l = 0; l < cfg.vision.numLayers; l++) {
    const n = `${vm}encoder.layers.${l}.`;
    const h = x.map((r) => layerNorm(r, p(`${n}layer_norm1.weight`), p(`${n}layer_norm1.bias`), eps));
    const q = h.map((r) => lin(p(`${n}self_attn.q_proj.weight`), r, C, p(`${n}self_attn.q_proj.bias`)));
    const k = h.map((r) => lin(p(`${n}self_attn.k_proj.weight`), r, C, p(`${n}self_attn.k_proj.bias`)));
    const v = h.map((r) => lin(p(`${n}self_attn.v_proj.weight`), r, C, p(`${n}self_attn.v_proj.bias`)));
    const heads = Array.from({ length: numHeads }, (_, hh) =>
      attend(
        q.map((r) => r.slice(hh * Dh, (hh + 1) * Dh)),
        k.map((r) => r.slice(hh * Dh, (hh + 1) * Dh)),
        v.map((r) => r.slice(hh * Dh, (hh + 1) * Dh)),
        () => true,
        Dh ** -0.5,
      ),
    );
    const a = x.map((_, i) => heads.flatMap((hd) => hd[i]!));
    x = x.map((r, i) => {
      const o = lin(p(`${n}self_attn.out_proj.weight`), a[i]!, C, p(`${n}self_attn.out_proj.bias`));
      return r.map((v2, d) => v2 + o[d]!);
    });
    x = x.map((r) => {
      const f = lin(
        p(`${n}mlp.fc1.weight`),
        layerNorm(r, p(`${n}layer_norm2.weight`), p(`${n}layer_norm2.bias`), eps),
        cfg.vision.intermediateSize,
        p(`${n}mlp.fc1.bias`),
      ).map(geluTanh);
      const o = lin(p(`${n}mlp.fc2.weight`), f, C, p(`${n}mlp.fc2.bias`));
      return r.map((v2, d) => v2 + o[d]!);
    });
  }
  x = x.map((r) => layerNorm(r, p(`${vm}post_layernorm.weight`), p(`${vm}post_layernorm.bias`), eps));
  const out = Math.sqrt(cfg.mmTokensPerImage);
  const k = side / out;
  const pooled: number[][] = [];
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      const acc = new Array<number>(C).fill(0);
      for (let dy = 0; dy < k; dy++)
        for (let dx = 0; dx < k; dx++) x[(oy * k + dy) * side + ox * k + dx]!.forEach((v, d) => (acc[d]! += v / (k * k)));
      pooled.push(acc);
    }
  }
  const proj = p('multi_modal_projector.mm_input_projection_weight');
  const D = cfg.text.hiddenSize;
  return pooled.map((r) => {
    const nr = rms(r, p('multi_modal_projector.mm_soft_emb_norm.weight'), eps);
    return Array.from({ length: D }, (_, o) => nr.reduce((a, v, c) => a + v * proj[c * D + o]!, 0));
  });
}

/** Logits [T][V] of one sequence (float64 throughout). */
export function referenceLogits(
  cfg: AnyGemma3Config,
  params: Map<string, Weight>,
  ids: number[],
  pixels: Float32Array | null = null,
): number[][] {
  const p: P = (name) => {
    const w = params.get(name);
    if (!(w instanceof Tensor)) throw new Error(`reference needs fp32 ${name}`);
    return w.data;
  };
  const t = cfg.text;
  const lm = cfg.modelType === 'gemma3' ? 'language_model.' : '';
  const pre = `${lm}model.`;
  const D = t.hiddenSize;
  const E = p(`${pre}embed_tokens.weight`);
  const scaleE = Math.fround(Math.sqrt(D));
  let x = ids.map((id) => Array.from({ length: D }, (_, d) => E[id * D + d]! * scaleE));
  const blocks = new Array<number>(ids.length).fill(0);
  if (cfg.modelType === 'gemma3') {
    const mm = cfg.mmTokensPerImage;
    let img = 0;
    let i = 0;
    while (i < ids.length) {
      if (ids[i] !== cfg.imageTokenIndex) {
        i++;
        continue;
      }
      const feats = visionReference(cfg, p, pixels!, img);
      img++;
      for (let j = 0; j < mm; j++) {
        x[i + j] = feats[j]!;
        blocks[i + j] = img;
      }
      i += mm;
    }
  }
  const Hq = t.numHeads;
  const Hkv = t.numKvHeads;
  const Dh = t.headDim;
  const eps = t.rmsNormEps;
  for (let l = 0; l < t.numLayers; l++) {
    const n = `${pre}layers.${l}.`;
    const sliding = t.layerTypes[l] === 'sliding_attention';
    const theta = sliding ? t.ropeLocalBaseFreq : t.ropeTheta;
    const factor = sliding ? 1 : t.ropeScalingFactor;
    const h = x.map((r) => rms(r, p(`${n}input_layernorm.weight`), eps));
    const headsOf = (rows: number[][], H: number, norm: string, rot: boolean) =>
      rows.map((r, pos) =>
        Array.from({ length: H }, (_, hh) => {
          const v = rms(r.slice(hh * Dh, (hh + 1) * Dh), p(`${n}self_attn.${norm}.weight`), eps);
          return rot ? ropeRotate(v, pos, theta, factor) : v;
        }),
      );
    const q = headsOf(
      h.map((r) => lin(p(`${n}self_attn.q_proj.weight`), r, Hq * Dh)),
      Hq,
      'q_norm',
      true,
    );
    const k = headsOf(
      h.map((r) => lin(p(`${n}self_attn.k_proj.weight`), r, Hkv * Dh)),
      Hkv,
      'k_norm',
      true,
    );
    const v = h
      .map((r) => lin(p(`${n}self_attn.v_proj.weight`), r, Hkv * Dh))
      .map((r) => Array.from({ length: Hkv }, (_, hh) => r.slice(hh * Dh, (hh + 1) * Dh)));
    const visible = (i: number, j: number) =>
      (j <= i || (blocks[i]! > 0 && blocks[i] === blocks[j])) && (!sliding || i - j < t.slidingWindow);
    const heads = Array.from({ length: Hq }, (_, hh) => {
      const kv = Math.floor(hh / (Hq / Hkv));
      return attend(
        q.map((r) => r[hh]!),
        k.map((r) => r[kv]!),
        v.map((r) => r[kv]!),
        visible,
        t.queryPreAttnScalar ** -0.5,
      );
    });
    const a = x.map((_, i) => heads.flatMap((hd) => hd[i]!));
    x = x.map((r, i) => {
      const o = rms(lin(p(`${n}self_attn.o_proj.weight`), a[i]!, D), p(`${n}post_attention_layernorm.weight`), eps);
      return r.map((v2, d) => v2 + o[d]!);
    });
    x = x.map((r) => {
      const hf = rms(r, p(`${n}pre_feedforward_layernorm.weight`), eps);
      const g = lin(p(`${n}mlp.gate_proj.weight`), hf, t.intermediateSize);
      const u = lin(p(`${n}mlp.up_proj.weight`), hf, t.intermediateSize);
      const m = lin(
        p(`${n}mlp.down_proj.weight`),
        g.map((gv, j) => geluTanh(gv) * u[j]!),
        D,
      );
      const o = rms(m, p(`${n}post_feedforward_layernorm.weight`), eps);
      return r.map((v2, d) => v2 + o[d]!);
    });
  }
  const head = t.tieWordEmbeddings ? E : p(`${lm}lm_head.weight`);
  return x.map((r) => {
    const logits = lin(head, rms(r, p(`${pre}norm.weight`), eps), t.vocabSize);
    return t.finalLogitSoftcapping === null
      ? logits
      : logits.map((z) => Math.tanh(z / t.finalLogitSoftcapping!) * t.finalLogitSoftcapping!);
  });
}
