// Tests of Gemma 3 config parsing and of the checkpoint name map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGemma3Config, gemma3ConfigToJson } from './config.ts';
import { gemma3TensorSpec, matchGemma3Tensors } from './weights.ts';
import { isVlmError } from '../../errors/index.ts';

/** The published config.json of google/gemma-3-4b-it (numbers as on the Hub). */
const GEMMA3_4B = {
  architectures: ['Gemma3ForConditionalGeneration'],
  boi_token_index: 255999,
  eoi_token_index: 256000,
  eos_token_id: [1, 106],
  image_token_index: 262144,
  initializer_range: 0.02,
  mm_tokens_per_image: 256,
  model_type: 'gemma3',
  text_config: {
    hidden_size: 2560,
    intermediate_size: 10240,
    model_type: 'gemma3_text',
    num_hidden_layers: 34,
    rope_scaling: { factor: 8.0, rope_type: 'linear' },
    sliding_window: 1024,
  },
  torch_dtype: 'bfloat16',
  vision_config: {
    hidden_size: 1152,
    image_size: 896,
    intermediate_size: 4304,
    model_type: 'siglip_vision_model',
    num_attention_heads: 16,
    num_hidden_layers: 27,
    patch_size: 14,
    vision_use_head: false,
  },
};

function expectConfigError(json: unknown, field: string | undefined): void {
  assert.throws(
    () => parseGemma3Config(json, 'cfg.json'),
    (e: unknown) => {
      assert.ok(isVlmError(e), String(e));
      assert.equal(e.code, 'E_MODEL_CONFIG');
      assert.equal(e.field, field);
      assert.equal(e.file, 'cfg.json');
      return true;
    },
  );
}

test('the real Gemma 3 4B config parses with Gemma 3 defaults filled in', () => {
  const cfg = parseGemma3Config(GEMMA3_4B);
  assert.equal(cfg.modelType, 'gemma3');
  if (cfg.modelType !== 'gemma3') return;
  assert.equal(cfg.text.headDim, 256);
  assert.equal(cfg.text.ropeScalingFactor, 8);
  assert.equal(cfg.text.ropeLocalBaseFreq, 10_000);
  assert.equal(cfg.text.ropeTheta, 1_000_000);
  // Every sixth layer is global (pattern 6): layers 5, 11, 17, 23, 29.
  assert.deepEqual(
    cfg.text.layerTypes.flatMap((t, i) => (t === 'full_attention' ? [i] : [])),
    [5, 11, 17, 23, 29],
  );
  const spec = gemma3TensorSpec(cfg);
  assert.deepEqual(spec.get('language_model.model.layers.0.self_attn.q_proj.weight'), [2048, 2560]);
  assert.deepEqual(spec.get('language_model.model.layers.0.self_attn.k_proj.weight'), [1024, 2560]);
  assert.deepEqual(spec.get('vision_tower.vision_model.embeddings.position_embedding.weight'), [4096, 1152]);
  assert.deepEqual(spec.get('multi_modal_projector.mm_input_projection_weight'), [1152, 2560]);
  assert.equal(spec.has('language_model.lm_head.weight'), false);
  // Round trip through config.json.
  assert.deepEqual(parseGemma3Config(gemma3ConfigToJson(cfg)), cfg);
});

test('malformed configs name the field', () => {
  expectConfigError([], undefined);
  expectConfigError({ model_type: 'llama' }, 'model_type');
  expectConfigError({ model_type: 'gemma3', vision_config: {} }, 'text_config');
  const text = {
    model_type: 'gemma3_text',
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 16,
  };
  assert.equal(parseGemma3Config(text).modelType, 'gemma3_text');
  expectConfigError({ ...text, hidden_size: 0 }, 'hidden_size');
  expectConfigError({ ...text, hidden_size: 64.5 }, 'hidden_size');
  expectConfigError({ ...text, num_key_value_heads: 3 }, 'num_key_value_heads');
  expectConfigError({ ...text, layer_types: ['full_attention'] }, 'layer_types');
  expectConfigError({ ...text, rope_scaling: { rope_type: 'yarn', factor: 2 } }, 'rope_scaling');
  expectConfigError({ ...text, hidden_activation: 'relu' }, 'hidden_activation');
  expectConfigError({ ...text, rms_norm_eps: -1 }, 'rms_norm_eps');
  expectConfigError({ ...GEMMA3_4B, mm_tokens_per_image: 250 }, 'mm_tokens_per_image');
  expectConfigError({ ...GEMMA3_4B, vision_config: { ...GEMMA3_4B.vision_config, patch_size: 15 } }, 'vision_config.patch_size');
  expectConfigError({ ...GEMMA3_4B, text_config: { ...GEMMA3_4B.text_config, vocab_size: 1000 } }, 'boi_token_index');
});

test('tensor matching accepts both naming layouts and lists missing, unknown and misshapen tensors', () => {
  const cfg = parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
      vocab_size: 300,
    },
    vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, image_size: 32, patch_size: 8 },
    mm_tokens_per_image: 4,
    boi_token_index: 290,
    eoi_token_index: 291,
    image_token_index: 292,
  });
  const spec = gemma3TensorSpec(cfg);
  assert.equal(matchGemma3Tensors(cfg, spec, 'm.safetensors').fileName.size, spec.size);
  // transformers >= 4.52 names
  const renamed = new Map<string, number[]>();
  for (const [n, s] of spec) {
    renamed.set(n.startsWith('language_model.model.') ? `model.language_model.${n.slice(21)}` : `model.${n}`, s);
  }
  renamed.set('lm_head.weight', [300, 32]); // a tied copy: ignored
  const m = matchGemma3Tensors(cfg, renamed, 'm.safetensors');
  assert.equal(m.fileName.size, spec.size);
  assert.deepEqual(m.ignored, ['lm_head.weight']);

  const check = (mutate: (t: Map<string, number[]>) => void, field: string, text: RegExp) => {
    const t = new Map(spec);
    mutate(t);
    assert.throws(
      () => matchGemma3Tensors(cfg, t, 'm.safetensors'),
      (e: unknown) => {
        assert.ok(isVlmError(e));
        assert.equal(e.code, 'E_MODEL_TENSORS');
        assert.equal(e.field, field);
        assert.match(e.message, text);
        return true;
      },
    );
  };
  check((t) => t.delete('language_model.model.layers.1.mlp.up_proj.weight'), 'language_model.model.layers.1.mlp.up_proj.weight', /missing/);
  check(
    (t) => t.set('language_model.model.layers.0.mlp.gate_proj.weight', [64, 31]),
    'language_model.model.layers.0.mlp.gate_proj.weight',
    /\[64, 31\], expected \[64, 32\]/,
  );
  check((t) => t.set('base_model.model.lora_A.weight', [4, 32]), 'base_model.model.lora_A.weight', /not part of a gemma3 model/);
  check((t) => t.set('model.language_model.norm.weight', [32]), 'model.language_model.norm.weight', /twice/);
});
