// GGUF export of a Gemma 3 text decoder and of a LoRA adapter, for llama.cpp (architecture
// "gemma3"). Written by our own GGUF writer (src/formats/gguf.ts documents the byte layout).
//
// Tensor names (HF → GGUF), N = layer:
//   embed_tokens → token_embd             norm → output_norm        (lm_head → output when untied)
//   layers.N.input_layernorm → blk.N.attn_norm       self_attn.{q,k,v}_proj → blk.N.attn_{q,k,v}
//   self_attn.o_proj → blk.N.attn_output             self_attn.{q,k}_norm → blk.N.attn_{q,k}_norm
//   post_attention_layernorm → blk.N.post_attention_norm
//   pre_feedforward_layernorm → blk.N.ffn_norm       post_feedforward_layernorm → blk.N.post_ffw_norm
//   mlp.{gate,up,down}_proj → blk.N.ffn_{gate,up,down}
// llama.cpp multiplies by the norm weight as is, so Gemma's (1 + w) norms are written as 1 + w
// (as llama.cpp's own converter does). Norm weights stay F32; matrices take the chosen type.
// llama.cpp's gemma3 graph scales scores by head_dim^-½ (by (hidden/heads)^-½ for the 62-layer 27B)
// and ignores query_pre_attn_scalar, so a different scalar is folded into the q_norm weights (q is
// normalised, then rotated — both linear in the weight — so scores scale by the same factor).
// Metadata: gemma3.{context_length, embedding_length, block_count, feed_forward_length,
// attention.{head_count, head_count_kv, key_length, value_length, layer_norm_rms_epsilon,
// sliding_window, sliding_window_pattern (per layer: true = sliding)}, rope.{freq_base,
// freq_base_swa, scaling.type, scaling.factor}, final_logit_softcapping} and a SentencePiece-style
// vocabulary (tokenizer.ggml.model "llama": tokens, scores, token types, special ids).
// A LoRA adapter GGUF has general.type "adapter", adapter.type "lora", adapter.lora.alpha (f32)
// and tensors <base name>.lora_a ([r, in]) and .lora_b ([out, r]) in PyTorch order.
import { UsageError } from '../../errors/index.ts';
import { encodeTensorData, writeGguf } from '../../formats/index.ts';
import type { GgmlType, GgufTensor, GgufValue } from '../../formats/index.ts';
import type { Tokenizer } from '../../tokenizer/index.ts';
import { adapterConfig } from '../lora/adapter.ts';
import { widen } from '../tensors.ts';
import type { Gemma3Model } from './model.ts';

export interface GgufVocab {
  tokens: string[];
  scores: number[];
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  types: number[];
  bos: number;
  eos: number;
  pad: number;
  unk: number;
}

export interface GgufExportOptions {
  type?: Exclude<GgmlType, 'Q8_0'> | 'Q8_0';
  vocab: GgufVocab;
  name?: string;
}

const FILE_TYPE: Record<GgmlType, number> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

/** HF module/tensor name (canonical, decoder part) → GGUF tensor name, or null if not exported. */
export function ggufTensorName(name: string): string | null {
  const m =
    /^(?:language_model\.)?model\.(.+)$/.exec(name) ??
    (name.startsWith('language_model.lm_head') || name.startsWith('lm_head') ? [name, 'lm_head.weight'] : null);
  if (!m) return null;
  const rest = m[1]!;
  if (rest === 'embed_tokens.weight') return 'token_embd.weight';
  if (rest === 'norm.weight') return 'output_norm.weight';
  if (rest === 'lm_head.weight') return 'output.weight';
  const l = /^layers\.(\d+)\.(.+)$/.exec(rest);
  if (!l) return null;
  const map: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight',
    'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight',
    'self_attn.o_proj.weight': 'attn_output.weight',
    'self_attn.q_norm.weight': 'attn_q_norm.weight',
    'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'post_attention_layernorm.weight': 'post_attention_norm.weight',
    'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
    'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight',
    'mlp.up_proj.weight': 'ffn_up.weight',
    'mlp.down_proj.weight': 'ffn_down.weight',
  };
  const g = map[l[2]!];
  return g ? `blk.${l[1]}.${g}` : null;
}

function encode(type: GgmlType, values: Float32Array, shape: number[], name: string): GgufTensor {
  // Q8_0 needs rows that are multiples of 32; other tensors fall back to F16 as llama.cpp does.
  const t: GgmlType = type === 'Q8_0' && shape[shape.length - 1]! % 32 !== 0 ? 'F16' : type;
  return { name, type: t, shape, data: encodeTensorData(t, values) };
}

function textMetadata(model: Gemma3Model, opts: GgufExportOptions): Map<string, GgufValue> {
  const t = model.text;
  const md = new Map<string, GgufValue>();
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  md.set('general.architecture', { type: 'string', value: 'gemma3' });
  md.set('general.name', { type: 'string', value: opts.name ?? 'vlm2vla-gemma3' });
  md.set('general.file_type', u32(FILE_TYPE[opts.type ?? 'F32']));
  md.set('gemma3.context_length', u32(t.maxPositionEmbeddings));
  md.set('gemma3.embedding_length', u32(t.hiddenSize));
  md.set('gemma3.block_count', u32(t.numLayers));
  md.set('gemma3.feed_forward_length', u32(t.intermediateSize));
  md.set('gemma3.attention.head_count', u32(t.numHeads));
  md.set('gemma3.attention.head_count_kv', u32(t.numKvHeads));
  md.set('gemma3.attention.key_length', u32(t.headDim));
  md.set('gemma3.attention.value_length', u32(t.headDim));
  md.set('gemma3.attention.layer_norm_rms_epsilon', f32(t.rmsNormEps));
  md.set('gemma3.attention.sliding_window', u32(t.slidingWindow));
  md.set('gemma3.attention.sliding_window_pattern', {
    type: 'array',
    itemType: 'bool',
    value: t.layerTypes.map((l) => l === 'sliding_attention'),
  });
  md.set('gemma3.rope.freq_base', f32(t.ropeTheta));
  md.set('gemma3.rope.freq_base_swa', f32(t.ropeLocalBaseFreq));
  if (t.ropeScalingFactor !== 1) {
    md.set('gemma3.rope.scaling.type', { type: 'string', value: 'linear' });
    md.set('gemma3.rope.scaling.factor', f32(t.ropeScalingFactor));
  }
  if (t.finalLogitSoftcapping !== null) md.set('gemma3.final_logit_softcapping', f32(t.finalLogitSoftcapping));
  const v = opts.vocab;
  if (v.tokens.length !== t.vocabSize || v.scores.length !== t.vocabSize || v.types.length !== t.vocabSize) {
    throw new UsageError(
      `the vocabulary has ${v.tokens.length} tokens, the model ${t.vocabSize}`,
      'export with the tokenizer the model was trained with',
    );
  }
  md.set('tokenizer.ggml.model', { type: 'string', value: 'llama' });
  md.set('tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: v.tokens });
  md.set('tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: v.scores });
  md.set('tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: v.types });
  md.set('tokenizer.ggml.bos_token_id', u32(v.bos));
  md.set('tokenizer.ggml.eos_token_id', u32(v.eos));
  md.set('tokenizer.ggml.padding_token_id', u32(v.pad));
  md.set('tokenizer.ggml.unknown_token_id', u32(v.unk));
  md.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: true });
  md.set('tokenizer.ggml.add_eos_token', { type: 'bool', value: false });
  // Gemma's tokenizer adds no dummy-prefix space (SentencePiece's default would).
  md.set('tokenizer.ggml.add_space_prefix', { type: 'bool', value: false });
  return md;
}

/** Writes the text decoder of a gemma3 or gemma3_text model as a llama.cpp GGUF file. The vision
 *  tower is not exported (llama.cpp keeps it in a separate mmproj file). */
export function exportGemma3Gguf(model: Gemma3Model, path: string, opts: GgufExportOptions): void {
  const type = opts.type ?? 'F32';
  const t = model.text;
  const llamaScale = (t.numLayers === 62 ? t.hiddenSize / t.numHeads : t.headDim) ** -0.5;
  const qFold = t.queryPreAttnScalar ** -0.5 / llamaScale;
  const tensors: GgufTensor[] = [];
  for (const [name, w] of model.params) {
    const g = ggufTensorName(name);
    if (!g) continue;
    const isNorm = /norm\.weight$/.test(name);
    let values = widen(w).data;
    const fold = name.endsWith('q_norm.weight') ? qFold : 1;
    if (isNorm) values = Float32Array.from(values, (x) => (x + 1) * fold);
    tensors.push(isNorm ? encode('F32', values, [...w.shape], g) : encode(type, values, [...w.shape], g));
  }
  const order = (n: string) => (n.startsWith('token_embd') ? -2 : n.startsWith('blk.') ? Number(n.split('.')[1]) : 1e9);
  tensors.sort((a, b) => order(a.name) - order(b.name) || (a.name < b.name ? -1 : 1));
  writeGguf(path, textMetadata(model, opts), tensors);
}

/** Writes LoRA adapter `name` as a llama.cpp adapter GGUF (decoder projections only). */
export function exportLoraGguf(model: Gemma3Model, adapter: string, path: string, type: 'F32' | 'F16' = 'F32'): void {
  const cfg = adapterConfig(model, adapter);
  if (cfg.useRslora)
    throw new UsageError(
      'rsLoRA adapters cannot be exported: llama.cpp scales by alpha / r',
      'merge the adapter into the base model first',
    );
  const tensors: GgufTensor[] = [];
  for (const p of model.projections().values()) {
    const a = p.adapters.get(adapter);
    if (!a) continue;
    const g = ggufTensorName(`${p.name}.weight`);
    if (!g)
      throw new UsageError(
        `adapter module ${p.name} is not part of the text decoder; llama.cpp cannot apply it`,
        'train adapters on the decoder projections only to export them',
      );
    tensors.push({ name: `${g}.lora_a`, type, shape: [...a.A.shape], data: encodeTensorData(type, a.A.data) });
    tensors.push({ name: `${g}.lora_b`, type, shape: [...a.B.shape], data: encodeTensorData(type, a.B.data) });
  }
  const md = new Map<string, GgufValue>();
  md.set('general.architecture', { type: 'string', value: 'gemma3' });
  md.set('general.type', { type: 'string', value: 'adapter' });
  md.set('adapter.type', { type: 'string', value: 'lora' });
  md.set('adapter.lora.alpha', { type: 'f32', value: cfg.alpha });
  writeGguf(path, md, tensors);
}

/** A llama.cpp vocabulary from a Hugging Face tokenizer (Gemma-style: ▁ for spaces, <0xNN> byte
 *  tokens). Scores rank tokens by id (earlier merges first), which llama.cpp's SentencePiece
 *  tokenizer uses to order merges; generation from token ids does not depend on them. */
export function vocabFromTokenizer(tok: Tokenizer, vocabSize: number): GgufVocab {
  const tokens: string[] = [];
  const types: number[] = [];
  const scores: number[] = [];
  const special = new Set(tok.specialTokens.values());
  for (let id = 0; id < vocabSize; id++) {
    const s = tok.idToToken(id) ?? `<unused${id}>`;
    tokens.push(s);
    scores.push(-id);
    types.push(/^<0x[0-9A-F]{2}>$/.test(s) ? 6 : s === '<unk>' ? 2 : special.has(id) ? 3 : 1);
  }
  const id = (s: string, fallback: number) => tok.tokenToId(s) ?? fallback;
  return {
    tokens,
    scores,
    types,
    bos: tok.bosId ?? id('<bos>', 2),
    eos: tok.eosId ?? id('<eos>', 1),
    pad: tok.padId ?? id('<pad>', 0),
    unk: id('<unk>', 3),
  };
}

/** A synthetic vocabulary (specials, 256 byte tokens, then ▁-words) for random test models. */
export function syntheticVocab(vocabSize: number): GgufVocab {
  const specials = ['<pad>', '<eos>', '<bos>', '<unk>'];
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    if (i < 4) (tokens.push(specials[i]!), types.push(i === 3 ? 2 : 3));
    else if (i < 260) (tokens.push(`<0x${(i - 4).toString(16).toUpperCase().padStart(2, '0')}>`), types.push(6));
    else (tokens.push(`\u2581w${i}`), types.push(1));
  }
  return { tokens, scores: tokens.map((_, i) => -i), types, bos: 2, eos: 1, pad: 0, unk: 3 };
}
