// Tests of Hugging Face checkpoint I/O: a tiny random gemma3 written in HF layout (fp32, bf16,
// sharded, the newer `model.language_model.*` names) loads back with equal outputs; broken folders
// give typed errors that name the tensor or field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, Bf16Tensor } from '../../tensor/index.ts';
import { encodeSafetensors, SafetensorsFile } from '../../formats/index.ts';
import { isVlmError } from '../../errors/index.ts';
import { Gemma3Model } from './model.ts';
import { loadGemma3, saveGemma3 } from './files.ts';
import { loadModel } from '../registry.ts';
import { tinyGemma3Config, tinyTextConfig, randomParams } from './testing.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'vlm2vla-hf-'));

function outputs(model: Gemma3Model): Float32Array {
  const I = 63;
  const pixels = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i));
  return Float32Array.from(
    noGrad(() => model.forward({ ids: Int32Array.of(2, 61, I, I, I, I, 62, 5, 9), batch: 1, length: 9, pixels })).data,
  );
}

function expectError(fn: () => unknown, code: string, field?: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVlmError(e), `not a typed error: ${e}`);
    assert.equal(e.code, code, e.message);
    if (field instanceof RegExp) assert.match(e.field ?? '', field);
    else if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

test('a tiny gemma3 round-trips through HF files in fp32, sharded, and bf16', () => {
  const cfg = tinyGemma3Config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 1));
  const want = outputs(model);
  const dir = tmp();
  try {
    saveGemma3(model, dir);
    assert.deepEqual(outputs(loadGemma3(dir)), want);
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(json.model_type, 'gemma3');
    const sharded = tmp();
    saveGemma3(model, sharded, { maxShardBytes: 20_000 });
    assert.deepEqual(outputs(loadModel(sharded)), want);
    rmSync(sharded, { recursive: true });
    const bf = tmp();
    saveGemma3(model, bf, { dtype: 'bf16' });
    const loaded = loadGemma3(bf);
    assert.ok(
      loaded.params.get('language_model.model.layers.0.self_attn.q_proj.weight') instanceof Bf16Tensor,
      'bf16 matrices stay bf16 in memory',
    );
    const f32 = loadGemma3(bf, { dtype: 'f32' });
    assert.ok(!(f32.params.get('language_model.model.layers.0.self_attn.q_proj.weight') instanceof Bf16Tensor));
    const a = outputs(loaded);
    const b = outputs(f32);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4);
    let maxErr = 0;
    for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i]! - want[i]!));
    assert.ok(maxErr > 0 && maxErr < 0.5, `bf16 rounding changes the logits a little (${maxErr})`);
    rmSync(bf, { recursive: true });
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('the newer transformers naming (model.language_model.*, model.vision_tower.*) loads the same model', () => {
  const cfg = tinyGemma3Config();
  const params = randomParams(cfg, 2);
  const model = new Gemma3Model(cfg, new Map(params));
  const dir = tmp();
  try {
    saveGemma3(model, dir);
    const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
    const renamed = new Map(
      [...file.tensors].map(([name, info]) => {
        const n = name.startsWith('language_model.model.')
          ? `model.language_model.${name.slice('language_model.model.'.length)}`
          : name.startsWith('vision_tower.') || name.startsWith('multi_modal_projector.')
            ? `model.${name}`
            : name;
        return [n, { dtype: info.dtype, shape: info.shape, data: file.readBytes(name) }];
      }),
    );
    file.close();
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(renamed));
    assert.deepEqual(outputs(loadGemma3(dir)), outputs(model));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('broken checkpoints give typed errors naming the file, field or tensor', () => {
  const cfg = tinyTextConfig();
  const model = new Gemma3Model(cfg, randomParams(cfg, 3));
  const dir = tmp();
  try {
    expectError(() => loadModel(dir), 'E_MODEL_CONFIG');
    saveGemma3(model, dir);
    const good = readFileSync(join(dir, 'model.safetensors'));
    const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), '{"model_type": "gemma3_text", "hidden_size": ');
    expectError(() => loadModel(dir), 'E_MODEL_CONFIG');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfgJson, model_type: 'llama' }));
    expectError(() => loadModel(dir), 'E_MODEL_TYPE', 'model_type');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfgJson, num_attention_heads: 3 }));
    expectError(() => loadModel(dir), 'E_MODEL_CONFIG', 'num_key_value_heads');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfgJson, intermediate_size: 50 }));
    expectError(() => loadModel(dir), 'E_MODEL_TENSORS', 'model.layers.0.mlp.gate_proj.weight');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfgJson));
    const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
    const all = new Map(
      [...file.tensors].map(([name, info]) => [name, { dtype: info.dtype, shape: info.shape, data: file.readBytes(name) }]),
    );
    file.close();
    const without = new Map(all);
    without.delete('model.layers.2.self_attn.k_norm.weight');
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(without));
    expectError(() => loadModel(dir), 'E_MODEL_TENSORS', 'model.layers.2.self_attn.k_norm.weight');
    const extra = new Map(all);
    extra.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [4], data: new Uint8Array(16) });
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(extra));
    expectError(() => loadModel(dir), 'E_MODEL_TENSORS', 'model.layers.0.self_attn.rotary_emb.inv_freq');
    const nan = new Map(all);
    const bytes = new Uint8Array(all.get('model.norm.weight')!.data);
    new DataView(bytes.buffer).setFloat32(4, NaN, true);
    nan.set('model.norm.weight', { dtype: 'F32', shape: [32], data: bytes });
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(nan));
    expectError(() => loadModel(dir), 'E_MODEL_TENSORS', 'model.norm.weight');
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'pytorch_model.bin'), good);
    expectError(() => loadModel(dir), 'E_PICKLE_REFUSED');
  } finally {
    rmSync(dir, { recursive: true });
  }
});
