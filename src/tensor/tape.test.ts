// Tests of the autograd tape: gradients of composite expressions through every registered op
// against central finite differences (float32, so tolerances are loose), shared-buffer safety,
// noGrad, and release of activations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  backward,
  noGrad,
  tapeLength,
  add,
  scale,
  reshape,
  mse,
  sum,
  linear,
  layerNorm,
  rmsNorm,
  gelu,
  silu,
  gated,
  attention,
  rope,
  ropeInvFreq,
  embedding,
  crossEntropy,
  listOps,
  Bf16Tensor,
  addRows,
  matmul,
  poolPatches,
  scatterRows,
  gatherRows,
  softcap,
  dropout,
  getBackend,
  loraLinear,
} from './index.ts';
import { Rng } from '../util/index.ts';
import { assertClose } from './testing/index.ts';

function param(rng: Rng, shape: number[], s = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(
    shape,
    Float32Array.from({ length: n }, () => rng.normal() * s),
    { requiresGrad: true },
  );
}

/** f builds a scalar from params; compares tape gradients with central differences (f32, h = 1e-2). */
function check(name: string, params: Tensor[], f: () => Tensor): void {
  for (const p of params) p.grad = null;
  backward(f());
  const analytic = params.map((p) => Float32Array.from(p.grad!));
  const numeric = params.map((p) => {
    const g = new Float32Array(p.size);
    for (let i = 0; i < p.size; i++) {
      const keep = p.data[i]!;
      const h = 1e-2;
      p.data[i] = keep + h;
      const up = noGrad(() => f().item());
      p.data[i] = keep - h;
      const down = noGrad(() => f().item());
      p.data[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  });
  analytic.forEach((g, i) => assertClose(g, numeric[i]!, { atol: 3e-3, rtol: 3e-2 }, `${name} param ${i}`));
}

test('every op is covered and its gradient through the tape matches finite differences', () => {
  const rng = new Rng(1);
  const covered = new Set<string>();
  const x = param(rng, [4, 6]);
  const w = param(rng, [5, 6], 0.5);
  const b = param(rng, [5]);
  check(
    'linear+add+scale+sum',
    [x, w, b],
    () => (covered.add('linear').add('add').add('scale').add('sum'), sum(scale(add(linear(x, w, b), linear(x, w, b)), 0.3))),
  );
  const g = param(rng, [6]);
  const beta = param(rng, [6]);
  check(
    'layerNorm+gelu+mse',
    [x, g, beta],
    () => (
      covered.add('layerNorm').add('act').add('mse'),
      mse(gelu(layerNorm(x, g, beta)), new Tensor([4, 6], new Float32Array(24).fill(0.1)))
    ),
  );
  check(
    'rmsNorm(1+w)+silu+gated',
    [x, g],
    () => (covered.add('rmsNorm').add('gated'), sum(gated('geglu', rmsNorm(x, g, 1e-6, true), silu(x)))),
  );
  const q = param(rng, [1, 3, 2, 4]);
  const k = param(rng, [1, 3, 1, 4]);
  const v = param(rng, [1, 3, 1, 4]);
  const pos = Int32Array.of(0, 1, 2);
  const inv = ropeInvFreq(4, 10_000);
  check(
    'rope+attention+reshape',
    [q, k, v],
    () => (
      covered.add('rope').add('attention').add('reshape'),
      sum(scale(reshape(attention(rope(q, pos, inv), rope(k, pos, inv), v, { causal: true, window: 0 }), [6, 4]), 0.5))
    ),
  );
  const table = param(rng, [7, 3]);
  check(
    'embedding+crossEntropy',
    [table],
    () => (
      covered.add('embedding').add('crossEntropy'),
      crossEntropy(linear(embedding(table, Int32Array.of(1, 4, 1)), table), Int32Array.of(2, -100, 6))
    ),
  );
  const rows = param(rng, [2, 6]);
  const wIn = param(rng, [6, 3], 0.5);
  check(
    'addRows+matmul+softcap',
    [x, rows, wIn],
    () => (covered.add('addRows').add('matmul').add('softcap'), sum(softcap(matmul(addRows(x, rows), wIn), 1.5))),
  );
  const grid = param(rng, [2, 16, 3]);
  const feats = param(rng, [2, 3]);
  const base = param(rng, [9, 3]);
  const head = param(rng, [4, 3]);
  check(
    'poolPatches+scatterRows',
    [grid, base],
    () => (
      covered.add('poolPatches').add('scatterRows'),
      sum(gelu(scatterRows(base, reshape(poolPatches(grid, 4, 2), [8, 3]), Int32Array.of(0, 2, 3, 4, 5, 6, 7, 8))))
    ),
  );
  check(
    'scatterRows rows+gatherRows',
    [feats, base, head],
    () => (
      covered.add('gatherRows'),
      sum(gelu(linear(gatherRows(scatterRows(base, feats, Int32Array.of(7, 1)), Int32Array.of(7, 7, 0, 1)), head)))
    ),
  );
  check('dropout', [x], () => (covered.add('dropout'), sum(gelu(dropout(x, 0.5, new Rng(9))))));
  const bits = new Uint16Array(w.size);
  getBackend().f32ToBf16(w.data, bits, w.size);
  const wb = new Bf16Tensor(w.shape, bits);
  check('linearBf16', [x, b], () => (covered.add('linearBf16'), sum(gelu(linear(x, wb, b)))));
  const frozen = new Tensor(w.shape, w.data);
  const loraA = param(rng, [2, 6], 0.5);
  const loraB = param(rng, [5, 2], 0.5);
  check('loraLinear', [x, loraA, loraB, b], () => (covered.add('loraLinear'), sum(gelu(loraLinear(x, x, frozen, b, loraA, loraB, 1.5)))));
  check('loraLinear with dropout, bf16 W', [x, loraA, loraB], () =>
    sum(gelu(loraLinear(x, dropout(x, 0.5, new Rng(3)), wb, null, loraA, loraB, 0.7))),
  );
  assert.deepEqual([...covered].sort(), listOps().sort());
});

test('a tensor used twice gets the sum of both gradients; noGrad records nothing', () => {
  const x = new Tensor([2], Float32Array.of(1, 2), { requiresGrad: true });
  backward(sum(add(x, add(x, x))));
  assert.deepEqual(Array.from(x.grad!), [3, 3]);
  noGrad(() => sum(add(x, x)));
  assert.equal(tapeLength(), 0);
});

test('backward hands each activation and gradient back as soon as nothing reads it: gradients reuse them', async () => {
  const { arena } = await import('./arena.ts');
  const n = 77_777; // a size class no other test uses, so the pool starts without it
  const depth = 8;
  const x = new Tensor(
    [n],
    Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
    { requiresGrad: true },
  );
  let h = x;
  for (let i = 0; i < depth; i++) h = gelu(h);
  const loss = sum(h);
  const before = arena.allocations;
  backward(loss);
  // Holding every activation and every gradient until the end took one fresh buffer per gradient (depth + 1).
  assert.ok(arena.allocations - before <= 3, `backward allocated ${arena.allocations - before} fresh buffers of ${depth + 1} gradients`);
  let expected = Float32Array.from(x.data);
  const g = new Float32Array(n).fill(1);
  const values: Float32Array[] = [];
  for (let i = 0; i < depth; i++) {
    values.push(expected);
    expected = noGrad(() => Float32Array.from(gelu(new Tensor([n], expected)).data));
  }
  for (let i = depth - 1; i >= 0; i--) {
    const v = values[i]!;
    for (let j = 0; j < n; j++) {
      const u = v[j]!;
      const t = Math.tanh(0.7978845608 * (u + 0.044715 * u ** 3));
      g[j]! *= 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * 0.7978845608 * (1 + 3 * 0.044715 * u * u);
    }
  }
  assertClose(x.grad!, g, { atol: 1e-5, rtol: 1e-4 }, 'dx through 8 GELUs');
});

test('gradient buffers come from the arena during backward and are reused by the next step', async () => {
  const { arena } = await import('./arena.ts');
  const { gradBuffer } = await import('./tape.ts');
  const rng = new Rng(3);
  const w = new Tensor(
    [64, 48],
    Float32Array.from({ length: 64 * 48 }, () => rng.normal() * 0.1),
    { requiresGrad: true },
  );
  const x = new Tensor(
    [40, 48],
    Float32Array.from({ length: 40 * 48 }, () => rng.normal()),
  );
  const step = () => {
    w.zeroGrad();
    const h = gelu(linear(x, w));
    backward(sum(add(h, scale(h, 0.5)))); // h used twice: its gradients are summed
    return Float32Array.from(w.grad!);
  };
  const first = step();
  const allocations = arena.allocations;
  const second = step();
  assert.deepEqual(second, first);
  assert.equal(arena.allocations, allocations, 'the second step allocated fresh buffers');
  // Only the weight gradient has w's length (64·48): the pool must hold it after backward.
  arena.give(arena.take(64 * 48));
  assert.equal(arena.allocations, allocations, 'the weight gradient did not go back to the arena');
  // Outside backward() a rule's buffer is a plain fresh array, never pooled.
  const b = gradBuffer(10);
  assert.equal(b.length, 10);
  assert.equal(arena.allocations, allocations);
});

test('a gradient rule cannot start another backward(); the tape is cleared after the error', async () => {
  const { registerOp, run } = await import('./tape.ts');
  registerOp<null>('test.reenter', {
    forward([a]) {
      return { output: Tensor.from([1], [a!.data[0]!]) };
    },
    backward() {
      backward(sum(new Tensor([1], Float32Array.of(1), { requiresGrad: true })));
      return [null];
    },
  });
  const p = new Tensor([1], Float32Array.of(2), { requiresGrad: true });
  assert.throws(() => backward(run('test.reenter', [p], null)), /already running/);
  assert.equal(tapeLength(), 0);
});
