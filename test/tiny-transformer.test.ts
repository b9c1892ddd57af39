// End-to-end engine test: a 2-layer pre-LN transformer learns to copy a sequence (the second half of
// each example repeats the first) in 200 AdamW steps, on every backend that is available.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  backward,
  crossEntropy,
  linear,
  reshape,
  setBackend,
  tsBackend,
  loadNative,
  AdamW,
  clipGradNorm,
  arena,
} from '../src/tensor/index.ts';
import type { Backend } from '../src/tensor/index.ts';
import { Embedding, LayerNorm, TransformerBlock } from '../src/nn/index.ts';
import { Rng } from '../src/util/index.ts';

const V = 10; // tokens 0..7, separator 8
const SEP = 8;
const HALF = 5;
const T = 2 * HALF + 1;
const B = 16;
/** The loss the copy task must reach (chance is ln 8 ≈ 2.08 on the copied half). */
const TARGET = 0.15;

function train(backend: Backend, steps: number): number[] {
  setBackend(backend);
  const rng = new Rng(42);
  const dim = 32;
  const emb = new Embedding(V, dim, rng);
  const blocks = [0, 1].map(() => new TransformerBlock({ dim, heads: 4, ffn: 64, ropeTheta: 10_000 }, rng));
  const norm = new LayerNorm(dim);
  const params = [...emb.parameters(), ...blocks.flatMap((b) => b.parameters()), ...norm.parameters()];
  const opt = new AdamW(params, { lr: 3e-3 });
  const positions = Int32Array.from({ length: B * T }, (_, i) => i % T);
  const losses: number[] = [];
  const data = new Rng(7);
  for (let step = 0; step < steps; step++) {
    const ids = new Int32Array(B * T);
    const targets = new Int32Array(B * T).fill(-100);
    for (let b = 0; b < B; b++) {
      const seq = Array.from({ length: HALF }, () => data.int(0, 7));
      const row = [...seq, SEP, ...seq];
      row.forEach((tok, t) => (ids[b * T + t] = tok));
      // Predict token t+1 from the prefix, only on the copied half (after the separator).
      for (let t = HALF; t < T - 1; t++) targets[b * T + t] = row[t + 1]!;
    }
    let x = reshape(emb.forward(ids), [B, T, dim]);
    for (const block of blocks) x = block.forward(x, positions);
    const h = norm.forward(x);
    const logits = linear(reshape(h, [B * T, dim]), emb.weight); // tied output embedding
    const loss = crossEntropy(logits, targets);
    losses.push(loss.item());
    opt.zeroGrad();
    backward(loss);
    clipGradNorm(params, 1);
    opt.update();
  }
  return losses;
}

const backends: [string, Backend | null][] = [
  ['ts', tsBackend],
  ['native', await loadNative()],
];
for (const [name, backend] of backends) {
  test(
    `a 2-layer transformer learns to copy in 200 steps (${name} backend): loss < ${TARGET}`,
    { skip: backend === null && 'the native addon is not built (npm run build:native)' },
    () => {
      const before = arena.reuses;
      const losses = train(backend!, 200);
      const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
      assert.ok(losses[0]! > 1.5, `initial loss ${losses[0]} should be near chance`);
      assert.ok(last < TARGET, `mean loss of the last 10 steps is ${last.toFixed(3)}`);
      assert.ok(arena.reuses > before, 'activation buffers are reused across steps');
      setBackend(tsBackend);
    },
  );
}

test('LoRA with B = 0 equals the base layer, and training it leaves the base weights bit-identical', async () => {
  const { Linear, LoraLinear } = await import('../src/nn/index.ts');
  const rng = new Rng(3);
  const base = new Linear(6, 4, rng, { bias: true });
  const frozen = Float32Array.from(base.weight.data);
  const lora = new LoraLinear(base, 2, 4, rng);
  const x = new Tensor(
    [3, 6],
    Float32Array.from({ length: 18 }, () => rng.normal()),
  );
  const y0 = Float32Array.from(base.forward(x).data);
  assert.deepEqual(Array.from(lora.forward(x).data), Array.from(y0));
  const opt = new AdamW(lora.parameters(), { lr: 1e-2 });
  const target = new Tensor([3, 4], new Float32Array(12).fill(1));
  const { mse } = await import('../src/tensor/index.ts');
  for (let i = 0; i < 20; i++) {
    opt.zeroGrad();
    backward(mse(lora.forward(x), target));
    opt.update();
  }
  assert.deepEqual(Array.from(base.weight.data), Array.from(frozen));
  assert.equal(base.weight.grad, null);
  assert.notDeepEqual(Array.from(lora.forward(x).data), Array.from(y0));
});
