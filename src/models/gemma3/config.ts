// Gemma 3 configuration: `config.json` of Gemma3ForConditionalGeneration (`model_type: gemma3`, a
// SigLIP vision tower + pooled projector + Gemma 3 decoder) and of the text-only `gemma3_text`,
// parsed into typed objects with every field checked, and written back in Hugging Face's shape.
import { ConfigError } from '../../errors/index.ts';

export type LayerType = 'sliding_attention' | 'full_attention';

export interface Gemma3TextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  /** RoPE base of global (full-attention) layers. */
  ropeTheta: number;
  /** RoPE base of local (sliding-window) layers. */
  ropeLocalBaseFreq: number;
  /** Linear RoPE scaling factor of global layers (Gemma 3 4B+: 8); 1 = none. */
  ropeScalingFactor: number;
  slidingWindow: number;
  layerTypes: LayerType[];
  /** Attention scores are scaled by queryPreAttnScalar ** -0.5. */
  queryPreAttnScalar: number;
  maxPositionEmbeddings: number;
  finalLogitSoftcapping: number | null;
  attnLogitSoftcapping: number | null;
  tieWordEmbeddings: boolean;
  hiddenActivation: 'gelu_pytorch_tanh';
  bosTokenId: number;
  eosTokenId: number | number[];
  padTokenId: number;
}

export interface SiglipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  hiddenAct: 'gelu_pytorch_tanh';
}

export interface Gemma3Config {
  modelType: 'gemma3';
  text: Gemma3TextConfig;
  vision: SiglipVisionConfig;
  /** Image tokens per image after pooling (Gemma 3: 256 = 16 × 16). */
  mmTokensPerImage: number;
  boiTokenIndex: number;
  eoiTokenIndex: number;
  imageTokenIndex: number;
}

export interface Gemma3TextOnlyConfig {
  modelType: 'gemma3_text';
  text: Gemma3TextConfig;
}

export type AnyGemma3Config = Gemma3Config | Gemma3TextOnlyConfig;

type Json = Record<string, unknown>;

class Reader {
  constructor(
    private readonly json: Json,
    private readonly file: string,
    private readonly prefix: string,
  ) {}

  fail(field: string, message: string, fix: string): never {
    throw new ConfigError('E_MODEL_CONFIG', message, { file: this.file, field: this.prefix + field, fix });
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  int(field: string, fallback?: number, min = 1): number {
    const v = this.json[field] ?? fallback;
    if (v === undefined) this.fail(field, `${this.prefix}${field} is missing`, `add "${field}" to config.json`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.fail(field, `${this.prefix}${field} is ${JSON.stringify(v)}, expected an integer >= ${min}`, `fix "${field}" in config.json`);
    }
    return v as number;
  }

  num(field: string, fallback?: number): number {
    const v = this.json[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `${this.prefix}${field} is ${JSON.stringify(v)}, expected a positive number`, `fix "${field}" in config.json`);
    }
    return v as number;
  }

  optNum(field: string): number | null {
    const v = this.json[field];
    if (v === undefined || v === null) return null;
    return this.num(field);
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.json[field] ?? fallback;
    if (typeof v !== 'boolean') this.fail(field, `${this.prefix}${field} must be true or false`, `fix "${field}" in config.json`);
    return v as boolean;
  }

  act(field: string): 'gelu_pytorch_tanh' {
    const v = this.json[field] ?? 'gelu_pytorch_tanh';
    if (v !== 'gelu_pytorch_tanh' && v !== 'gelu_tanh' && v !== 'gelu_new') {
      this.fail(
        field,
        `${this.prefix}${field} is ${JSON.stringify(v)}; only the tanh GELU of Gemma 3 / SigLIP is supported`,
        'use "gelu_pytorch_tanh"',
      );
    }
    return 'gelu_pytorch_tanh';
  }

  obj(field: string): Json {
    const v = this.json[field];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(field, `${this.prefix}${field} must be an object`, `add a "${field}" object to config.json`);
    }
    return v as Json;
  }

  raw(field: string): unknown {
    return this.json[field];
  }
}

function parseText(json: Json, file: string, prefix: string): Gemma3TextConfig {
  const r = new Reader(json, file, prefix);
  // Defaults are Gemma3TextConfig's: published configs (e.g. gemma-3-4b-it) omit fields equal to them.
  const hiddenSize = r.int('hidden_size', 2304);
  const numHeads = r.int('num_attention_heads', 8);
  const numKvHeads = r.int('num_key_value_heads', 4);
  if (numHeads % numKvHeads !== 0)
    r.fail(
      'num_key_value_heads',
      `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`,
      'grouped-query attention needs heads = k × kv heads',
    );
  const headDim = r.int('head_dim', 256);
  const numLayers = r.int('num_hidden_layers', 26);
  const pattern = r.int('sliding_window_pattern', 6);
  let layerTypes: LayerType[];
  const rawTypes = r.raw('layer_types');
  if (rawTypes !== undefined && rawTypes !== null) {
    if (
      !Array.isArray(rawTypes) ||
      rawTypes.length !== numLayers ||
      rawTypes.some((t) => t !== 'sliding_attention' && t !== 'full_attention')
    ) {
      r.fail(
        'layer_types',
        `layer_types must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers`,
        'fix layer_types or remove it to use sliding_window_pattern',
      );
    }
    layerTypes = rawTypes as LayerType[];
  } else {
    layerTypes = Array.from({ length: numLayers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
  }
  let ropeScalingFactor = 1;
  const scaling = r.raw('rope_scaling');
  if (scaling !== undefined && scaling !== null) {
    const s = scaling as Json;
    const kind = s.rope_type ?? s.type;
    if (kind !== 'linear' || typeof s.factor !== 'number' || !(s.factor > 0)) {
      r.fail(
        'rope_scaling',
        `rope_scaling ${JSON.stringify(scaling)} is not supported (only {"rope_type": "linear", "factor": f})`,
        'use linear RoPE scaling as Gemma 3 does',
      );
    }
    ropeScalingFactor = s.factor as number;
  }
  const eos = r.raw('eos_token_id') ?? 1;
  if (!(typeof eos === 'number' && Number.isInteger(eos)) && !(Array.isArray(eos) && eos.every((e) => Number.isInteger(e)))) {
    r.fail('eos_token_id', 'eos_token_id must be an integer or a list of integers', 'fix eos_token_id in config.json');
  }
  const vocabSize = r.int('vocab_size', 262_208);
  return {
    vocabSize,
    hiddenSize,
    intermediateSize: r.int('intermediate_size', 9216),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: r.num('rms_norm_eps', 1e-6),
    ropeTheta: r.num('rope_theta', 1_000_000),
    ropeLocalBaseFreq: r.num('rope_local_base_freq', 10_000),
    ropeScalingFactor,
    slidingWindow: r.int('sliding_window', 4096),
    layerTypes,
    queryPreAttnScalar: r.num('query_pre_attn_scalar', headDim),
    maxPositionEmbeddings: r.int('max_position_embeddings', 131_072),
    finalLogitSoftcapping: r.optNum('final_logit_softcapping'),
    attnLogitSoftcapping: r.optNum('attn_logit_softcapping'),
    tieWordEmbeddings: r.bool('tie_word_embeddings', true),
    hiddenActivation: r.act('hidden_activation'),
    bosTokenId: r.int('bos_token_id', 2, 0),
    eosTokenId: eos as number | number[],
    padTokenId: r.int('pad_token_id', 0, 0),
  };
}

function parseVision(json: Json, file: string): SiglipVisionConfig {
  const r = new Reader(json, file, 'vision_config.');
  const hiddenSize = r.int('hidden_size', 1152);
  const numHeads = r.int('num_attention_heads', 16);
  if (hiddenSize % numHeads !== 0)
    r.fail('num_attention_heads', `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`, 'fix the vision config');
  const imageSize = r.int('image_size', 896);
  const patchSize = r.int('patch_size', 14);
  if (imageSize % patchSize !== 0)
    r.fail('patch_size', `image_size ${imageSize} is not a multiple of patch_size ${patchSize}`, 'fix the vision config');
  if (r.bool('vision_use_head', false))
    r.fail('vision_use_head', 'vision_use_head = true is not used by Gemma 3', 'set vision_use_head to false');
  return {
    hiddenSize,
    intermediateSize: r.int('intermediate_size', 4304),
    numLayers: r.int('num_hidden_layers', 27),
    numHeads,
    numChannels: r.int('num_channels', 3),
    imageSize,
    patchSize,
    layerNormEps: r.num('layer_norm_eps', 1e-6),
    hiddenAct: r.act('hidden_act'),
  };
}

/** Parses a config.json object; `file` is named in errors. */
export function parseGemma3Config(json: unknown, file = 'config.json'): AnyGemma3Config {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError('E_MODEL_CONFIG', `${file} must hold a JSON object`, {
      file,
      fix: 'restore config.json from the model repository',
    });
  }
  const r = new Reader(json as Json, file, '');
  const modelType = r.raw('model_type');
  if (modelType === 'gemma3_text') return { modelType, text: parseText(json as Json, file, '') };
  if (modelType !== 'gemma3')
    r.fail('model_type', `model_type ${JSON.stringify(modelType)} is not gemma3 or gemma3_text`, 'this loader reads Gemma 3 checkpoints');
  const text = parseText(r.obj('text_config'), file, 'text_config.');
  const vision = parseVision(r.obj('vision_config'), file);
  const mmTokensPerImage = r.int('mm_tokens_per_image', 256);
  const patchesPerSide = vision.imageSize / vision.patchSize;
  const tokensPerSide = Math.round(Math.sqrt(mmTokensPerImage));
  if (tokensPerSide * tokensPerSide !== mmTokensPerImage || patchesPerSide % tokensPerSide !== 0) {
    r.fail(
      'mm_tokens_per_image',
      `mm_tokens_per_image ${mmTokensPerImage} must be a square whose side divides the ${patchesPerSide} patches per side`,
      'fix mm_tokens_per_image or the vision image/patch size',
    );
  }
  const cfg: Gemma3Config = {
    modelType: 'gemma3',
    text,
    vision,
    mmTokensPerImage,
    boiTokenIndex: r.int('boi_token_index', 255_999, 0),
    eoiTokenIndex: r.int('eoi_token_index', 256_000, 0),
    imageTokenIndex: r.int('image_token_index', 262_144, 0),
  };
  for (const f of ['boiTokenIndex', 'eoiTokenIndex', 'imageTokenIndex'] as const) {
    if (cfg[f] >= text.vocabSize)
      r.fail(
        f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        `${f} ${cfg[f]} is outside the vocabulary of ${text.vocabSize}`,
        'fix the special token indices or vocab_size',
      );
  }
  return cfg;
}

function textToJson(t: Gemma3TextConfig, modelType: 'gemma3_text' | null): Json {
  return {
    ...(modelType ? { model_type: modelType, architectures: ['Gemma3ForCausalLM'] } : { model_type: 'gemma3_text' }),
    vocab_size: t.vocabSize,
    hidden_size: t.hiddenSize,
    intermediate_size: t.intermediateSize,
    num_hidden_layers: t.numLayers,
    num_attention_heads: t.numHeads,
    num_key_value_heads: t.numKvHeads,
    head_dim: t.headDim,
    rms_norm_eps: t.rmsNormEps,
    rope_theta: t.ropeTheta,
    rope_local_base_freq: t.ropeLocalBaseFreq,
    rope_scaling: t.ropeScalingFactor === 1 ? null : { rope_type: 'linear', factor: t.ropeScalingFactor },
    sliding_window: t.slidingWindow,
    layer_types: t.layerTypes,
    query_pre_attn_scalar: t.queryPreAttnScalar,
    max_position_embeddings: t.maxPositionEmbeddings,
    final_logit_softcapping: t.finalLogitSoftcapping,
    attn_logit_softcapping: t.attnLogitSoftcapping,
    tie_word_embeddings: t.tieWordEmbeddings,
    hidden_activation: t.hiddenActivation,
    bos_token_id: t.bosTokenId,
    eos_token_id: t.eosTokenId,
    pad_token_id: t.padTokenId,
    attention_bias: false,
  };
}

/** The Hugging Face `config.json` object for a config (round-trips through parseGemma3Config). */
export function gemma3ConfigToJson(cfg: AnyGemma3Config): Json {
  if (cfg.modelType === 'gemma3_text') return textToJson(cfg.text, 'gemma3_text');
  const v = cfg.vision;
  return {
    model_type: 'gemma3',
    architectures: ['Gemma3ForConditionalGeneration'],
    text_config: textToJson(cfg.text, null),
    vision_config: {
      model_type: 'siglip_vision_model',
      hidden_size: v.hiddenSize,
      intermediate_size: v.intermediateSize,
      num_hidden_layers: v.numLayers,
      num_attention_heads: v.numHeads,
      num_channels: v.numChannels,
      image_size: v.imageSize,
      patch_size: v.patchSize,
      layer_norm_eps: v.layerNormEps,
      hidden_act: v.hiddenAct,
      vision_use_head: false,
    },
    mm_tokens_per_image: cfg.mmTokensPerImage,
    boi_token_index: cfg.boiTokenIndex,
    eoi_token_index: cfg.eoiTokenIndex,
    image_token_index: cfg.imageTokenIndex,
    tie_word_embeddings: cfg.text.tieWordEmbeddings,
  };
}
