// The pretraining corpus as a training source: a warm-up phase at its start draws from its own mix,
// and the trainer reads such a source in order (shuffle off) so the warm-up really comes first; a run
// folder's recipe guards --resume against a changed preset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { DEFAULT_CORPUS_MIX, corpusTexts } from './corpus.ts';
import { CorpusSource, PRETRAIN_PRESETS, presetConfig, recordRunRecipe } from './pretrain.ts';
import { isVlmError } from '../errors/index.ts';
import { TRAINER_DEFAULTS, train } from './trainer.ts';
import type { ExampleSource } from './trainer.ts';
import { tinyModel, tinyExamples } from './testing/fixtures.ts';

test('a corpus source with a warm-up phase: the first examples come from the warm-up mix', () => {
  const trained = trainBpe(corpusTexts(0, 200), { vocabSize: 500 });
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
  const cfg = presetConfig(PRETRAIN_PRESETS.tiny!, tokenizer);
  const textOnly = { ...DEFAULT_CORPUS_MIX, textShare: 1 };
  const scenes = { ...DEFAULT_CORPUS_MIX, textShare: 0 };
  const src = new CorpusSource({ tokenizer, template, cfg }, 0, 40, 0, scenes, { count: 10, mix: textOnly });
  for (let i = 0; i < 40; i++) assert.equal(src.at(i)!.pixels === null, i < 10, `example ${i}`);
  assert.equal(src.at(40), undefined);
});

test('shuffle: false reads the training source in order, epoch after epoch', async () => {
  const data = tinyExamples(6);
  const seen: number[] = [];
  const source: ExampleSource = { length: data.length, at: (i) => (seen.push(i), data[i]) };
  const model = tinyModel();
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-order-'));
  try {
    await train({ model, params: model.setTrainable(true), train: source, val: [], outDir: dir, silent: true, config: { ...TRAINER_DEFAULTS, steps: 4, batchSize: 3, evalEvery: 0, schedule: { kind: 'constant', lr: 1e-3, warmupSteps: 0 }, shuffle: false } });
  } finally {
    rmSync(dir, { recursive: true });
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
});

test('a run folder records its recipe; resuming with another preset, seed or step count is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-recipe-'));
  try {
    const preset = PRETRAIN_PRESETS.tiny!;
    recordRunRecipe(dir, { preset, seed: 0, steps: 300 });
    recordRunRecipe(dir, { preset: { ...preset }, seed: 0, steps: 300 }); // the same recipe resumes
    const refused = (recipe: Parameters<typeof recordRunRecipe>[1], re: RegExp) =>
      assert.throws(() => recordRunRecipe(dir, recipe), (e: unknown) => isVlmError(e) && re.test((e as Error).message), re.source);
    refused({ preset: { ...preset, config: { ...preset.config, mm_tokens_per_image: 16 } }, seed: 0, steps: 300 }, /preset\.config\.mm_tokens_per_image was 4, now 16/);
    refused({ preset: { ...preset, mix: { ...DEFAULT_CORPUS_MIX, captionShare: 0.3 } }, seed: 0, steps: 300 }, /preset\.mix was undefined/);
    refused({ preset, seed: 1, steps: 300 }, /seed was 0, now 1/);
    refused({ preset, seed: 0, steps: 301 }, /steps was 300, now 301/);
    writeFileSync(join(dir, 'recipe.json'), '{"preset": ');
    assert.throws(() => recordRunRecipe(dir, { preset, seed: 0, steps: 300 }), (e: unknown) => isVlmError(e) && e.code === 'E_RUN_RECIPE' && e.file === join(dir, 'recipe.json'));
  } finally {
    rmSync(dir, { recursive: true });
  }
});
