// The explicit name map of Gemma 3 checkpoints: every tensor a config implies, with its shape, in
// the Hugging Face names published on the Hub, plus the aliases newer transformers versions write.
// Shape letters: V vocabulary, D text width, Q = Hq·Dh, K = Hkv·Dh, F FFN width, C vision width,
// I vision FFN width, P patch size, N patches per image.
import { FormatError } from '../../errors/index.ts';
import type { AnyGemma3Config, Gemma3TextConfig } from './config.ts';

export type TensorSpec = Map<string, number[]>;

function decoderSpec(t: Gemma3TextConfig, prefix: string, lmHead: string, spec: TensorSpec): void {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, headDim: Dh } = t;
  const Q = t.numHeads * Dh;
  const K = t.numKvHeads * Dh;
  spec.set(`${prefix}embed_tokens.weight`, [V, D]);
  for (let i = 0; i < t.numLayers; i++) {
    const l = `${prefix}layers.${i}.`;
    spec.set(`${l}input_layernorm.weight`, [D]);
    spec.set(`${l}self_attn.q_proj.weight`, [Q, D]);
    spec.set(`${l}self_attn.k_proj.weight`, [K, D]);
    spec.set(`${l}self_attn.v_proj.weight`, [K, D]);
    spec.set(`${l}self_attn.o_proj.weight`, [D, Q]);
    spec.set(`${l}self_attn.q_norm.weight`, [Dh]);
    spec.set(`${l}self_attn.k_norm.weight`, [Dh]);
    spec.set(`${l}post_attention_layernorm.weight`, [D]);
    spec.set(`${l}pre_feedforward_layernorm.weight`, [D]);
    spec.set(`${l}post_feedforward_layernorm.weight`, [D]);
    spec.set(`${l}mlp.gate_proj.weight`, [F, D]);
    spec.set(`${l}mlp.up_proj.weight`, [F, D]);
    spec.set(`${l}mlp.down_proj.weight`, [D, F]);
  }
  spec.set(`${prefix}norm.weight`, [D]);
  if (!t.tieWordEmbeddings) spec.set(lmHead, [V, D]);
}

/** Every tensor of a checkpoint with this config, in canonical (Hub) names, with shapes. */
export function gemma3TensorSpec(cfg: AnyGemma3Config): TensorSpec {
  const spec: TensorSpec = new Map();
  if (cfg.modelType === 'gemma3_text') {
    decoderSpec(cfg.text, 'model.', 'lm_head.weight', spec);
    return spec;
  }
  decoderSpec(cfg.text, 'language_model.model.', 'language_model.lm_head.weight', spec);
  const v = cfg.vision;
  const C = v.hiddenSize;
  const I = v.intermediateSize;
  const P = v.patchSize;
  const N = (v.imageSize / P) ** 2;
  const vm = 'vision_tower.vision_model.';
  spec.set(`${vm}embeddings.patch_embedding.weight`, [C, v.numChannels, P, P]);
  spec.set(`${vm}embeddings.patch_embedding.bias`, [C]);
  spec.set(`${vm}embeddings.position_embedding.weight`, [N, C]);
  for (let i = 0; i < v.numLayers; i++) {
    const l = `${vm}encoder.layers.${i}.`;
    for (const norm of ['layer_norm1', 'layer_norm2']) {
      spec.set(`${l}${norm}.weight`, [C]);
      spec.set(`${l}${norm}.bias`, [C]);
    }
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      spec.set(`${l}self_attn.${proj}.weight`, [C, C]);
      spec.set(`${l}self_attn.${proj}.bias`, [C]);
    }
    spec.set(`${l}mlp.fc1.weight`, [I, C]);
    spec.set(`${l}mlp.fc1.bias`, [I]);
    spec.set(`${l}mlp.fc2.weight`, [C, I]);
    spec.set(`${l}mlp.fc2.bias`, [C]);
  }
  spec.set(`${vm}post_layernorm.weight`, [C]);
  spec.set(`${vm}post_layernorm.bias`, [C]);
  spec.set('multi_modal_projector.mm_input_projection_weight', [C, cfg.text.hiddenSize]);
  spec.set('multi_modal_projector.mm_soft_emb_norm.weight', [C]);
  return spec;
}

/** Maps a file's tensor name to its canonical name (transformers >= 4.52 writes `model.*` names). */
export function canonicalGemma3Name(name: string, cfg: AnyGemma3Config): string {
  if (cfg.modelType === 'gemma3_text') return name;
  if (name.startsWith('model.language_model.')) return `language_model.model.${name.slice('model.language_model.'.length)}`;
  if (name.startsWith('model.vision_tower.')) return name.slice('model.'.length);
  if (name.startsWith('model.multi_modal_projector.')) return name.slice('model.'.length);
  if (name === 'lm_head.weight') return 'language_model.lm_head.weight';
  return name;
}

/** Names a tied checkpoint may carry although nothing reads them. */
function ignorable(canonical: string, cfg: AnyGemma3Config): boolean {
  return cfg.text.tieWordEmbeddings && (canonical === 'lm_head.weight' || canonical === 'language_model.lm_head.weight');
}

export interface TensorMatch {
  /** canonical name → name in the file */
  fileName: Map<string, string>;
  /** names in the file that were ignored (tied lm_head copies) */
  ignored: string[];
}

/** Checks a checkpoint's tensor list against the config: every expected tensor present once with
 *  its exact shape, nothing unknown. Errors list every offending name (up to 20). */
export function matchGemma3Tensors(cfg: AnyGemma3Config, available: ReadonlyMap<string, readonly number[]>, file: string): TensorMatch {
  const spec = gemma3TensorSpec(cfg);
  const fileName = new Map<string, string>();
  const ignored: string[] = [];
  const unknown: string[] = [];
  const wrongShape: string[] = [];
  for (const [name, shape] of available) {
    const canonical = canonicalGemma3Name(name, cfg);
    const expected = spec.get(canonical);
    if (!expected) {
      if (ignorable(canonical, cfg)) ignored.push(name);
      else unknown.push(name);
      continue;
    }
    if (fileName.has(canonical)) {
      throw new FormatError('E_MODEL_TENSORS', `tensor ${canonical} appears twice (as ${fileName.get(canonical)} and ${name})`, {
        file,
        field: name,
        fix: 'the checkpoint mixes two naming layouts; re-export it with one',
      });
    }
    if (expected.length !== shape.length || expected.some((d, i) => d !== shape[i])) {
      wrongShape.push(`${name}: [${shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
    fileName.set(canonical, name);
  }
  const missing = [...spec.keys()].filter((n) => !fileName.has(n));
  const list = (names: string[]) => names.slice(0, 20).join('\n  ') + (names.length > 20 ? `\n  … and ${names.length - 20} more` : '');
  if (wrongShape.length > 0) {
    throw new FormatError(
      'E_MODEL_TENSORS',
      `${wrongShape.length} tensor(s) have the wrong shape for config.json:\n  ${list(wrongShape)}`,
      {
        file,
        field: wrongShape[0]!.split(':')[0],
        fix: 'config.json does not describe these weights; use the config.json saved with them',
      },
    );
  }
  if (missing.length > 0) {
    throw new FormatError('E_MODEL_TENSORS', `${missing.length} tensor(s) required by config.json are missing:\n  ${list(missing)}`, {
      file,
      field: missing[0],
      fix: 'the checkpoint is incomplete (a missing shard?) or belongs to another architecture',
    });
  }
  if (unknown.length > 0) {
    throw new FormatError(
      'E_MODEL_TENSORS',
      `${unknown.length} tensor(s) in the checkpoint are not part of a ${cfg.modelType} model:\n  ${list(unknown)}`,
      {
        file,
        field: unknown[0],
        fix: 'check model_type in config.json; LoRA adapters load with --adapter, not as weights',
      },
    );
  }
  return { fileName, ignored };
}
