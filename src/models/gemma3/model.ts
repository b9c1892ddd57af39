// Gemma 3 on the tensor engine: the SigLIP vision tower, the pooled multimodal projector and the
// Gemma 3 text decoder, as Gemma3ForConditionalGeneration defines them (and the text-only
// gemma3_text). One code path serves training (through the autograd tape) and cached inference.
//
// Decoder details that loading real weights depends on:
//   - embeddings scaled by sqrt(hidden_size); image features replace the image tokens' rows unscaled;
//   - every RMSNorm multiplies by (1 + w) and normalises in fp32;
//   - per layer: x + post_attention_norm(attn(input_norm(x))), then
//     x + post_feedforward_norm(mlp(pre_feedforward_norm(x))); MLP = down(gelu_tanh(gate) · up);
//   - q_norm and k_norm (RMSNorm over head_dim) before RoPE; scores scaled by query_pre_attn_scalar^-½;
//   - sliding-window layers use rope_local_base_freq, global layers rope_theta (with linear scaling);
//   - image tokens of one image attend to each other bidirectionally (a block of the mask);
//   - tied embeddings: the LM head is embed_tokens; optional final logit soft-capping.
// Vision: patches (conv stride = patch) + position embeddings, pre-LN encoder layers with
// bidirectional attention and tanh-GELU MLP, post LayerNorm; projector: average-pool the patch grid to
// sqrt(mm_tokens_per_image)² tokens, RMSNorm (1 + w), times mm_input_projection_weight [C, D].
import { ConfigError, ShapeError } from '../../errors/index.ts';
import {
  Tensor,
  Bf16Tensor,
  add,
  scale,
  reshape,
  linear,
  rmsNorm,
  layerNorm,
  gelu,
  gated,
  attention,
  rope,
  ropeInvFreq,
  embedding,
  embeddingBf16,
  addRows,
  matmul,
  poolPatches,
  scatterRows,
  gatherRows,
  softcap,
  dropout,
  getBackend,
  arena,
  noGrad,
  loraLinear,
} from '../../tensor/index.ts';
import type { Weight, AttentionMask } from '../../tensor/index.ts';
import { Rng } from '../../util/index.ts';
import type { AnyGemma3Config, Gemma3Config, Gemma3TextConfig } from './config.ts';
import { gemma3TensorSpec } from './weights.ts';
import { widen } from '../tensors.ts';

/** A LoRA pair on one projection (PEFT semantics: y += scaling · B(A(dropout(x)))). */
export interface LoraPair {
  A: Tensor;
  B: Tensor;
  scaling: number;
  dropout: number;
}

/** A linear projection of the model with its module name (PEFT target matching uses it) and any
 *  LoRA adapters; at most one adapter is active. */
export class Proj {
  readonly adapters = new Map<string, LoraPair>();
  active: LoraPair | null = null;

  constructor(
    readonly name: string,
    public weight: Weight,
    public bias: Tensor | null = null,
  ) {}

  get inFeatures(): number {
    return this.weight.shape[1]!;
  }

  get outFeatures(): number {
    return this.weight.shape[0]!;
  }

  forward(x: Tensor, rng: Rng | null): Tensor {
    const a = this.active;
    if (!a) return linear(x, this.weight, this.bias);
    const h = rng && a.dropout > 0 ? dropout(x, a.dropout, rng) : x;
    // A frozen base weight (the LoRA case): one fused op keeps only the output and h·Aᵀ [N, r].
    if (this.weight instanceof Bf16Tensor || !this.weight.requiresGrad)
      return loraLinear(x, h, this.weight, this.bias, a.A, a.B, a.scaling);
    // scaling · (h·Aᵀ)·Bᵀ with the scale on B ([out, r]), not on the [N, out] product: the same
    // value up to rounding at a fraction of the memory traffic.
    return add(linear(x, this.weight, this.bias), linear(linear(h, a.A), scale(a.B, a.scaling)));
  }
}

/** The model's input. Token ids are [batch, length] flattened; images are pixel values in [-1, 1]
 *  ([nImages, channels, size, size]), one per run of mm_tokens_per_image image tokens, in order. */
export interface ModelInput {
  ids: Int32Array;
  batch: number;
  length: number;
  /** [batch·length] RoPE positions; default 0..length-1 per row. */
  positions?: Int32Array;
  pixels?: Float32Array | null;
  /** [batch] valid tokens per row (right padding). */
  kvLen?: Int32Array | null;
  /** [batch] first valid token per row (left padding). */
  kvStart?: Int32Array | null;
  /** Flat rows [0, batch·length) whose logits are wanted; default all (training computes the loss
   *  only where there are labels). */
  rows?: Int32Array | null;
}

/** Options of one forward pass. */
export interface ForwardOptions {
  /** Called by every decoder layer's attention with its queries [B, T, Hq, Dh] and keys [B, T, Hkv, Dh]
   *  after the q/k norms and RoPE (not with a KV cache): for losses on attention and for looking at
   *  where the model attends. The scores are q·k · query_pre_attn_scalar^-0.5 under the layer's mask. */
  onAttention?: (layer: number, q: Tensor, k: Tensor, sliding: boolean) => void;
}

/** A key/value cache for incremental decoding: per layer [batch, capacity, Hkv, Dh]. Keys are stored
 *  after k_norm and RoPE. */
export class KvCache {
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** Tokens stored per row (all rows advance together; padding is masked with kvStart). */
  length = 0;

  constructor(
    readonly cfg: Gemma3TextConfig,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const n = batch * capacity * cfg.numKvHeads * cfg.headDim;
    this.k = Array.from({ length: cfg.numLayers }, () => new Float32Array(n));
    this.v = Array.from({ length: cfg.numLayers }, () => new Float32Array(n));
  }
}

interface DecoderLayer {
  inputNorm: Tensor;
  postAttnNorm: Tensor;
  preFfnNorm: Tensor;
  postFfnNorm: Tensor;
  qNorm: Tensor;
  kNorm: Tensor;
  q: Proj;
  k: Proj;
  v: Proj;
  o: Proj;
  gate: Proj;
  up: Proj;
  down: Proj;
  sliding: boolean;
  invFreq: Float32Array;
}

interface VisionLayer {
  ln1w: Tensor;
  ln1b: Tensor;
  ln2w: Tensor;
  ln2b: Tensor;
  q: Proj;
  k: Proj;
  v: Proj;
  o: Proj;
  fc1: Proj;
  fc2: Proj;
}

export interface InitOptions {
  seed?: number;
  /** Standard deviation of linear and embedding weights (HF initializer_range). */
  std?: number;
  /** Keep matrices in bf16 (frozen; for inference). */
  dtype?: 'f32' | 'bf16';
}

/** PEFT trainable tokens (`trainable_token_indices`): new values for a few rows of the (tied)
 *  embedding, stored as a delta [ids, D] on top of the frozen table; they also change the matching
 *  output rows when the embedding is tied to the LM head. */
export interface TokenAdapter {
  ids: Int32Array;
  delta: Tensor;
}

export class Gemma3Model {
  readonly text: Gemma3TextConfig;
  embed: Weight;
  readonly finalNorm: Tensor;
  lmHead: Weight;
  readonly layers: DecoderLayer[];
  readonly vision: {
    patchW: Weight;
    patchB: Tensor;
    pos: Tensor;
    layers: VisionLayer[];
    postW: Tensor;
    postB: Tensor;
    mmNorm: Tensor;
    mmProj: Tensor;
  } | null;
  /** Dropout randomness for LoRA (training only; null = no dropout). */
  rng: Rng | null = null;
  /** Trainable-token deltas by adapter name, and the active one (set with setActiveAdapter). */
  readonly tokenAdapters = new Map<string, TokenAdapter>();
  activeTokenAdapter: TokenAdapter | null = null;
  #embedF32: Tensor | null = null;
  /** The effective table of a frozen (loaded) token adapter, built once instead of every forward. */
  #frozenTable: { ta: TokenAdapter; table: Tensor } | null = null;

  /** params: every tensor of gemma3TensorSpec(cfg) by canonical name. Norm weights, biases and the
   *  projector are kept in fp32; matrices may be bf16. */
  constructor(
    readonly cfg: AnyGemma3Config,
    readonly params: Map<string, Weight>,
  ) {
    const t = cfg.text;
    this.text = t;
    if (t.attnLogitSoftcapping !== null) {
      throw new ConfigError('E_MODEL_CONFIG', 'attn_logit_softcapping is not supported by the fused attention kernel', {
        field: 'attn_logit_softcapping',
        fix: 'Gemma 3 configs set it to null',
      });
    }
    for (const [name, shape] of gemma3TensorSpec(cfg)) {
      const w = params.get(name);
      if (!w) throw new ShapeError(`tensor ${name} is missing`, { field: name });
      if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))
        throw new ShapeError(`tensor ${name}: [${w.shape.join(', ')}], expected [${shape.join(', ')}]`, { field: name });
    }
    const f32 = (name: string) => {
      const w = widen(params.get(name)!);
      params.set(name, w);
      return w;
    };
    const proj = (name: string, bias = false) => new Proj(name, params.get(`${name}.weight`)!, bias ? f32(`${name}.bias`) : null);
    const lm = cfg.modelType === 'gemma3' ? 'language_model.' : '';
    const p = `${lm}model.`;
    this.embed = params.get(`${p}embed_tokens.weight`)!;
    this.finalNorm = f32(`${p}norm.weight`);
    this.lmHead = t.tieWordEmbeddings ? this.embed : params.get(`${lm}lm_head.weight`)!;
    const local = ropeInvFreq(t.headDim, t.ropeLocalBaseFreq);
    const global = ropeInvFreq(t.headDim, t.ropeTheta, t.ropeScalingFactor);
    this.layers = t.layerTypes.map((type, i) => {
      const l = `${p}layers.${i}.`;
      return {
        inputNorm: f32(`${l}input_layernorm.weight`),
        postAttnNorm: f32(`${l}post_attention_layernorm.weight`),
        preFfnNorm: f32(`${l}pre_feedforward_layernorm.weight`),
        postFfnNorm: f32(`${l}post_feedforward_layernorm.weight`),
        qNorm: f32(`${l}self_attn.q_norm.weight`),
        kNorm: f32(`${l}self_attn.k_norm.weight`),
        q: proj(`${l}self_attn.q_proj`),
        k: proj(`${l}self_attn.k_proj`),
        v: proj(`${l}self_attn.v_proj`),
        o: proj(`${l}self_attn.o_proj`),
        gate: proj(`${l}mlp.gate_proj`),
        up: proj(`${l}mlp.up_proj`),
        down: proj(`${l}mlp.down_proj`),
        sliding: type === 'sliding_attention',
        invFreq: type === 'sliding_attention' ? local : global,
      };
    });
    if (cfg.modelType === 'gemma3') {
      const vm = 'vision_tower.vision_model.';
      this.vision = {
        patchW: params.get(`${vm}embeddings.patch_embedding.weight`)!,
        patchB: f32(`${vm}embeddings.patch_embedding.bias`),
        pos: f32(`${vm}embeddings.position_embedding.weight`),
        layers: Array.from({ length: cfg.vision.numLayers }, (_, i) => {
          const l = `${vm}encoder.layers.${i}.`;
          return {
            ln1w: f32(`${l}layer_norm1.weight`),
            ln1b: f32(`${l}layer_norm1.bias`),
            ln2w: f32(`${l}layer_norm2.weight`),
            ln2b: f32(`${l}layer_norm2.bias`),
            q: proj(`${l}self_attn.q_proj`, true),
            k: proj(`${l}self_attn.k_proj`, true),
            v: proj(`${l}self_attn.v_proj`, true),
            o: proj(`${l}self_attn.out_proj`, true),
            fc1: proj(`${l}mlp.fc1`, true),
            fc2: proj(`${l}mlp.fc2`, true),
          };
        }),
        postW: f32(`${vm}post_layernorm.weight`),
        postB: f32(`${vm}post_layernorm.bias`),
        mmNorm: f32('multi_modal_projector.mm_soft_emb_norm.weight'),
        mmProj: f32('multi_modal_projector.mm_input_projection_weight'),
      };
    } else this.vision = null;
  }

  /** A model with freshly initialised weights (HF's scheme: normal(0, std) matrices, zero biases,
   *  Gemma norms 0 (i.e. × 1), LayerNorms 1/0). */
  static random(cfg: AnyGemma3Config, options: InitOptions = {}): Gemma3Model {
    const rng = new Rng(options.seed ?? 0);
    const std = options.std ?? 0.02;
    const params = new Map<string, Weight>();
    for (const [name, shape] of gemma3TensorSpec(cfg)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const isNorm = /norm\d?\.weight$|layernorm\.weight$|mm_soft_emb_norm\.weight$/.test(name);
      const layerNormWeight = /vision_model\..*(layer_norm\d|post_layernorm)\.weight$/.test(name);
      if (layerNormWeight) data.fill(1);
      else if (isNorm || name.endsWith('.bias')) data.fill(0);
      else for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
      const matrix = shape.length >= 2 && !name.includes('position_embedding') && !name.includes('mm_input_projection');
      if (options.dtype === 'bf16' && matrix) {
        const bits = new Uint16Array(n);
        getBackend().f32ToBf16(data, bits, n);
        params.set(name, new Bf16Tensor(shape, bits, name));
      } else params.set(name, new Tensor(shape, data, { name }));
    }
    return new Gemma3Model(cfg, params);
  }

  /** Module name of the token embedding (PEFT keys of trainable tokens hang off it). */
  get embedModuleName(): string {
    return this.cfg.modelType === 'gemma3' ? 'language_model.model.embed_tokens' : 'model.embed_tokens';
  }

  /** The embedding table with the active token adapter's rows replaced by base + delta, or null
   *  without a token adapter. A trainable delta goes through the tape every forward (so it gets
   *  gradients); a frozen one (a loaded adapter) is folded into a table once and reused, since
   *  decoding would otherwise copy the whole table for every token. */
  private effectiveEmbedding(): Tensor | null {
    const ta = this.activeTokenAdapter;
    if (!ta) return null;
    if (!ta.delta.requiresGrad && this.#frozenTable?.ta === ta) return this.#frozenTable.table;
    if (this.embed instanceof Tensor) this.#embedF32 = this.embed;
    else if (!this.#embedF32) this.#embedF32 = widen(this.embed);
    const base = this.#embedF32;
    const build = () => scatterRows(base, add(gatherRows(base, ta.ids), ta.delta), ta.ids);
    if (ta.delta.requiresGrad) return build();
    // Copied out of the arena: its buffers go back to the pool after each step.
    const table = noGrad(() => {
      const t = build();
      return new Tensor(t.shape, t.data.slice(0, t.size));
    });
    this.#frozenTable = { ta, table };
    return table;
  }

  /** Replaces the token embedding (and the tied LM head), e.g. after merging trainable tokens. */
  setEmbedding(e: Tensor): void {
    this.params.set(`${this.embedModuleName}.weight`, e);
    this.embed = e;
    if (this.text.tieWordEmbeddings) this.lmHead = e;
    this.#embedF32 = null;
    this.#frozenTable = null;
  }

  /** Every linear projection by module name (canonical HF names without `.weight`). */
  projections(): Map<string, Proj> {
    const out = new Map<string, Proj>();
    for (const l of this.layers) for (const p of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) out.set(p.name, p);
    for (const l of this.vision?.layers ?? []) for (const p of [l.q, l.k, l.v, l.o, l.fc1, l.fc2]) out.set(p.name, p);
    return out;
  }

  /** Sets requiresGrad on every fp32 parameter (full fine-tuning / pretraining) or on none. */
  setTrainable(on: boolean): Tensor[] {
    const out: Tensor[] = [];
    for (const w of this.params.values()) {
      if (!(w instanceof Tensor)) continue;
      w.requiresGrad = on;
      if (on) out.push(w);
    }
    return out;
  }

  /** Image features [nImages · mm_tokens_per_image, D] from pixels [nImages, C, S, S]. */
  encodeImages(pixels: Float32Array): Tensor {
    const cfg = this.cfg as Gemma3Config;
    const vis = this.vision;
    if (!vis) throw new ShapeError('images were given to a text-only model', { field: 'pixels' });
    const { imageSize: S, patchSize: P, numChannels: Ch, hiddenSize: C, numHeads } = cfg.vision;
    const per = Ch * S * S;
    if (pixels.length === 0 || pixels.length % per !== 0)
      throw new ShapeError(`pixels hold ${pixels.length} values, not a multiple of ${Ch}×${S}×${S}`, { field: 'pixels' });
    const n = pixels.length / per;
    const side = S / P;
    const N = side * side;
    const patchDim = Ch * P * P;
    const patches = new Tensor([n, N, patchDim], new Float32Array(n * N * patchDim));
    for (let img = 0; img < n; img++) {
      for (let gy = 0; gy < side; gy++) {
        for (let gx = 0; gx < side; gx++) {
          let at = ((img * side + gy) * side + gx) * patchDim;
          for (let c = 0; c < Ch; c++) {
            for (let py = 0; py < P; py++) {
              const row = img * per + c * S * S + (gy * P + py) * S + gx * P;
              for (let px = 0; px < P; px++) patches.data[at++] = pixels[row + px]!;
            }
          }
        }
      }
    }
    const w2 = vis.patchW instanceof Tensor ? reshape(vis.patchW, [C, patchDim]) : new Bf16Tensor([C, patchDim], vis.patchW.bits);
    let x = addRows(linear(patches, w2, vis.patchB), vis.pos);
    const eps = cfg.vision.layerNormEps;
    const Dh = C / numHeads;
    const mask: AttentionMask = { causal: false, window: 0 };
    for (const l of vis.layers) {
      const h = layerNorm(x, l.ln1w, l.ln1b, eps);
      const split = (t: Tensor) => reshape(t, [n, N, numHeads, Dh]);
      const a = attention(split(l.q.forward(h, this.rng)), split(l.k.forward(h, this.rng)), split(l.v.forward(h, this.rng)), mask);
      x = add(x, l.o.forward(reshape(a, [n, N, C]), this.rng));
      const m = l.fc2.forward(gelu(l.fc1.forward(layerNorm(x, l.ln2w, l.ln2b, eps), this.rng)), this.rng);
      x = add(x, m);
    }
    x = layerNorm(x, vis.postW, vis.postB, eps);
    const out = Math.round(Math.sqrt(cfg.mmTokensPerImage));
    const pooled = poolPatches(x, side, out);
    const normed = rmsNorm(pooled, vis.mmNorm, eps, true);
    return reshape(matmul(normed, vis.mmProj), [n * cfg.mmTokensPerImage, this.text.hiddenSize]);
  }

  /** Where the image tokens are, and their bidirectional blocks ([batch, length]; 0 = text). */
  imageLayout(input: ModelInput): { index: Int32Array; blocks: Int32Array | null } {
    if (this.cfg.modelType !== 'gemma3') return { index: new Int32Array(0), blocks: null };
    const imageToken = this.cfg.imageTokenIndex;
    const mm = this.cfg.mmTokensPerImage;
    const index: number[] = [];
    const blocks = new Int32Array(input.ids.length);
    let block = 0;
    for (let b = 0; b < input.batch; b++) {
      let run = 0;
      for (let t = 0; t <= input.length; t++) {
        const at = b * input.length + t;
        const isImage = t < input.length && input.ids[at] === imageToken;
        if (isImage) {
          if (run % mm === 0) block++;
          run++;
          index.push(at);
          blocks[at] = block;
        } else if (run > 0) {
          if (run % mm !== 0)
            throw new ShapeError(`row ${b}: a run of ${run} image tokens ends at position ${t}; each image takes exactly ${mm}`, {
              field: 'ids',
              fix: 'expand each image placeholder to mm_tokens_per_image image tokens',
            });
          run = 0;
        }
      }
    }
    return { index: Int32Array.from(index), blocks: index.length > 0 ? blocks : null };
  }

  /** Token embeddings × sqrt(D), with image features spliced in at the image tokens. */
  embedInput(input: ModelInput, table: Tensor | null = null): { x: Tensor; blocks: Int32Array | null } {
    const t = this.text;
    const ids = input.ids;
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i]! >= 0 && ids[i]! < t.vocabSize))
        throw new ShapeError(`token id ${ids[i]} at position ${i} is outside the vocabulary of ${t.vocabSize}`, { field: 'ids' });
    }
    const raw = table ? embedding(table, ids) : this.embed instanceof Tensor ? embedding(this.embed, ids) : embeddingBf16(this.embed, ids);
    let x = scale(raw, Math.fround(Math.sqrt(t.hiddenSize)));
    const { index, blocks } = this.imageLayout(input);
    const nImages = index.length / ((this.cfg as Gemma3Config).mmTokensPerImage ?? 1);
    if (index.length > 0 || input.pixels) {
      const per = this.cfg.modelType === 'gemma3' ? this.cfg.vision.numChannels * this.cfg.vision.imageSize ** 2 : 0;
      const given = input.pixels ? input.pixels.length / per : 0;
      if (given !== nImages)
        throw new ShapeError(`${nImages} image(s) worth of image tokens but pixels for ${given}`, {
          field: 'pixels',
          fix: 'pass one image per image placeholder in the prompt',
        });
      x = scatterRows(x, this.encodeImages(input.pixels!), index);
    }
    return { x: reshape(x, [input.batch, input.length, t.hiddenSize]), blocks };
  }

  /** Logits [rows, V] (all batch·length rows unless input.rows is given). Records on the tape when
   *  parameters require gradients. With a cache, the tokens are appended to it (inference only). */
  forward(input: ModelInput, cache: KvCache | null = null, options: ForwardOptions = {}): Tensor {
    const t = this.text;
    const { batch: B, length: T } = input;
    if (input.ids.length !== B * T)
      throw new ShapeError(`ids hold ${input.ids.length} tokens for batch ${B} × length ${T}`, { field: 'ids' });
    const offset = cache ? cache.length : 0;
    if (cache && (cache.batch !== B || offset + T > cache.capacity))
      throw new ShapeError(
        `the KV cache (batch ${cache.batch}, ${cache.length}/${cache.capacity} used) cannot take batch ${B} × ${T} more tokens`,
        { field: 'cache' },
      );
    const positions = input.positions ?? Int32Array.from({ length: B * T }, (_, i) => offset + (i % T));
    const table = this.effectiveEmbedding();
    let { x, blocks } = this.embedInput(input, table);
    const Hq = t.numHeads;
    const Hkv = t.numKvHeads;
    const Dh = t.headDim;
    const eps = t.rmsNormEps;
    const attnScale = t.queryPreAttnScalar ** -0.5;
    for (const [li, l] of this.layers.entries()) {
      const h = rmsNorm(x, l.inputNorm, eps, true);
      const q = rope(rmsNorm(reshape(l.q.forward(h, this.rng), [B, T, Hq, Dh]), l.qNorm, eps, true), positions, l.invFreq);
      const k = rope(rmsNorm(reshape(l.k.forward(h, this.rng), [B, T, Hkv, Dh]), l.kNorm, eps, true), positions, l.invFreq);
      const v = reshape(l.v.forward(h, this.rng), [B, T, Hkv, Dh]);
      if (options.onAttention && !cache) options.onAttention(li, q, k, l.sliding);
      const mask: AttentionMask = {
        causal: true,
        window: l.sliding ? t.slidingWindow : 0,
        blocks,
        kvStart: input.kvStart ?? null,
        kvLen: input.kvLen ?? null,
      };
      let a: Tensor;
      if (cache) a = this.cachedAttention(cache, li, q, k, v, mask, attnScale, blocks);
      else a = attention(q, k, v, mask, attnScale);
      const o = l.o.forward(reshape(a, [B, T, Hq * Dh]), this.rng);
      x = add(x, rmsNorm(o, l.postAttnNorm, eps, true));
      const hf = rmsNorm(x, l.preFfnNorm, eps, true);
      const m = l.down.forward(gated('geglu', l.gate.forward(hf, this.rng), l.up.forward(hf, this.rng)), this.rng);
      x = add(x, rmsNorm(m, l.postFfnNorm, eps, true));
    }
    if (cache) cache.length += T;
    let hN = reshape(x, [B * T, t.hiddenSize]);
    if (input.rows) hN = gatherRows(hN, input.rows);
    let logits = linear(rmsNorm(hN, this.finalNorm, eps, true), table && t.tieWordEmbeddings ? table : this.lmHead);
    if (t.finalLogitSoftcapping !== null) logits = softcap(logits, t.finalLogitSoftcapping);
    return logits;
  }

  private cachedAttention(
    cache: KvCache,
    li: number,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: AttentionMask,
    attnScale: number,
    blocks: Int32Array | null,
  ): Tensor {
    const t = this.text;
    const [B, T, Hq, Dh] = q.shape as [number, number, number, number];
    const Hkv = t.numKvHeads;
    const row = Hkv * Dh;
    const stride = cache.capacity * row;
    const kc = cache.k[li]!;
    const vc = cache.v[li]!;
    for (let b = 0; b < B; b++) {
      kc.set(k.data.subarray(b * T * row, (b + 1) * T * row), b * stride + cache.length * row);
      vc.set(v.data.subarray(b * T * row, (b + 1) * T * row), b * stride + cache.length * row);
    }
    const Tk = cache.length + T;
    let keyBlocks: Int32Array | null = null;
    if (blocks) {
      // The mask reads block ids over key positions [B, Tk]; earlier cache entries are text (0) as
      // far as these queries are concerned (causal already shows them).
      keyBlocks = new Int32Array(B * Tk);
      for (let b = 0; b < B; b++) keyBlocks.set(blocks.subarray(b * T, (b + 1) * T), b * Tk + cache.length);
    }
    const out = new Tensor([B, T, Hq, Dh], arena.take(B * T * Hq * Dh));
    out.fromArena = true;
    const lse = new Float32Array(B * Hq * T);
    getBackend().attention(
      { B, Tq: T, Tk, Hq, Hkv, Dh, qOffset: cache.length, kvBatchStride: stride, scale: attnScale, mask: { ...mask, blocks: keyBlocks } },
      q.data,
      kc,
      vc,
      out.data,
      lse,
    );
    return out;
  }
}
