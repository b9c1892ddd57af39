// Tests of the attention-target loss (attend.ts) and of training with it (objective.ts): its value against a
// float64 softmax written out here, its gradient against finite differences, typed errors for bad
// targets, and, in the trainer, that the targeted head learns to look where it is told while a weight
// of 0 changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, backward, noGrad } from '../tensor/index.ts';
import { isVlmError } from '../errors/index.ts';
import { Rng } from '../util/index.ts';
import { attentionTargetLoss } from './attend.ts';
import type { AttendTargets } from './attend.ts';
import { TRAINER_DEFAULTS, makeBatch, train } from '../train/trainer.ts';
import type { TrainerConfig } from '../train/trainer.ts';
import { tinyExamples, tinyModel } from '../train/testing/fixtures.ts';
import { groundingObjective } from './objective.ts';
import type { GroundingExample } from './objective.ts';

const B = 2,
  T = 7,
  Hq = 4,
  Hkv = 2,
  Dh = 3;

function randomQK(seed: number): { q: Tensor; k: Tensor } {
  const rng = new Rng(seed);
  const q = new Tensor(
    [B, T, Hq, Dh],
    Float32Array.from({ length: B * T * Hq * Dh }, () => rng.normal()),
    { requiresGrad: true },
  );
  const k = new Tensor(
    [B, T, Hkv, Dh],
    Float32Array.from({ length: B * T * Hkv * Dh }, () => rng.normal()),
    { requiresGrad: true },
  );
  return { q, k };
}

/** Group g's attention probabilities over its candidate keys, in float64: softmax of scale × q·k with
 *  the query's head and the key's kv head (queries [B, T, Hq, Dh], keys [B, T, Hkv, Dh]). */
function headProbs(q: Tensor, k: Tensor, b: number, a: AttendTargets, g: number, s: number): number[] {
  const [, L, H, D] = q.shape as [number, number, number, number];
  const Hk = k.shape[2]!;
  const h = a.heads[g]!;
  const kv = Math.floor(h / (H / Hk));
  const logits = [...a.keys].map((p) => {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q.data[((b * L + a.queries[g]!) * H + h) * D + d]! * k.data[((b * L + p) * Hk + kv) * D + d]!;
    return dot * s;
  });
  const max = Math.max(...logits);
  const z = logits.reduce((acc, l) => acc + Math.exp(l - max), 0);
  return logits.map((l) => Math.exp(l - max) / z);
}

const targets = (keys: number[], groups: { query: number; head: number; targets: number[] }[]): AttendTargets => {
  const start = [0];
  for (const g of groups) start.push(start.at(-1)! + g.targets.length);
  return {
    keys: Int32Array.from(keys),
    queries: Int32Array.from(groups, (g) => g.query),
    heads: Int32Array.from(groups, (g) => g.head),
    start: Int32Array.from(start),
    targets: Int32Array.from(groups.flatMap((g) => g.targets)),
  };
};

// Example 0: keys at positions 1-4; the query at 6 through head 0 (kv head 0) should look at keys 1
// and 2 (positions 2, 3), through head 3 (kv head 1) at key 0. Example 1: keys 0-2, head 1 at key 2.
const EXAMPLES = [
  {
    ids: new Int32Array(T),
    attend: targets(
      [1, 2, 3, 4],
      [
        { query: 6, head: 0, targets: [1, 2] },
        { query: 6, head: 3, targets: [0] },
      ],
    ),
  },
  { ids: new Int32Array(T - 1), attend: targets([0, 1, 2], [{ query: 5, head: 1, targets: [2] }]) },
];

test("attention-target loss: the mean cross-entropy of each target key under the head's softmax over the candidate keys", () => {
  const { q, k } = randomQK(3);
  const s = 0.7;
  const got = attentionTargetLoss(q, k, EXAMPLES, s)!;
  assert.equal(got.count, 4);
  let want = 0;
  EXAMPLES.forEach((e, b) => {
    const a = e.attend;
    for (let g = 0; g < a.queries.length; g++) {
      const p = headProbs(q, k, b, a, g, s);
      for (let i = a.start[g]!; i < a.start[g + 1]!; i++) want -= Math.log(p[a.targets[i]!]!);
    }
  });
  want /= 4;
  assert.ok(Math.abs(got.loss.item() - want) < 1e-5, `${got.loss.item()} vs ${want}`);
  assert.equal(attentionTargetLoss(q, k, [{ ids: new Int32Array(T) }, { ids: new Int32Array(T) }], s), null, 'no targets, no loss');
});

test('attention-target loss: gradients for queries and keys match finite differences', () => {
  const { q, k } = randomQK(5);
  const f = () => attentionTargetLoss(q, k, EXAMPLES, 0.7)!.loss;
  q.grad = null;
  k.grad = null;
  backward(f());
  for (const p of [q, k]) {
    const analytic = Float32Array.from(p.grad!);
    let touched = 0;
    for (let i = 0; i < p.size; i++) {
      const keep = p.data[i]!;
      p.data[i] = keep + 1e-2;
      const up = noGrad(() => f().item());
      p.data[i] = keep - 1e-2;
      const down = noGrad(() => f().item());
      p.data[i] = keep;
      const numeric = (up - down) / 2e-2;
      assert.ok(
        Math.abs(numeric - analytic[i]!) < 2e-3 + 2e-2 * Math.abs(numeric),
        `${p === q ? 'q' : 'k'}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`,
      );
      if (analytic[i] !== 0) touched++;
    }
    assert.ok(touched > 0, 'the loss reaches the tensor');
  }
});

test('attention targets outside the sequence, the heads or the candidate keys are typed errors naming the field', () => {
  const { q, k } = randomQK(7);
  const bad: [Partial<AttendTargets>, string][] = [
    [{ queries: Int32Array.of(T, 6) }, 'attend.queries'],
    [{ keys: Int32Array.of(1, 2, 3, 99) }, 'attend.keys'],
    [{ heads: Int32Array.of(0, Hq) }, 'attend.heads'],
    [{ targets: Int32Array.of(1, 2, 4) }, 'attend.targets'],
    [{ start: Int32Array.of(0, 2) }, 'attend'],
  ];
  for (const [patch, field] of bad) {
    const ex = [{ ...EXAMPLES[0]!, attend: { ...EXAMPLES[0]!.attend, ...patch } }];
    assert.throws(
      () => attentionTargetLoss(q, k, ex, 1),
      (e: unknown) => isVlmError(e) && (e as { field?: string }).field === field,
      field,
    );
  }
});

// The trainer: tiny examples ([bos, boi, 4 image tokens, eoi, user…, answer…]) whose answer is to
// look, from the token before the answer, at image token 3 (head 0) and image token 1 (head 2) of
// the global layer.
function withTargets(examples: GroundingExample[]): GroundingExample[] {
  return examples.map((e) => {
    const before = e.mask.indexOf(1) - 1;
    return {
      ...e,
      attend: targets(
        [2, 3, 4, 5],
        [
          { query: before, head: 0, targets: [3] },
          { query: before, head: 2, targets: [1] },
        ],
      ),
    };
  });
}

/** Mean attention probability (over the 4 image tokens) the two targeted heads give their target. */
function targetMass(model: ReturnType<typeof tinyModel>, examples: GroundingExample[]): number {
  const { input } = makeBatch(examples, 0);
  let qk: { q: Tensor; k: Tensor } | null = null;
  const onAttention = (li: number, q: Tensor, k: Tensor) => {
    if (li === 1) qk = { q, k };
  };
  noGrad(() => model.forward(input, null, { onAttention }));
  const { q, k } = qk as unknown as { q: Tensor; k: Tensor };
  const s = model.text.queryPreAttnScalar ** -0.5;
  let total = 0;
  let n = 0;
  examples.forEach((e, b) => {
    const a = e.attend!;
    for (let g = 0; g < a.queries.length; g++) {
      total += headProbs(q, k, b, a, g, s)[a.targets[a.start[g]!]!]!;
      n++;
    }
  });
  return total / n;
}

const CFG: TrainerConfig = {
  ...TRAINER_DEFAULTS,
  steps: 60,
  batchSize: 4,
  schedule: { kind: 'constant', lr: 1e-2, warmupSteps: 0 },
  evalEvery: 0,
  checkpointEvery: 60,
  clip: 1,
};

test('training with attention targets: the targeted heads learn to look at their targets; weight 0 changes nothing', async () => {
  const examples = withTargets(tinyExamples(16));
  const source = { length: examples.length, at: (i: number) => examples[i] };
  const dirs: string[] = [];
  const run = async (attention: { layer: number; weight: number } | undefined) => {
    const model = tinyModel(4);
    const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-attend-'));
    dirs.push(dir);
    const before = targetMass(model, examples);
    await train({
      model,
      params: model.setTrainable(true),
      train: source,
      val: [],
      outDir: dir,
      silent: true,
      config: CFG,
      objective: groundingObjective(attention),
    });
    model.setTrainable(false);
    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { loss: number; attendLoss?: number });
    return { before, after: targetMass(model, examples), metrics };
  };
  try {
    const plain = await run(undefined);
    const zero = await run({ layer: 1, weight: 0 });
    const on = await run({ layer: 1, weight: 1 });
    assert.deepEqual(
      zero.metrics.map((m) => m.loss),
      plain.metrics.map((m) => m.loss),
      'weight 0: the same losses as without targets',
    );
    assert.ok(
      zero.metrics.every((m) => m.attendLoss !== undefined) && plain.metrics.every((m) => m.attendLoss === undefined),
      'the attention loss is reported when trained',
    );
    assert.ok(on.before < 0.4, `untrained, the target gets about a quarter of the attention (${on.before})`);
    assert.ok(on.after > 0.8, `trained, the heads look at their targets (${on.after}, without targets ${plain.after})`);
    assert.ok(plain.after < 0.6, `without targets they do not (${plain.after})`);
    assert.ok(on.metrics.at(-1)!.attendLoss! < 0.3 * on.metrics[0]!.attendLoss!, 'the attention loss falls');
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('attention targets on a layer the model does not have, or a negative weight, are usage errors', async () => {
  const model = tinyModel(4);
  const examples = withTargets(tinyExamples(4));
  const source = { length: examples.length, at: (i: number) => examples[i] };
  for (const attention of [
    { layer: 3, weight: 1 },
    { layer: 0, weight: -1 },
  ]) {
    await assert.rejects(
      async () =>
        train({
          model,
          params: model.setTrainable(true),
          train: source,
          val: [],
          outDir: join(tmpdir(), 'vlm2vla-attend-never'),
          silent: true,
          config: CFG,
          objective: groundingObjective(attention),
        }),
      (e: unknown) => isVlmError(e) && /attention targets/.test((e as Error).message),
    );
  }
  model.setTrainable(false);
});
