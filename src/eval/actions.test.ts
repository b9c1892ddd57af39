// `eval actions`: the metrics on hand-made cases (chunk error with unequal lengths, the zero-motion
// and mean-action baselines, a stage whose answers are all malformed), per-stage scores from a
// scripted back-end, 100% well-formed under the grammars from a random tiny model, the loss, the
// tokens style's action_tokens.json, and the CLI: the JSON report's shape and typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACTION_MARKERS, getCodec } from '../actions/index.ts';
import type { ActionElement } from '../actions/index.ts';
import { leastUsedTokens, saveActionTokens, stripMarkers } from '../actions/action-tokens.ts';
import { encodePng } from '../data/image.ts';
import { isVlmError } from '../errors/index.ts';
import { Gemma3Model, parseGemma3Config, saveModel } from '../models/index.ts';
import { CHUNK_FORMATS, getPrompt } from '../prompts/index.ts';
import type { PromptStage } from '../prompts/index.ts';
import { ScriptedBackend, tinyEngine } from '../policy/testing/fixtures.ts';
import { openSftDataset } from '../sft/dataset.ts';
import { initBackend } from '../tensor/index.ts';
import { Tokenizer, trainBpe } from '../tokenizer/index.ts';
import { capture } from '../cli/testing.ts';
import { corpusTexts } from '../corpus/index.ts';
import { recordsLoss } from '../train/sft-loss.ts';
import { chunkError, meanElement, scorePass, zeroChunk } from './action-metrics.ts';
import { evaluateActions, loadActionModel, openEvalSet, stageChecks } from './actions.ts';
import type { ActionEvalReport } from './actions.ts';

await initBackend();

const el = (dx: number, dy: number, dz: number, gripper: 0 | 1): ActionElement => ({ dx, dy, dz, droll: 0, dpitch: 0, dyaw: 0, gripper });
const list = getCodec('list');
const TASK = 'put the carrot in the pot';
const SUBTASK = 'pick up the carrot';

interface Spec {
  stage: PromptStage;
  answer: string;
  plan?: string;
}

/** The user text of a stage as `vlm2vla build` writes it. */
function userText(s: Spec, format: string): string {
  const vars: Record<string, Record<string, string>> = {
    subtasks: { task: TASK },
    plan: { task: TASK, subtask: SUBTASK },
    chunk: { task: TASK, subtask: SUBTASK, plan: s.plan ?? 'move down', format },
    act: { task: TASK, format },
    verify: { subtask: SUBTASK },
    direction: {},
  };
  return vars[s.stage] ? getPrompt(s.stage).render(vars[s.stage]!) : `Do the ${s.stage}.`;
}

/** A small SFT folder as `vlm2vla build` writes it: build_info.json, train/val JSONL, PNG frames. */
function writeDataset(dir: string, val: Spec[], train: Spec[], options: Record<string, unknown> = { actionStyle: 'list' }): string {
  mkdirSync(join(dir, 'images'), { recursive: true });
  for (let k = 0; k < 3; k++)
    writeFileSync(
      join(dir, 'images', `f${k}.png`),
      encodePng({ width: 16, height: 16, rgb: new Uint8Array(16 * 16 * 3).map((_, i) => (i * (k + 3)) % 256) }).bytes,
    );
  const format = CHUNK_FORMATS[String(options.actionStyle)] ?? CHUNK_FORMATS.list!;
  const line = (s: Spec, i: number) => {
    const images =
      s.stage === 'verify' || s.stage === 'direction'
        ? [`images/f${i % 3}.png`, `images/f${(i + 1) % 3}.png`]
        : s.stage === 'subtasks' || s.stage === 'plan' || s.stage === 'chunk' || s.stage === 'act'
          ? [`images/f${i % 3}.png`]
          : [];
    return JSON.stringify({
      images,
      messages: [
        { role: 'user', content: [...images.map(() => ({ type: 'image' })), { type: 'text', text: userText(s, format) }] },
        { role: 'assistant', content: [{ type: 'text', text: s.answer }] },
      ],
      meta: { stage: s.stage, episodeId: `ep-${i}` },
    });
  };
  writeFileSync(join(dir, 'val.jsonl'), val.map((s, i) => `${line(s, i)}\n`).join(''));
  writeFileSync(join(dir, 'train.jsonl'), train.map((s, i) => `${line(s, i)}\n`).join(''));
  writeFileSync(join(dir, 'build_info.json'), JSON.stringify({ schema: 'vlm2vla.sft/1', options }));
  return dir;
}

const VAL: Spec[] = [
  { stage: 'subtasks', answer: JSON.stringify([SUBTASK, 'put the carrot in the pot']) },
  { stage: 'plan', answer: 'move down and slightly forward' },
  { stage: 'chunk', answer: '[[1.0, 0.0, -2.0, 1], [0.0, 0.0, -1.0, 0]]' },
  { stage: 'verify', answer: 'yes' },
  { stage: 'direction', answer: 'left' },
  { stage: 'plan', answer: 'move up' },
  { stage: 'chunk', answer: '[[0.0, 3.0, 0.0, 0]]' },
  { stage: 'verify', answer: 'no' },
];
const TRAIN: Spec[] = [
  { stage: 'chunk', answer: '[[2.0, 0.0, -2.0, 1], [0.0, 2.0, 0.0, 1]]' },
  { stage: 'chunk', answer: '[[2.0, -2.0, 2.0, 0]]' },
  { stage: 'plan', answer: 'move forward' },
];

/** A tiny random gemma3 folder whose tokenizer is trained on `texts` and some corpus text. */
function writeTinyModel(dir: string, texts: string[]): string {
  const tok = trainBpe([...texts, ...corpusTexts(0, 100)], { vocabSize: 700 });
  const vocab = new Tokenizer({ tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig, source: 'test' }).vocabSize;
  const cfg = parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      vocab_size: vocab,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
      sliding_window: 64,
      max_position_embeddings: 4096,
    },
    vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, image_size: 16, patch_size: 4 },
    mm_tokens_per_image: 4,
    boi_token_index: 6,
    eoi_token_index: 7,
    image_token_index: 8,
  });
  mkdirSync(dir, { recursive: true });
  saveModel(Gemma3Model.random(cfg, { seed: 1, std: 0.3 }), dir);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  return dir;
}

const textsOf = (dir: string) =>
  ['train.jsonl', 'val.jsonl'].flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .trim()
      .split('\n')
      .flatMap((l) =>
        JSON.parse(l).messages.flatMap((m: { content: { text?: string }[] }) =>
          m.content.flatMap((p) => (p.text ? [stripMarkers(p.text)] : [])),
        ),
      ),
  );

test('chunk error: elements aligned by index, the shorter padded with zero motion that holds its gripper', () => {
  const pred = [el(1, 2, 3, 1)];
  const ref = [el(1, 2, 0, 1), el(3, 0, 0, 0)];
  // element 0: |0|+|0|+|3| / 3 = 1; element 1: zero motion (gripper held open) vs [3, 0, 0, closed]: 1.
  assert.deepEqual(chunkError(pred, ref), { elements: 2, errorCm: 2, gripperMatches: 1 });
  assert.deepEqual(chunkError(ref, pred), { elements: 2, errorCm: 2, gripperMatches: 1 });
  assert.deepEqual(chunkError(ref, ref), { elements: 2, errorCm: 0, gripperMatches: 2 });
  // A longer prediction pays for its extra motion.
  assert.deepEqual(chunkError([el(0, 0, -1.5, 0), el(6, -3, 0, 0)], [el(0, 0, 0, 0)]), {
    elements: 2,
    errorCm: 0.5 + 3,
    gripperMatches: 2,
  });
});

test('baselines: zero motion of the reference length; the mean element of the train chunks', () => {
  assert.deepEqual(zeroChunk(2), [el(0, 0, 0, 0), el(0, 0, 0, 0)]);
  const mean = meanElement([[el(2, 0, -2, 1), el(0, 2, 0, 1)], [el(2, -2, 2, 0)]]);
  assert.deepEqual(mean, { ...el(4 / 3, 0, 0, 1), count: 3 });
  assert.equal(meanElement([]), null);
  const check = stageChecks(list).chunk;
  const refs = ['[[1.0, 0.0, -2.0, 1], [0.0, 0.0, -1.0, 0]]'];
  const s = scorePass([{ text: '[[1.0, 0.0, -2.0, 1]]', cut: false }], refs, check, list, mean);
  // model: element 0 exact, element 1 zero motion vs [0, 0, -1]: 1/3 → 1/6 per element.
  assert.equal(s.actions!.scored, 1);
  assert.ok(Math.abs(s.actions!.errorCm! - 1 / 6) < 1e-12);
  assert.equal(s.actions!.gripperAgreement, 0.5);
  // zero motion: (1 + 2) / 3 and 1 / 3 → 2/3 per element.
  assert.ok(Math.abs(s.actions!.zeroErrorCm! - 2 / 3) < 1e-12);
  // mean [4/3, 0, 0] twice: (1/3 + 0 + 2) / 3 and (4/3 + 0 + 1) / 3 → (7/9 + 7/9) / 2.
  assert.ok(Math.abs(s.actions!.meanErrorCm! - 7 / 9) < 1e-12, String(s.actions!.meanErrorCm));
});

test('a stage whose answers are all malformed scores 0%; cut answers are never well formed', () => {
  const checks = stageChecks(list);
  const plan = scorePass(
    [
      { text: 'move sideways', cut: false },
      { text: 'Move up', cut: false },
    ],
    ['move up', 'move up'],
    checks.plan,
    list,
    null,
  );
  assert.deepEqual(plan, { wellFormed: 0, wellFormedRate: 0, exact: 0, exactRate: 0, cut: 0 });
  const chunk = scorePass(
    [
      { text: '[[1.0, 0.0]]', cut: false },
      { text: '[[1.0, 0.0, 0.0, 1]]', cut: true },
    ],
    ['[[1.0, 0.0, 0.0, 1]]', '[[1.0, 0.0, 0.0, 1]]'],
    checks.chunk,
    list,
    el(0, 0, 0, 0),
  );
  assert.deepEqual(chunk, {
    wellFormed: 0,
    wellFormedRate: 0,
    exact: 0,
    exactRate: 0,
    cut: 1,
    actions: { scored: 0, errorCm: null, gripperAgreement: null, zeroErrorCm: null, meanErrorCm: null },
  });
  const verify = scorePass(
    [
      { text: 'yes', cut: false },
      { text: 'yes', cut: false },
      { text: 'maybe', cut: false },
    ],
    ['yes', 'no', 'no'],
    checks.verify,
    list,
    null,
  );
  assert.deepEqual([verify.wellFormed, verify.exact], [2, 1]);
  assert.equal(checks.direction.wellFormed('none'), true);
  assert.equal(checks.direction.wellFormed('up'), false);
  assert.equal(checks.direction.grammar.matches('right'), true);
});

test('per stage, from a scripted back-end: two passes, exact match, action error, baselines, limit per stage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-eval-actions-'));
  try {
    writeDataset(dir, VAL, TRAIN);
    const backend = new ScriptedBackend({
      // each example is asked freely, then under the grammar
      subtasks: ['pick up the carrot', JSON.stringify([SUBTASK, 'put the carrot in the pot'])],
      plan: ['move sideways', 'move down', 'Move up!', 'move up and left'],
      chunk: ['[[1.0, 0.0, -2.0, 1], [0.0, 0.0, -1.0, 0]]', '[[1.0, 0.0, -2.0, 1]]', 'go left', '[[0.0, 3.0, 0.0, 0]]'],
      verify: ['yes', 'yes', 'yes', 'no'],
      direction: ['up', 'left'],
    });
    const set = openEvalSet(dir, 'val');
    assert.equal(set.examples.length, VAL.length);
    const r = await evaluateActions({ backend, loss: null }, set, { silent: true });
    const s = r.stages;
    assert.deepEqual(Object.keys(s), ['subtasks', 'plan', 'chunk', 'verify', 'direction']);
    assert.deepEqual(
      [s.subtasks!.free.wellFormedRate, s.subtasks!.constrained.wellFormedRate, s.subtasks!.constrained.exactRate],
      [0, 1, 1],
    );
    assert.deepEqual([s.plan!.free.wellFormedRate, s.plan!.constrained.wellFormedRate, s.plan!.constrained.exact], [0, 1, 0]);
    assert.deepEqual(
      [s.chunk!.free.wellFormed, s.chunk!.free.exact, s.chunk!.constrained.wellFormed, s.chunk!.constrained.exact],
      [1, 1, 2, 1],
    );
    assert.deepEqual([s.verify!.free.exactRate, s.verify!.constrained.exactRate], [0.5, 1]);
    assert.deepEqual([s.direction!.free.wellFormed, s.direction!.constrained.exact], [0, 1]);
    // free: the one well-formed chunk is exact; constrained: 1/6 cm per element over 2 + 0 over 1.
    assert.equal(s.chunk!.free.actions!.errorCm, 0);
    assert.ok(Math.abs(s.chunk!.constrained.actions!.errorCm! - 2 / 6 / 3) < 1e-12);
    // zero motion over the same three elements: (1 + 2) / 3 + 1 / 3 + 3 / 3, per element.
    assert.ok(Math.abs(s.chunk!.constrained.actions!.zeroErrorCm! - (1 + 1 / 3 + 1) / 3) < 1e-12);
    assert.deepEqual(s.chunk!.meanAction, { dx: 4 / 3, dy: 0, dz: 0, gripper: 1, elements: 3 });
    assert.equal(s.chunk!.valLoss, null);
    assert.equal(s.plan!.referencesWellFormed, 2);
    // Every request carried the stage's images and prompt; the second of each pair its grammar.
    assert.equal(backend.requests.length, 2 * VAL.length);
    assert.ok(backend.requests.every((q, i) => (q.grammar === null) === (i % 2 === 0)));
    assert.deepEqual(
      backend.requests.filter((q) => q.stage === 'verify').map((q) => q.images.length),
      [2, 2, 2, 2],
    );
    assert.equal(r.predictions[2]!.constrained, '[[1.0, 0.0, -2.0, 1]]');

    const limited = openEvalSet(dir, 'val', 1);
    assert.deepEqual(
      limited.examples.map((e) => e.stage),
      ['subtasks', 'plan', 'chunk', 'verify', 'direction'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a random tiny model: 100% well-formed under the grammars (budgets that fit each grammar), a finite loss', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-eval-actions-tiny-'));
  try {
    writeDataset(dir, VAL, TRAIN);
    const engine = tinyEngine(3);
    const set = openEvalSet(dir, 'val');
    const loss = recordsLoss({ model: engine.model, tokenizer: engine.tokenizer, template: engine.template }, set.dataset, 'val', null);
    const r = await evaluateActions({ backend: engine, loss }, set, { silent: true, maxNewTokens: { subtasks: 700, plan: 160 } });
    for (const stage of ['subtasks', 'plan', 'verify', 'direction', 'chunk'] as const) {
      assert.equal(
        r.stages[stage]!.constrained.wellFormedRate,
        1,
        `${stage}: ${r.predictions
          .filter((p) => p.stage === stage)
          .map((p) => p.constrained)
          .join(' | ')}`,
      );
      const loss = r.stages[stage]!.valLoss;
      assert.ok(loss !== null && Number.isFinite(loss) && loss > 0, `${stage}: ${loss}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vlm2vla eval actions: table and JSON report; typed errors for a bad stage, no val split, a missing dataset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cli-eval-actions-'));
  try {
    const data = writeDataset(join(dir, 'sft'), VAL, TRAIN);
    const model = writeTinyModel(join(dir, 'base'), textsOf(data));
    const out = join(dir, 'report.json');
    const r = await capture(['eval', 'actions', '--model', model, '--data', data, '--limit', '1', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /\| stage \| examples \| well-formed free \| well-formed constrained \| exact free \| exact constrained \| val loss \|/,
    );
    assert.match(r.out, /\| chunk \| constrained \| /);
    const json = JSON.parse(readFileSync(out, 'utf8')) as ActionEvalReport & { model: string; adapter: string | null };
    assert.deepEqual(
      [json.schema, json.model, json.adapter, json.split, json.actionStyle, json.limit, json.examples],
      ['vlm2vla.eval_actions/1', model, null, 'val', 'list', 1, 5],
    );
    assert.deepEqual(Object.keys(json.stages), ['subtasks', 'plan', 'chunk', 'verify', 'direction']);
    for (const s of Object.values(json.stages)) {
      assert.deepEqual(
        Object.keys(s.free).filter((k) => k !== 'actions'),
        ['wellFormed', 'wellFormedRate', 'exact', 'exactRate', 'cut'],
      );
      assert.ok(s.examples === 1 && typeof s.valLoss === 'number');
    }
    assert.deepEqual(Object.keys(json.stages.chunk!.constrained.actions!), [
      'scored',
      'errorCm',
      'gripperAgreement',
      'zeroErrorCm',
      'meanErrorCm',
    ]);
    assert.deepEqual(Object.keys(json.predictions[0]!), ['where', 'stage', 'reference', 'free', 'constrained']);

    const bad = writeDataset(join(dir, 'bad'), [...VAL.slice(0, 2), { stage: 'dance' as PromptStage, answer: 'yes' }], TRAIN);
    const e1 = await capture(['eval', 'actions', '--model', model, '--data', bad]);
    assert.equal(e1.code, 2);
    assert.match(e1.err, /E_SFT_RECORD: .*val\.jsonl:3: meta\.stage is "dance"/);
    const empty = writeDataset(join(dir, 'empty'), [], TRAIN);
    const e2 = await capture(['eval', 'actions', '--model', model, '--data', empty]);
    assert.equal(e2.code, 2);
    assert.match(e2.err, /E_EVAL_DATA: .*val\.jsonl holds no examples[\s\S]*--val-fraction/);
    const e3 = await capture(['eval', 'actions', '--model', model, '--data', join(dir, 'nope')]);
    assert.equal(e3.code, 2);
    assert.match(e3.err, /E_USAGE: .*nope does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tokens style: action_tokens.json is required and must match the dataset bins; chunks read as markers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-eval-actions-tokens-'));
  try {
    const low: [number, number, number] = [-3, -3, -3];
    const high: [number, number, number] = [3, 3, 3];
    const codec = getCodec('tokens', { tokens: { low, high, tokens: ACTION_MARKERS } });
    const chunk = (e: ActionElement[]) => ({ stage: 'chunk' as const, answer: codec.encode(e) });
    const data = writeDataset(
      join(dir, 'sft'),
      [chunk([el(1, 0, -2, 1)]), chunk([el(0, 2, 0, 0), el(1, 1, 1, 0)])],
      [chunk([el(2, 0, 0, 1)])],
      { actionStyle: 'tokens', tokens: { low, high, markers: '<a000>…<a255>' } },
    );
    const texts = textsOf(data);
    const model = writeTinyModel(join(dir, 'base'), texts);
    const dataset = openSftDataset(data);
    const code = (f: () => unknown) => {
      try {
        f();
        return null;
      } catch (e) {
        assert.ok(isVlmError(e), String(e));
        return e.code;
      }
    };
    assert.equal(
      code(() => loadActionModel(model, null, dataset)),
      'E_RUN_INFO',
    );
    const ids = leastUsedTokens(Tokenizer.fromDir(model), texts);
    saveActionTokens(model, { ids, low, high: [3, 3, 4] });
    assert.equal(
      code(() => loadActionModel(model, null, dataset)),
      'E_ACTION_TOKENS',
    );
    saveActionTokens(model, { ids, low, high });
    const m = loadActionModel(model, null, dataset);
    const r = await evaluateActions(
      { backend: m.backend, loss: recordsLoss(m.files, dataset, 'val', m.actionTokens) },
      openEvalSet(dataset, 'val'),
      { silent: true },
    );
    const s = r.stages.chunk!;
    assert.equal(r.actionStyle, 'tokens');
    assert.equal(s.referencesWellFormed, 2);
    assert.equal(s.constrained.wellFormedRate, 1, r.predictions.map((p) => p.constrained).join(' | '));
    for (const p of r.predictions) assert.match(p.constrained, /^(<a\d{3}>)+$/);
    assert.ok(s.constrained.actions!.scored === 2 && s.constrained.actions!.errorCm !== null);
    assert.ok(s.valLoss !== null && Number.isFinite(s.valLoss));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
