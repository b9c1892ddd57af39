// VQA evaluation: prompts with the model's image tokens, and a full evaluation of a random tiny model
// (which must score near zero). The scoring itself is tested in src/corpus/vqa-score.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { Gemma3Model } from '../models/index.ts';
import { tinyTextConfig } from '../models/gemma3/testing.ts';
import { isVlmError } from '../errors/index.ts';
import { corpusTexts, heldOutVqa } from '../corpus/corpus.ts';
import { VQA_CATEGORIES } from '../corpus/conversation.ts';
import { PRETRAIN_PRESETS, presetConfig } from '../pretrain/pretrain.ts';
import { evaluateVqa, vqaPrompt } from './vqa.ts';
import { vqaTable } from '../corpus/vqa-score.ts';

test("prompts carry the image as the model's image tokens; a random model scores about nothing", () => {
  const trained = trainBpe(corpusTexts(0, 300), { vocabSize: 500 });
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
  const cfg = presetConfig(PRETRAIN_PRESETS.tiny!, tokenizer);
  const model = Gemma3Model.random(cfg, { seed: 0 });
  const m = { model, tokenizer, template };
  const items = heldOutVqa(5, 1);
  const withImage = vqaPrompt(
    m,
    items.find((x) => x.scene)!,
  );
  const imageId = tokenizer.tokenToId('<image_soft_token>')!;
  assert.equal(withImage.ids.filter((i) => i === imageId).length, cfg.modelType === 'gemma3' ? cfg.mmTokensPerImage : -1);
  assert.ok(withImage.pixels && withImage.pixels.length === 3 * 32 * 32);
  const textOnly = vqaPrompt(
    m,
    items.find((x) => !x.scene)!,
  );
  assert.equal(textOnly.pixels, null);
  assert.ok(!textOnly.ids.includes(imageId));
  assert.equal(textOnly.ids.at(-1), tokenizer.encode('\n').at(-1));
  // A text-only model cannot answer image questions: a usage error, not a crash.
  const textModel = Gemma3Model.random(tinyTextConfig({ vocab_size: tokenizer.vocabSize }), { seed: 0 });
  assert.throws(
    () =>
      vqaPrompt(
        { model: textModel, tokenizer, template },
        items.find((x) => x.scene)!,
      ),
    (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /text-only/.test(e.message),
  );
  const report = evaluateVqa(m, { perCategory: 3, maxNewTokens: 6, silent: true });
  assert.equal(report.predictions.length, 3 * VQA_CATEGORIES.length);
  const some = evaluateVqa(m, { perCategory: 2, maxNewTokens: 4, categories: ['spatial', 'json'], silent: true });
  assert.deepEqual(
    some.predictions.map((p) => p.question),
    heldOutVqa(2026, 2, ['spatial', 'json']).map((x) => x.question),
  );
  assert.equal(some.categories.colour.total, 0);
  assert.doesNotMatch(vqaTable(some), /\| colour \|/);
  assert.throws(
    () => evaluateVqa(m, { categories: ['colours' as 'colour'], silent: true }),
    (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /unknown VQA category "colours"/.test(e.message),
  );
  for (const perCategory of [1e9, 0, 2.5])
    assert.throws(
      () => evaluateVqa(m, { perCategory, silent: true }),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /1…10000/.test(e.message),
      String(perCategory),
    );
  assert.ok(report.overall < 0.3, `a random model scored ${report.overall}`);
});
