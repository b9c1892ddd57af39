// `vlm2vla pretrain --preset tiny` end to end (tokenizer, model, held-out VQA, model card), then
// `vlm2vla eval vqa` on the result: the same accuracy as the card, retention 1 against itself.
// The tiny preset reached 19% overall on its 200 held-out questions when this test was last measured
// (untrained: ~0%); the test asks for 12%.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../testing.ts';
import { loadModel, addAdapter, saveAdapter, decoderTargets, PAPER_LORA } from '../../models/index.ts';
import { Rng } from '../../util/index.ts';
import { VQA_CATEGORIES } from '../../corpus/index.ts';

test('vlm2vla pretrain --preset tiny, then eval vqa', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-pretrain-'));
  try {
    const out = join(dir, 'tiny');
    const r = await capture(['pretrain', '--preset', 'tiny', '--out', out]);
    assert.equal(r.code, 0, r.err);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'vqa.json', 'loss.svg'])
      assert.ok(existsSync(join(out, f)), f);
    assert.ok(existsSync(join(`${out}.run`, 'checkpoints')));
    const model = loadModel(out);
    assert.equal(model.cfg.modelType, 'gemma3');
    const vqa = JSON.parse(readFileSync(join(out, 'vqa.json'), 'utf8')) as {
      overall: number;
      perCategory: number;
      categories: Record<string, { accuracy: number }>;
    };
    assert.ok(vqa.overall >= 0.12, `tiny preset: ${(vqa.overall * 100).toFixed(1)}% overall on the held-out VQA set, expected >= 12%`);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    assert.ok(card.includes(`vlm2vla pretrain --preset tiny --out ${out}`));
    assert.ok(card.includes(`| **overall** | ${20 * VQA_CATEGORIES.length} |`), 'the card counts every held-out question');
    assert.match(card, /seed: 0/);

    // A second run into the same folder needs --resume; resuming a finished run changes nothing.
    const again = await capture(['pretrain', '--preset', 'tiny', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.err, /--resume/);
    const resumed = await capture(['pretrain', '--preset', 'tiny', '--out', out, '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'vqa.json'), 'utf8')), vqa);

    const report = join(dir, 'vqa.json');
    const e = await capture(['eval', 'vqa', '--model', out, '--baseline', out, '--per-category', String(vqa.perCategory), '--out', report]);
    assert.equal(e.code, 0, e.err);
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      overall: number;
      retention: Record<string, number | null>;
      predictions: unknown[];
    };
    assert.equal(json.overall, vqa.overall);
    assert.equal(json.predictions.length, 20 * VQA_CATEGORIES.length);
    assert.equal(json.retention.overall, 1);
    assert.match(e.out, new RegExp(`\\| \\*\\*overall\\*\\* \\| ${20 * VQA_CATEGORIES.length} \\|.*\\| 1\\.000 \\|`));

    // An adapter is applied: a random LoRA adapter changes the answers.
    const m = loadModel(out);
    const adapterParams = addAdapter(m, 'r', { ...PAPER_LORA, r: 4, alpha: 8, targetModules: decoderTargets('gemma3') });
    const rng = new Rng(9);
    for (const p of adapterParams) for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * 0.5;
    saveAdapter(m, 'r', join(dir, 'peft'));
    const withAdapter = join(dir, 'vqa-adapter.json');
    const a = await capture([
      'eval',
      'vqa',
      '--model',
      out,
      '--adapter',
      join(dir, 'peft'),
      '--per-category',
      String(vqa.perCategory),
      '--out',
      withAdapter,
    ]);
    assert.equal(a.code, 0, a.err);
    const adapted = JSON.parse(readFileSync(withAdapter, 'utf8')) as { predictions: { prediction: string }[] };
    const base = json.predictions as { prediction: string }[];
    assert.ok(
      adapted.predictions.some((p, i) => p.prediction !== base[i]!.prediction),
      'the adapter did not change a single answer: it was loaded but not applied',
    );

    const noAdapter = await capture(['eval', 'vqa', '--model', out, '--adapter', dir]);
    assert.equal(noAdapter.code, 2);
    assert.match(noAdapter.err, /holds no adapter/);
    const noModel = await capture(['eval', 'vqa', '--model', join(dir, 'missing')]);
    assert.equal(noModel.code, 2);
    assert.match(noModel.err, /config\.json/);
    const badSteps = await capture(['pretrain', '--preset', 'tiny', '--out', join(dir, 'x'), '--steps', '0']);
    assert.equal(badSteps.code, 2);
    assert.match(badSteps.err, /--steps must be at least 1, got 0/);
    const badSeed = await capture(['pretrain', '--preset', 'tiny', '--out', join(dir, 'x'), '--seed', '-1']);
    assert.equal(badSeed.code, 2);
    assert.match(badSeed.err, /--seed must be at least 0, got -1/);
    const badBatch = await capture(['eval', 'vqa', '--model', out, '--batch-size', '0']);
    assert.equal(badBatch.code, 2);
    assert.match(badBatch.err, /--batch-size must be at least 1, got 0/);
    const badCount = await capture(['eval', 'vqa', '--model', out, '--per-category', '0']);
    assert.equal(badCount.code, 2);
    assert.match(badCount.err, /--per-category must be at least 1, got 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
