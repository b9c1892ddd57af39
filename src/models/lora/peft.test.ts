// Tests of PEFT adapter_config.json parsing, target matching and key names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAdapterConfig, adapterConfigToJson, targetMatches, peftKey, parsePeftKey, loraScaling, PAPER_LORA } from './peft.ts';
import { refusePickle } from '../../formats/index.ts';
import { isVlmError } from '../../errors/index.ts';

/** An adapter_config.json as PEFT 0.13 writes it (fields of a real file). */
const PEFT_FILE = {
  alpha_pattern: {},
  auto_mapping: null,
  base_model_name_or_path: 'google/gemma-3-4b-it',
  bias: 'none',
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 32,
  lora_dropout: 0.05,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  peft_type: 'LORA',
  r: 16,
  rank_pattern: {},
  revision: null,
  target_modules: ['v_proj', 'down_proj', 'q_proj', 'up_proj', 'gate_proj', 'o_proj', 'k_proj'],
  task_type: 'CAUSAL_LM',
  use_dora: false,
  use_rslora: false,
};

test('a PEFT adapter_config.json parses to the paper defaults and writes back equivalently', () => {
  const cfg = parseAdapterConfig(PEFT_FILE);
  assert.deepEqual({ ...cfg, baseModel: null }, { ...PAPER_LORA, targetModules: [...(PAPER_LORA.targetModules as string[])].sort() });
  assert.equal(loraScaling(cfg), 2);
  assert.equal(loraScaling({ ...cfg, useRslora: true }), 8);
  assert.deepEqual(parseAdapterConfig(adapterConfigToJson(cfg)), cfg);
});

test('target modules match as in PEFT: suffix after a dot for lists, full match for a regex', () => {
  const list = ['q_proj', 'v_proj'];
  assert.ok(targetMatches('language_model.model.layers.0.self_attn.q_proj', list));
  assert.ok(!targetMatches('language_model.model.layers.0.self_attn.qq_proj', list));
  assert.ok(!targetMatches('vision_tower.vision_model.encoder.layers.0.self_attn.k_proj', list));
  const re = '.*language_model.*\\.(q_proj|v_proj)';
  assert.ok(targetMatches('language_model.model.layers.3.self_attn.v_proj', re));
  assert.ok(!targetMatches('vision_tower.vision_model.encoder.layers.0.self_attn.q_proj', re));
});

test('PEFT key names round trip', () => {
  const key = peftKey('language_model.model.layers.0.mlp.up_proj', 'B');
  assert.equal(key, 'base_model.model.language_model.model.layers.0.mlp.up_proj.lora_B.weight');
  assert.deepEqual(parsePeftKey(key), { moduleName: 'language_model.model.layers.0.mlp.up_proj', which: 'B' });
  assert.deepEqual(parsePeftKey('base_model.model.x.lora_A.default.weight'), { moduleName: 'x', which: 'A' });
  assert.equal(parsePeftKey('language_model.model.norm.weight'), null);
});

test('unsupported or malformed adapter configs are typed errors naming the field; pickles are refused', () => {
  const bad = (patch: Record<string, unknown>, field: string) =>
    assert.throws(
      () => parseAdapterConfig({ ...PEFT_FILE, ...patch }, 'a.json'),
      (e: unknown) => isVlmError(e) && e.code === 'E_ADAPTER_CONFIG' && e.field === field && e.file === 'a.json',
    );
  bad({ peft_type: 'IA3' }, 'peft_type');
  bad({ r: 0 }, 'r');
  bad({ r: 2.5 }, 'r');
  bad({ lora_alpha: -1 }, 'lora_alpha');
  bad({ lora_dropout: 1 }, 'lora_dropout');
  bad({ target_modules: [] }, 'target_modules');
  bad({ target_modules: '(' }, 'target_modules');
  bad({ use_dora: true }, 'use_dora');
  bad({ bias: 'all' }, 'bias');
  bad({ fan_in_fan_out: true }, 'fan_in_fan_out');
  bad({ modules_to_save: ['lm_head'] }, 'modules_to_save');
  bad({ rank_pattern: { q_proj: 8 } }, 'rank_pattern');
  assert.throws(
    () => refusePickle('run/adapter_model.bin'),
    (e: unknown) => isVlmError(e) && e.code === 'E_PICKLE_REFUSED',
  );
  refusePickle('run/adapter_model.safetensors');
});
