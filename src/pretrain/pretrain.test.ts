// The pretraining corpus as a training source: a warm-up phase at its start draws from its own mix,
// and the trainer reads such a source in order (shuffle off) so the warm-up really comes first; a run
// folder's recipe guards --resume against a changed preset; the base preset's tokenizer writes every
// action style without byte fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { DEFAULT_CORPUS_MIX, corpusConversation, corpusTexts } from '../corpus/corpus.ts';
import { denseLabels } from './vision-stage.ts';
import { CATALOGUE } from '../sim/catalogue.ts';
import { CorpusSource, PRETRAIN_PRESETS, actionCharacters, presetConfig, presetTokenizer, pretrain, recordRunRecipe } from './pretrain.ts';
import { getCodec } from '../actions/index.ts';
import { SafetensorsFile } from '../formats/index.ts';
import { initBackend } from '../tensor/index.ts';
import { isVlmError } from '../errors/index.ts';
import { TRAINER_DEFAULTS, train } from '../train/trainer.ts';
import type { ExampleSource } from '../train/trainer.ts';
import { tinyModel, tinyExamples } from '../train/testing/fixtures.ts';
import { evaluateVqaFolder } from '../eval/vqa.ts';

/** A tokenizer trained on a little corpus text, the chat template and the base preset's config. */
function baseEncoder() {
  const trained = trainBpe(corpusTexts(0, 300), { vocabSize: 600 });
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
  return { tokenizer, template, cfg: presetConfig(PRETRAIN_PRESETS.base!, tokenizer) };
}

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

test('image-token naming: a few image tokens of each scene, each showing an object, predict its name', () => {
  const { tokenizer, template, cfg } = baseEncoder();
  assert.equal(cfg.modelType, 'gemma3');
  if (cfg.modelType !== 'gemma3') return;
  const scenes = { ...DEFAULT_CORPUS_MIX, textShare: 0 };
  const plain = new CorpusSource({ tokenizer, template, cfg }, 0, 12, 0, scenes);
  const named = new CorpusSource({ tokenizer, template, cfg }, 0, 12, 0, scenes, undefined, 3);
  const names = named.nameTokens();
  // The name token is the last one of the object's name in a question.
  CATALOGUE.forEach((o, k) => assert.equal(tokenizer.encode(`Is there a ${o.names.en}`).at(-1), names[k], o.names.en));
  const grid = Math.round(Math.sqrt(cfg.mmTokensPerImage));
  let targets = 0;
  for (let i = 0; i < 12; i++) {
    const a = plain.at(i)!;
    const b = named.at(i)!;
    assert.deepEqual(b.ids, a.ids, 'the same conversation');
    assert.deepEqual(b.pixels, a.pixels, 'the same image');
    assert.equal(a.own, undefined);
    const own = b.own!;
    assert.ok(own.at.length >= 1 && own.at.length <= 3, `example ${i}: ${own.at.length} targets`);
    const first = b.ids.indexOf(cfg.imageTokenIndex);
    const scene = corpusConversation(0, i, scenes).scene!;
    const cells = denseLabels(scene, cfg.vision.imageSize, grid).labels;
    own.at.forEach((t, k) => {
      assert.equal(b.ids[t], cfg.imageTokenIndex, 'an image token');
      const cls = cells[t - first]!;
      assert.ok(cls < CATALOGUE.length, 'its cell shows an object');
      assert.equal(own.ids[k], names[cls]);
      assert.ok(scene.placements.some((p) => p.id === CATALOGUE[cls]!.id));
    });
    targets += own.at.length;
  }
  assert.ok(targets > 12, `${targets} targets`);
  assert.deepEqual(named.at(5)!.own, named.at(5)!.own, 'deterministic');
  assert.throws(
    () => new CorpusSource({ tokenizer, template, cfg }, 0, 1, 0, scenes, undefined, 1.5),
    (e: unknown) => isVlmError(e) && /naming cells/.test((e as Error).message),
  );
});

test('grounding attention: at the token before each answer whose question names objects, one head per named object targets the image tokens that show it', () => {
  const { tokenizer, template, cfg } = baseEncoder();
  if (cfg.modelType !== 'gemma3') throw new Error('base is a vision-language preset');
  const mix = { ...DEFAULT_CORPUS_MIX, textShare: 0.2, groundingShare: 0.5 };
  const plain = new CorpusSource({ tokenizer, template, cfg }, 0, 60, 0, mix);
  const src = new CorpusSource({ tokenizer, template, cfg }, 0, 60, 0, mix, undefined, 0, [0, 2]);
  const grid = Math.round(Math.sqrt(cfg.mmTokensPerImage));
  let pairs = 0;
  let groups = 0;
  for (let i = 0; i < 60; i++) {
    const a = plain.at(i)!;
    const b = src.at(i)!;
    assert.deepEqual(b.ids, a.ids, 'the same conversation');
    assert.deepEqual(b.pixels, a.pixels, 'the same image');
    const conv = corpusConversation(0, i, mix);
    if (!conv.scene) {
      assert.equal(b.attend, undefined, 'text conversations have no targets');
      continue;
    }
    const cells = denseLabels(conv.scene, cfg.vision.imageSize, grid).labels;
    const first = b.ids.indexOf(cfg.imageTokenIndex);
    // Where each answer starts, from the mask; which questions name objects, from the conversation.
    const answerStarts: number[] = [];
    for (let t = 1; t < b.mask.length; t++) if (b.mask[t] && !b.mask[t - 1]) answerStarts.push(t);
    assert.equal(answerStarts.length, conv.qa.length);
    const want: { query: number; head: number; cls: number }[] = [];
    conv.qa.forEach((q, k) =>
      (q.refs ?? []).slice(0, 2).forEach((ref, r) => {
        const cls = CATALOGUE.findIndex((o) => o.id === conv.scene!.placements[ref]!.id);
        if (cells.includes(cls)) want.push({ query: answerStarts[k]! - 1, head: r === 0 ? 0 : 2, cls });
      }),
    );
    const at = b.attend;
    if (want.length === 0) {
      assert.equal(at, undefined);
      continue;
    }
    assert.ok(at);
    assert.deepEqual(
      [...at.keys],
      Array.from({ length: cfg.mmTokensPerImage }, (_, c) => first + c),
      'the candidates are the image tokens',
    );
    assert.deepEqual(
      [...at.queries],
      want.map((w) => w.query),
    );
    assert.deepEqual(
      [...at.heads],
      want.map((w) => w.head),
    );
    want.forEach((w, g) => {
      const got = [...at.targets.subarray(at.start[g]!, at.start[g + 1]!)];
      const shows = [...cells.keys()].filter((c) => cells[c] === w.cls);
      assert.deepEqual(got, shows, `example ${i} group ${g}: every cell showing the object, nothing else`);
      assert.equal(b.mask[w.query], 0, 'the query is the last prompt token');
      assert.equal(b.mask[w.query + 1], 1, 'the answer follows it');
    });
    groups += want.length;
    pairs += want.filter((w) => w.head === 2).length;
  }
  assert.ok(groups > 60 && pairs > 10, `${groups} targets, ${pairs} of them second objects`);
});

test('grounding attention on heads the model does not have is refused before training', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ga-'));
  try {
    const preset = { ...PRETRAIN_PRESETS.tiny!, groundingAttention: { layer: 1, heads: [0, 2] as [number, number], weight: 1 } };
    await assert.rejects(
      pretrain({ preset, out: join(dir, 'm'), vqaEvaluator: evaluateVqaFolder, steps: 2, silent: true, log: () => {} }),
      (e: unknown) =>
        isVlmError(e) && /groundingAttention: heads 0, 2 must be among the model's 2 attention heads/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shuffle: false reads the training source in order, epoch after epoch', async () => {
  const data = tinyExamples(6);
  const seen: number[] = [];
  const source: ExampleSource = { length: data.length, at: (i) => (seen.push(i), data[i]) };
  const model = tinyModel();
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-order-'));
  try {
    await train({
      model,
      params: model.setTrainable(true),
      train: source,
      val: [],
      outDir: dir,
      silent: true,
      config: {
        ...TRAINER_DEFAULTS,
        steps: 4,
        batchSize: 3,
        evalEvery: 0,
        schedule: { kind: 'constant', lr: 1e-3, warmupSteps: 0 },
        shuffle: false,
      },
    });
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
      assert.throws(
        () => recordRunRecipe(dir, recipe),
        (e: unknown) => isVlmError(e) && re.test((e as Error).message),
        re.source,
      );
    refused(
      { preset: { ...preset, config: { ...preset.config, mm_tokens_per_image: 16 } }, seed: 0, steps: 300 },
      /preset\.config\.mm_tokens_per_image was 4, now 16/,
    );
    refused({ preset: { ...preset, mix: { ...DEFAULT_CORPUS_MIX, captionShare: 0.3 } }, seed: 0, steps: 300 }, /preset\.mix was undefined/);
    refused({ preset, seed: 1, steps: 300 }, /seed was 0, now 1/);
    refused({ preset, seed: 0, steps: 301 }, /steps was 300, now 301/);
    writeFileSync(join(dir, 'recipe.json'), '{"preset": ');
    assert.throws(
      () => recordRunRecipe(dir, { preset, seed: 0, steps: 300 }),
      (e: unknown) => isVlmError(e) && e.code === 'E_RUN_RECIPE' && e.file === join(dir, 'recipe.json'),
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("with freezeTower the language stage keeps the vision stage's tower bit-identical, and trains the projector and decoder", async () => {
  await initBackend(); // the native kernels when built, as the CLI uses them
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-freeze-'));
  try {
    const preset = {
      ...PRETRAIN_PRESETS.tiny!,
      vision: { steps: 4, batchSize: 4, lr: 3e-3, positions: true },
      freezeTower: true,
      vqaPerCategory: 1,
      tokenizerConversations: 300,
    };
    await pretrain({ preset, out: join(dir, 'model'), vqaEvaluator: evaluateVqaFolder, steps: 6, silent: true, log: () => {} });
    const vision = SafetensorsFile.open(join(dir, 'model.run', 'vision', 'checkpoints', 'step-00000004', 'trainable.safetensors'));
    const saved = SafetensorsFile.open(join(dir, 'model', 'model.safetensors'));
    let tower = 0;
    let projector = 0;
    for (const name of vision.tensors.keys()) {
      if (name.startsWith('dense_')) continue;
      const same = (vision.readTensor(name) as Float32Array).every((v, i) => Object.is(v, (saved.readTensor(name) as Float32Array)[i]));
      if (name.startsWith('vision_tower.')) {
        assert.ok(same, `${name} is frozen`);
        tower++;
      } else {
        assert.ok(!same, `${name} trains`);
        projector++;
      }
    }
    assert.ok(tower > 5 && projector >= 1, `${tower} tower and ${projector} projector tensors compared`);
    // The language checkpoints hold only what trains.
    const last = SafetensorsFile.open(join(dir, 'model.run', 'checkpoints', 'step-00000006', 'trainable.safetensors'));
    assert.ok([...last.tensors.keys()].every((n) => !n.startsWith('vision_tower.')));
    assert.ok([...last.tensors.keys()].some((n) => n.startsWith('multi_modal_projector.')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the base preset's tokenizer: every action style and subtask list without byte fallback, 256 bins at most 5% of it", () => {
  const trained = presetTokenizer(PRETRAIN_PRESETS.base!, 0);
  const tok = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'base preset' });
  assert.ok(tok.vocabSize >= 5120 && 256 / tok.vocabSize <= 0.05, `vocabulary ${tok.vocabSize}`);
  const chunk = [
    { dx: 4.2, dy: 0, dz: -1.5, droll: 12.5, dpitch: -3, dyaw: 0, gripper: 1 as const },
    { dx: -0.3, dy: 7.9, dz: 3, droll: 0, dpitch: 0, dyaw: 6.1, gripper: 0 as const },
  ];
  const texts = [
    ...['list', 'rot', 'phrase'].map((s) => getCodec(s).encode(chunk)),
    JSON.stringify(['pick up a cup', 'put a cup in a bowl']),
    'move down and slightly forward, then far left',
  ];
  for (const text of texts) {
    const pieces = tok.encode(text).map((id) => tok.idToToken(id)!);
    assert.ok(!pieces.some((p) => /^<0x[0-9A-F]{2}>$/.test(p)), `${text}: ${pieces.join(' ')}`);
    assert.equal(tok.decode(tok.encode(text)), text);
  }
  for (const ch of '[]",.-;0123456789') assert.ok(actionCharacters().includes(ch), ch);
  // The tiny preset gets the action characters too, without padding.
  const tiny = new Tokenizer({ ...presetTokenizer(PRETRAIN_PRESETS.tiny!, 0), source: 'tiny preset' });
  assert.ok(tiny.vocabSize <= PRETRAIN_PRESETS.tiny!.vocabSize);
  for (const ch of '[]"') assert.notEqual(tiny.tokenToId(ch), null, ch);
});
