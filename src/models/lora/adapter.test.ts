// Tests of LoRA adapters on the Gemma 3 model: B = 0 leaves the base output unchanged; a trained-
// looking adapter changes it; merged equals unmerged; PEFT files round-trip; two adapters switch;
// default targets are the decoder's seven projections only; broken adapter folders give typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../../tensor/index.ts';
import { encodeSafetensors, SafetensorsFile } from '../../formats/index.ts';
import { isVlmError } from '../../errors/index.ts';
import { Rng } from '../../util/index.ts';
import { Gemma3Model } from '../gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../gemma3/testing.ts';
import {
  addAdapter,
  loadAdapter,
  saveAdapter,
  mergeAdapter,
  setActiveAdapter,
  adapterParameters,
  decoderTargets,
  adapterNames,
} from './adapter.ts';
import { PAPER_LORA } from './peft.ts';
import type { LoraConfig } from './peft.ts';

const I = 63;
function run(model: Gemma3Model): Float32Array {
  const pixels = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.cos(i));
  return Float32Array.from(
    noGrad(() => model.forward({ ids: Int32Array.of(2, 61, I, I, I, I, 62, 5, 9, 17), batch: 1, length: 10, pixels })).data,
  );
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

function model(): Gemma3Model {
  const cfg = tinyGemma3Config();
  return new Gemma3Model(cfg, randomParams(cfg, 4));
}

const LORA: LoraConfig = { ...PAPER_LORA, r: 4, alpha: 8, targetModules: decoderTargets('gemma3') };

function randomize(params: { data: Float32Array }[], seed: number): void {
  const rng = new Rng(seed);
  for (const p of params) for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.2;
}

test('default targets are the seven decoder projections of every layer, not the vision tower', () => {
  const m = model();
  const params = addAdapter(m, 'a', LORA);
  assert.equal(params.length, 2 * 7 * 3);
  for (const p of params) assert.match(p.name!, /language_model\.model\.layers\.\d\.(self_attn|mlp)\./);
});

test('B = 0 equals the base; a non-zero adapter changes the output; merged equals unmerged', () => {
  const m = model();
  const base = run(m);
  addAdapter(m, 'a', LORA, 1);
  setActiveAdapter(m, 'a');
  assert.equal(maxDiff(run(m), base), 0);
  randomize(adapterParameters(m, 'a'), 2);
  const adapted = run(m);
  assert.ok(maxDiff(adapted, base) > 1e-2);
  mergeAdapter(m, 'a');
  assert.deepEqual(adapterNames(m), []);
  assert.ok(maxDiff(run(m), adapted) < 1e-4);
});

test('PEFT files round-trip; two adapters load side by side and switch; none = base', () => {
  const m = model();
  const base = run(m);
  addAdapter(m, 'a', LORA, 1);
  randomize(adapterParameters(m, 'a'), 3);
  addAdapter(m, 'b', { ...LORA, r: 2, alpha: 3 }, 2);
  randomize(adapterParameters(m, 'b'), 4);
  setActiveAdapter(m, 'a');
  const outA = run(m);
  setActiveAdapter(m, 'b');
  const outB = run(m);
  const dirA = mkdtempSync(join(tmpdir(), 'vlm2vla-lora-'));
  const dirB = mkdtempSync(join(tmpdir(), 'vlm2vla-lora-'));
  try {
    saveAdapter(m, 'a', dirA, 'models/base');
    saveAdapter(m, 'b', dirB);
    const cfgJson = JSON.parse(readFileSync(join(dirA, 'adapter_config.json'), 'utf8'));
    assert.equal(cfgJson.peft_type, 'LORA');
    assert.equal(cfgJson.r, 4);
    assert.equal(cfgJson.base_model_name_or_path, 'models/base');
    const keys = [...SafetensorsFile.open(join(dirA, 'adapter_model.safetensors')).tensors.keys()];
    assert.ok(keys.includes('base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight'));
    const fresh = model();
    loadAdapter(fresh, dirA, 'a');
    loadAdapter(fresh, dirB, 'b');
    assert.deepEqual(run(fresh), base);
    setActiveAdapter(fresh, 'a');
    assert.deepEqual(run(fresh), outA);
    setActiveAdapter(fresh, 'b');
    assert.deepEqual(run(fresh), outB);
    setActiveAdapter(fresh, null);
    assert.deepEqual(run(fresh), base);
    assert.throws(() => setActiveAdapter(fresh, 'c'), /no adapter named "c"/);
  } finally {
    rmSync(dirA, { recursive: true });
    rmSync(dirB, { recursive: true });
  }
});

test('broken adapter folders give typed errors naming the key', () => {
  const m = model();
  addAdapter(m, 'a', LORA, 1);
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-lora-'));
  const expect = (code: string, field?: string) =>
    assert.throws(
      () => loadAdapter(model(), dir),
      (e: unknown) => {
        assert.ok(isVlmError(e), String(e));
        assert.equal(e.code, code, e.message);
        if (field !== undefined) assert.equal(e.field, field);
        return true;
      },
    );
  try {
    expect('E_ADAPTER_FILES');
    saveAdapter(m, 'a', dir);
    const file = SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
    const all = new Map(
      [...file.tensors].map(([name, info]) => [name, { dtype: info.dtype, shape: info.shape, data: file.readBytes(name) }]),
    );
    file.close();
    const qA = 'base_model.model.language_model.model.layers.1.self_attn.q_proj.lora_A.weight';
    const noB = new Map(all);
    noB.delete(qA.replace('lora_A', 'lora_B'));
    writeFileSync(join(dir, 'adapter_model.safetensors'), encodeSafetensors(noB));
    expect('E_ADAPTER_TENSORS', qA.replace('lora_A', 'lora_B'));
    const alien = new Map(all);
    alien.set('base_model.model.language_model.model.layers.9.self_attn.q_proj.lora_A.weight', all.get(qA)!);
    writeFileSync(join(dir, 'adapter_model.safetensors'), encodeSafetensors(alien));
    expect('E_ADAPTER_TENSORS', 'base_model.model.language_model.model.layers.9.self_attn.q_proj.lora_A.weight');
    writeFileSync(join(dir, 'adapter_model.safetensors'), encodeSafetensors(all));
    const cfgJson = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...cfgJson, r: 8 }));
    expect('E_ADAPTER_TENSORS');
    writeFileSync(join(dir, 'adapter_config.json'), '{');
    expect('E_ADAPTER_CONFIG');
    rmSync(join(dir, 'adapter_model.safetensors'));
    writeFileSync(join(dir, 'adapter_model.bin'), 'x');
    expect('E_PICKLE_REFUSED');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('adapter misuse is a usage error: no matching targets, a name loaded twice, an unknown adapter', () => {
  const m = model();
  const usage = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && re.test(e.message));
  usage(() => addAdapter(m, 'x', { ...LORA, targetModules: ['qkv'] }), /match no projection/);
  addAdapter(m, 'a', LORA);
  usage(() => addAdapter(m, 'a', LORA), /already loaded/);
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-lora-'));
  try {
    saveAdapter(m, 'a', dir);
    usage(() => loadAdapter(m, dir, 'a'), /already loaded/);
    usage(() => saveAdapter(m, 'nope', dir), /no adapter named "nope"/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('LoRA rank is bounded: r=1e9 is a usage error before any allocation, and r above min(in, out) is refused', async () => {
  const { loraConfig, MAX_LORA_RANK } = await import('./adapter.ts');
  for (const r of [1e9, MAX_LORA_RANK + 1, 0, 2.5])
    assert.throws(
      () => loraConfig('gemma3', { r }),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE',
      String(r),
    );
  const m = model();
  assert.throws(
    () => addAdapter(m, 'big', { ...LORA, r: 4096 }),
    (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /r ≤ \d+/.test(String((e as { fix?: string }).fix)),
  );
  assert.deepEqual(adapterNames(m), []);
});
