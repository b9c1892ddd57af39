// The embedded back-end on a real (random, tiny) model: KV prefix reuse changes nothing but the work
// done, and every stage decoded under its grammar is well formed — even from a model that never
// learned the format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCodec } from '../actions/index.ts';
import { CHUNK_FORMATS } from '../prompts/index.ts';
import { GREEDY } from '../decode/index.ts';
import { Rollout, render, sampleTask } from '../sim/index.ts';
import { Rng } from '../util/index.ts';
import { initBackend } from '../tensor/index.ts';
import { HIERARCHICAL_DEFAULTS, HierarchicalPolicy, PAPER_SAMPLING } from './hierarchical.ts';
import { PLAN_GRAMMAR, SUBTASKS_GRAMMAR } from './grammars.ts';
import { ModelVerifier } from './verifiers.ts';
import { tinyEngine } from './testing/fixtures.ts';

await initBackend();

test('prefix reuse: the same greedy answers as a fresh prefill, with the shared prompt taken from the cache', async () => {
  const engine = tinyEngine(1);
  const world = new Rollout(sampleTask('pick', new Rng(2))).world;
  const a = render(world, 64, 64);
  const b = render(new Rollout(sampleTask('pick', new Rng(3))).world, 64, 64);
  const reqs = [
    {
      stage: 'plan',
      images: [a],
      text: 'Task: pick up the block\nCurrent subtask: pick up the block\nDescribe how the gripper should move next.',
    },
    {
      stage: 'chunk',
      images: [a],
      text: 'Task: pick up the block\nCurrent subtask: pick up the block\nMotion plan: move down\nGive the next actions.',
    },
    { stage: 'verify', images: [a, b], text: 'Is the subtask complete? Answer yes or no.' },
    {
      stage: 'plan',
      images: [b],
      text: 'Task: pick up the block\nCurrent subtask: pick up the block\nDescribe how the gripper should move next.',
    },
  ];
  const run = async (reuse: boolean) => {
    engine.reusePrefix = reuse;
    engine.reset();
    const outs = [];
    for (const r of reqs) outs.push(await engine.generate({ ...r, grammar: null, sampling: GREEDY, maxNewTokens: 12, seed: 0 }));
    return outs;
  };
  const fresh = await run(false);
  const reused = await run(true);
  assert.deepEqual(
    reused.map((o) => o.text),
    fresh.map((o) => o.text),
  );
  assert.ok(fresh.every((o) => o.reusedTokens === 0));
  // The chunk prompt shares the frame and the task with the plan prompt; the verify prompt shares
  // the first frame; the next plan (another frame) shares only what comes before its image.
  const ids = reqs.map((r) => engine.promptIds(r));
  const lcp = (x: number[], y: number[]) => {
    let n = 0;
    while (n < x.length && n < y.length && x[n] === y[n]) n++;
    return n;
  };
  const imageToken = engine.model.cfg.modelType === 'gemma3' ? engine.model.cfg.imageTokenIndex : -1;
  assert.deepEqual(
    reused.map((o) => o.reusedTokens),
    [0, lcp(ids[0]!, ids[1]!), lcp(ids[1]!, ids[2]!), ids[3]!.indexOf(imageToken)],
  );
  assert.ok(reused[1]!.reusedTokens > ids[1]!.lastIndexOf(imageToken));
});

test('under the grammars a random model writes well-formed subtasks, plans and chunks every time', async () => {
  const engine = tinyEngine(2);
  const policy = new HierarchicalPolicy({
    ...HIERARCHICAL_DEFAULTS,
    backend: engine,
    codec: getCodec('list'),
    formatHint: CHUNK_FORMATS.list!,
    verifier: new ModelVerifier(engine, 'model', GREEDY),
    sampling: PAPER_SAMPLING,
    seed: 0,
  });
  const task = sampleTask('pick-place', new Rng(4));
  const rollout = new Rollout(task);
  let malformed = 0;
  for (let cycle = 0; cycle < 6; cycle++) {
    const out = await policy.infer({ image: render(rollout.world, 64, 64), state: rollout.world.state(), instruction: task.instruction });
    malformed += out.malformed ?? 0;
    if (out.text?.subtasks) for (const s of out.text.subtasks) assert.ok(SUBTASKS_GRAMMAR.matches(JSON.stringify([s])));
    if (out.text?.plan) assert.ok(PLAN_GRAMMAR.matches(out.text.plan), out.text.plan);
    if (out.text?.chunk) assert.ok(getCodec('list').decode(out.text.chunk).ok, out.text.chunk);
    if (cycle > 0) assert.ok(out.text?.verify === 'yes' || out.text?.verify === 'no' || out.done);
    for (const a of out.actions) rollout.step(a);
    if (out.done) break;
  }
  // Only a generation cut at the token limit can be malformed under a grammar.
  assert.ok(malformed <= 2, String(malformed));
});

test('free decoding never writes the image placeholder, even when the model prefers it', async () => {
  const engine = tinyEngine(2);
  const cfg = engine.model.cfg;
  assert.equal(cfg.modelType, 'gemma3');
  const image = cfg.modelType === 'gemma3' ? cfg.imageTokenIndex : -1;
  // Tied embeddings: a long row for the image token makes it the top logit at most positions.
  const embed = engine.model.params.get('language_model.model.embed_tokens.weight') as unknown as { data: Float32Array; shape: number[] };
  const width = embed.shape[1]!;
  const prefers = () => {
    for (let j = 0; j < width; j++) embed.data[image * width + j] = 50 * Math.sign(embed.data[image * width + j]! || 1);
  };
  prefers();
  const world = new Rollout(sampleTask('pick', new Rng(4))).world;
  const out = await engine.generate({
    stage: 'plan',
    images: [render(world, 64, 64)],
    text: 'Describe how the gripper should move next.',
    grammar: null,
    sampling: GREEDY,
    maxNewTokens: 12,
    seed: 0,
  });
  assert.equal(out.constrained, false);
  assert.ok(out.newTokens > 0);
  assert.ok(!out.text.includes(engine.tokenizer.idToToken(image)!), out.text);
});
