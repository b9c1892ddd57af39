// PEFT trainable tokens (`trainable_token_indices`) next to LoRA, the discrete-token action mode's
// adapter: a zero delta is the base model; the delta changes exactly its tokens' input rows and (tied)
// output columns; its gradient matches central finite differences in float64; the PEFT files
// round-trip; merging equals the unmerged adapter; malformed files are typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backward, crossEntropy, noGrad } from '../../tensor/index.ts';
import { generate } from '../../decode/index.ts';
import { isVlmError } from '../../errors/index.ts';
import { Rng } from '../../util/index.ts';
import { Gemma3Model } from '../gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../gemma3/testing.ts';
import { addAdapter, loadAdapter, saveAdapter, mergeAdapter, setActiveAdapter, adapterParameters } from './adapter.ts';
import { PAPER_LORA, parseAdapterConfig, tokenDeltaKey } from './peft.ts';
import type { LoraConfig } from './peft.ts';

const I = 63;
const IDS = Int32Array.of(2, 61, I, I, I, I, 62, 5, 9, 17, 40, 9);
const PIXELS = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.cos(i));
const TOKENS = [9, 40, 55];
const LORA: LoraConfig = {
  ...PAPER_LORA,
  r: 2,
  alpha: 4,
  dropout: 0,
  targetModules: ['q_proj', 'down_proj'],
  trainableTokenIndices: TOKENS,
};

function model(): Gemma3Model {
  const cfg = tinyGemma3Config({ text_config: { final_logit_softcapping: null } });
  return new Gemma3Model(cfg, randomParams(cfg, 4));
}
const logits = (m: Gemma3Model) =>
  Float32Array.from(noGrad(() => m.forward({ ids: IDS, batch: 1, length: IDS.length, pixels: PIXELS })).data);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i]!)), 0);

test('a zero delta is the base model; a delta changes only its tokens', () => {
  const m = model();
  const base = logits(m);
  const params = addAdapter(m, 'act', LORA);
  const delta = params.at(-1)!;
  assert.equal(delta.name, tokenDeltaKey('language_model.model.embed_tokens'));
  assert.deepEqual(delta.shape, [3, 32]);
  assert.deepEqual(adapterParameters(m, 'act').at(-1), delta);
  setActiveAdapter(m, 'act');
  assert.equal(maxDiff(logits(m), base), 0);
  // Delta on token 55 only (absent from the input): only its output column changes.
  delta.data.fill(0);
  for (let j = 0; j < 32; j++) delta.data[2 * 32 + j] = 0.5 * Math.sin(j);
  const V = 64;
  const out = logits(m);
  for (let i = 0; i < out.length; i++) {
    if (i % V === 55) continue;
    assert.ok(Math.abs(out[i]! - base[i]!) < 1e-6, `logit ${i % V} of row ${Math.floor(i / V)} moved`);
  }
  assert.ok(maxDiff(out, base) > 1e-3);
  setActiveAdapter(m, null);
  assert.equal(maxDiff(logits(m), base), 0);
});

test('the delta gradient matches central finite differences (float64 loss sums)', () => {
  const m = model();
  const params = addAdapter(m, 'act', LORA);
  setActiveAdapter(m, 'act');
  const rng = new Rng(3);
  for (const p of params) for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.1;
  const delta = params.at(-1)!;
  const rows = Int32Array.from({ length: IDS.length - 1 }, (_, i) => i);
  const targets = Int32Array.from(rows, (r) => IDS[r + 1]!);
  const loss = () => crossEntropy(m.forward({ ids: IDS, batch: 1, length: IDS.length, pixels: PIXELS, rows }), targets);
  for (const p of params) p.zeroGrad();
  backward(loss());
  const grad = Float32Array.from(delta.grad!);
  const eps = 1e-2;
  let checked = 0;
  for (const i of [0, 5, 31, 32, 40, 70, 95]) {
    const keep = delta.data[i]!;
    delta.data[i] = keep + eps;
    const up = noGrad(() => loss().item());
    delta.data[i] = keep - eps;
    const down = noGrad(() => loss().item());
    delta.data[i] = keep;
    const fd = (up - down) / (2 * eps);
    assert.ok(
      Math.abs(fd - grad[i]!) <= 2e-3 + 2e-2 * Math.abs(fd),
      `d loss / d delta[${i}]: finite difference ${fd}, backward ${grad[i]}`,
    );
    checked++;
  }
  assert.equal(checked, 7);
  assert.ok(grad.some((g) => Math.abs(g) > 1e-4));
});

test('PEFT files round-trip; merged equals unmerged; broken files are typed errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-tokens-'));
  try {
    const m = model();
    const params = addAdapter(m, 'act', LORA);
    const rng = new Rng(5);
    for (const p of params) for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.2;
    setActiveAdapter(m, 'act');
    const want = logits(m);
    saveAdapter(m, 'act', join(dir, 'a'));
    const cfgJson = JSON.parse(readFileSync(join(dir, 'a', 'adapter_config.json'), 'utf8'));
    assert.deepEqual(cfgJson.trainable_token_indices, TOKENS);
    assert.deepEqual(parseAdapterConfig({ ...cfgJson, trainable_token_indices: { embed_tokens: TOKENS } }).trainableTokenIndices, TOKENS);

    const m2 = model();
    const loaded = loadAdapter(m2, join(dir, 'a'), 'x');
    assert.deepEqual(loaded.trainableTokenIndices, TOKENS);
    setActiveAdapter(m2, 'x');
    assert.equal(maxDiff(logits(m2), want), 0);
    // A loaded (frozen) delta is folded into one table and reused: decoding through the arena-scoped
    // generate loop twice, then a plain forward, must still give the same results.
    const gen = () => generate(m2, [{ ids: IDS.slice(7), pixels: null }], { maxNewTokens: 8, eosIds: [] })[0]!.tokens;
    const first = gen();
    assert.deepEqual(gen(), first);
    assert.equal(maxDiff(logits(m2), want), 0);
    mergeAdapter(m2, 'x');
    assert.equal(m2.activeTokenAdapter, null);
    assert.ok(maxDiff(logits(m2), want) < 1e-4, `merged differs by ${maxDiff(logits(m2), want)}`);

    // The config lists tokens the file lacks, and the reverse; a wrong shape; a bad config value.
    const bad = (mutate: (cfg: Record<string, unknown>) => void, code: string) => {
      const c = structuredClone(cfgJson);
      mutate(c);
      writeFileSync(join(dir, 'a', 'adapter_config.json'), JSON.stringify(c));
      assert.throws(
        () => loadAdapter(model(), join(dir, 'a')),
        (e: unknown) => isVlmError(e) && e.code === code,
        code,
      );
    };
    bad((c) => (c.trainable_token_indices = null), 'E_ADAPTER_TENSORS');
    bad((c) => (c.trainable_token_indices = [9, 40]), 'E_ADAPTER_TENSORS');
    bad((c) => (c.trainable_token_indices = [9, 9, 40]), 'E_ADAPTER_CONFIG');
    bad((c) => (c.trainable_token_indices = { lm_head: TOKENS }), 'E_ADAPTER_CONFIG');
    assert.throws(() => addAdapter(model(), 'y', { ...LORA, trainableTokenIndices: [64] }), /outside the vocabulary/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
