// Tests of generate(): cached greedy decoding equals greedy by full recomputation; a batch with
// different prompt lengths (left padding) and images equals each prompt alone; eos ids, stop strings
// split across tokens, the logits-processor hook, and seeded sampling; generateYielding() gives the
// event loop turns and returns exactly what generate() does, and stops when its signal is aborted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../tensor/index.ts';
import { isVlmError } from '../errors/index.ts';
import { Gemma3Model } from '../models/gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../models/gemma3/testing.ts';
import { argmax } from './sampling.ts';
import { generate, generateYielding } from './generate.ts';

const cfg = tinyGemma3Config({ text_config: { sliding_window: 5 } });
const model = new Gemma3Model(cfg, randomParams(cfg, 21, 0.5));
const I = cfg.imageTokenIndex;
const pixels = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.7));

function greedyByRecompute(prompt: number[], n: number, px: Float32Array | null): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = noGrad(() => model.forward({ ids: Int32Array.from(seq), batch: 1, length: seq.length, pixels: px }));
    const V = cfg.text.vocabSize;
    const id = argmax(logits.data.subarray((seq.length - 1) * V, seq.length * V));
    out.push(id);
    seq.push(id);
  }
  return out;
}

test('cached greedy generation equals greedy by full recomputation (past the sliding window)', () => {
  const prompt = [2, 61, I, I, I, I, 62, 7, 8];
  const want = greedyByRecompute(prompt, 12, pixels);
  const [g] = generate(model, [{ ids: prompt, pixels }], { maxNewTokens: 12, eosIds: [] });
  assert.deepEqual(g!.tokens, want);
  assert.equal(g!.finishReason, 'length');
});

test('a batch with different lengths and an image equals each prompt alone', () => {
  const prompts = [
    [2, 5, 6],
    [2, 61, I, I, I, I, 62, 9, 10, 11],
    [2, 40],
  ];
  const batch = generate(
    model,
    prompts.map((ids, i) => ({ ids, pixels: i === 1 ? pixels : null })),
    { maxNewTokens: 8, eosIds: [] },
  );
  prompts.forEach((ids, i) => {
    const [alone] = generate(model, [{ ids, pixels: i === 1 ? pixels : null }], { maxNewTokens: 8, eosIds: [] });
    assert.deepEqual(batch[i]!.tokens, alone!.tokens, `row ${i}`);
  });
});

test('eos ends a row; stop strings split across tokens cut the text; the processor constrains', () => {
  const prompt = [2, 5, 6];
  const [free] = generate(model, [{ ids: prompt }], { maxNewTokens: 6, eosIds: [] });
  const eosId = free!.tokens[2]!;
  const [e] = generate(model, [{ ids: prompt }], { maxNewTokens: 6, eosIds: [eosId] });
  assert.equal(e!.finishReason, 'eos');
  assert.deepEqual(e!.tokens, free!.tokens.slice(0, free!.tokens.indexOf(eosId)));
  const detokenize = (ids: readonly number[]) => ids.map((i) => `t${i}.`).join('');
  const full = detokenize(free!.tokens);
  // A stop string spanning the end of token 1 and the start of token 2.
  const t1 = `t${free!.tokens[1]}.`;
  const stop = `${t1.slice(-2)}t${free!.tokens[2]}`;
  const [s] = generate(model, [{ ids: prompt }], { maxNewTokens: 6, eosIds: [], stop: [stop], detokenize });
  assert.equal(s!.finishReason, 'stop');
  assert.equal(s!.text, full.slice(0, full.indexOf(stop)));
  const allowed = new Set([10, 11, 12]);
  const seen: number[] = [];
  const [c] = generate(model, [{ ids: prompt }], {
    maxNewTokens: 5,
    eosIds: [],
    logitsProcessor: (_row, logits) =>
      logits.forEach((_, i) => {
        if (!allowed.has(i)) logits[i] = -Infinity;
      }),
    onToken: (_row, id) => seen.push(id),
  });
  assert.ok(c!.tokens.every((id) => allowed.has(id)));
  assert.deepEqual(seen, c!.tokens);
});

test('sampling is reproducible by seed and differs across seeds', () => {
  const opts = { maxNewTokens: 10, eosIds: [], sampling: { temperature: 1.5, topP: 0.95, topK: 0 } };
  const a = generate(model, [{ ids: [2, 5] }], { ...opts, seed: 1 })[0]!.tokens;
  const b = generate(model, [{ ids: [2, 5] }], { ...opts, seed: 1 })[0]!.tokens;
  const c = generate(model, [{ ids: [2, 5] }], { ...opts, seed: 2 })[0]!.tokens;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('bad generation requests are usage errors', () => {
  const bad = (opts: Parameters<typeof generate>[2], ids: number[] = [2, 5]) =>
    assert.throws(
      () => generate(model, [{ ids }], opts),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE',
    );
  bad({ maxNewTokens: 0 });
  bad({ maxNewTokens: 2 }, []);
  bad({ maxNewTokens: 2, stop: ['x'] });
  bad({ maxNewTokens: 600 });
  bad({ maxNewTokens: 2, sampling: { temperature: -1, topP: 1, topK: 0 } });
  bad({ maxNewTokens: 2, logitsProcessor: (_r, logits) => logits.fill(-Infinity) });
});

test('generateYielding gives the event loop a turn every few tokens and returns exactly what generate returns', async () => {
  const detokenize = (ids: readonly number[]) => ids.map((i) => `t${i}.`).join('');
  const requests = [{ ids: [2, 5, 6] }, { ids: [2, 61, I, I, I, I, 62, 9, 10, 11], pixels }, { ids: [2, 40] }];
  const noImage = (_row: number, logits: Float32Array) => void (logits[I] = -Infinity);
  const sampled = { maxNewTokens: 12, sampling: { temperature: 1.2, topP: 0.9, topK: 0 }, seed: 5, detokenize, logitsProcessor: noImage };
  const free = generate(model, requests, { ...sampled, eosIds: [] });
  const eosIds = [free[0]!.tokens[4]!];
  const withEos = generate(model, requests, { ...sampled, eosIds });
  const open = withEos.find((g) => g.finishReason === 'length')!;
  const options = { ...sampled, eosIds, stop: [`t${open.tokens[6]}.`] };
  const want = generate(model, requests, options);
  assert.deepEqual(
    new Set(want.map((g) => g.finishReason)),
    new Set(['eos', 'stop', 'length']),
    'rows end by eos, by a stop string and at the limit',
  );
  for (const every of [{ tokens: 1 }, { tokens: 3, ms: 60_000 }, { ms: 0 }, {}]) {
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const got = await generateYielding(model, requests, options, every);
    ticking = false;
    assert.deepEqual(got, want, JSON.stringify(every));
    if (every.tokens === 1 || every.ms === 0)
      assert.ok(turns >= want.reduce((n, g) => Math.max(n, g.tokens.length), 0) - 2, `a turn after each step (${turns})`);
  }
  const order: string[] = [];
  const generation = generateYielding(model, [{ ids: [2, 5] }], { maxNewTokens: 16, eosIds: [] }, { tokens: 4, ms: 60_000 }).then(([g]) => {
    assert.equal(g!.tokens.length, 16);
    order.push('generation');
  });
  await Promise.all([generation, new Promise<void>((resolve) => setImmediate(() => resolve(void order.push('another callback'))))]);
  assert.deepEqual(order, ['another callback', 'generation'], 'another callback ran during the generation');
});

test('generateYielding stops at a turn once its signal is aborted; bad yield settings are usage errors', async () => {
  const ac = new AbortController();
  let steps = 0;
  const run = generateYielding(
    model,
    [{ ids: [2, 5] }],
    { maxNewTokens: 40, eosIds: [], onToken: () => void (++steps === 3 && ac.abort(new Error('the client left'))) },
    { tokens: 1, signal: ac.signal },
  );
  await assert.rejects(run, /the client left/);
  assert.ok(steps <= 4, `stopped at the next turn (${steps} steps)`);
  for (const every of [{ tokens: 0 }, { tokens: 1.5 }, { ms: -1 }]) {
    await assert.rejects(
      generateYielding(model, [{ ids: [2, 5] }], { maxNewTokens: 2 }, every),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE',
    );
  }
});
