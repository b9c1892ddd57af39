// The committed base model (models/base) against its own card: the file layout and size limit, and the
// held-out VQA accuracy per category recomputed now, which must match vqa.json and the README.md table
// (greedy decoding is deterministic; a different thread count may reorder float sums, so a category
// may move by a question or two). Only the categories on the card are asked: a category added to the
// held-out set after the model was trained is not part of its card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../tensor/index.ts';
import { VQA_CATEGORIES } from '../corpus/conversation.ts';
import { evaluateVqa, loadVqaModel } from './vqa.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'base');

test("models/base: layout, size, and the card's held-out VQA numbers", async () => {
  await initBackend();
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'vqa.json'])
    assert.ok(existsSync(join(dir, f)), `models/base/${f} is missing`);
  const bytes = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
  assert.ok(bytes <= 25 * 1024 * 1024, `models/base is ${(bytes / 2 ** 20).toFixed(1)} MB, the limit is 25 MB`);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type, 'gemma3');
  const card = readFileSync(join(dir, 'README.md'), 'utf8');
  assert.match(card, /vlm2vla pretrain --preset base --out models\/base/);
  const saved = JSON.parse(readFileSync(join(dir, 'vqa.json'), 'utf8')) as {
    seed: number;
    perCategory: number;
    overall: number;
    categories: Record<string, { accuracy: number }>;
  };
  const onCard = VQA_CATEGORIES.filter((c) => saved.categories[c] !== undefined);
  assert.deepEqual(onCard, Object.keys(saved.categories), 'vqa.json names a category the held-out set does not have');
  const report = evaluateVqa(loadVqaModel(dir), { seed: saved.seed, perCategory: saved.perCategory, categories: onCard, silent: true });
  for (const c of onCard) {
    const want = saved.categories[c]!.accuracy;
    assert.ok(Math.abs(report.categories[c].accuracy - want) <= 0.02, `${c}: ${report.categories[c].accuracy} now, ${want} on the card`);
    assert.ok(
      card.includes(`| ${c} | ${saved.perCategory} | ${(want * 100).toFixed(1)}% |`),
      `the card's ${c} row does not show vqa.json's ${want}`,
    );
  }
  assert.ok(Math.abs(report.overall - saved.overall) <= 0.01, `overall ${report.overall} now, ${saved.overall} on the card`);
});
