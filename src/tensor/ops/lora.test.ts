// Tests of the fused LoRA linear op against the unfused expression it replaces (linear + linear·linear + add):
// the same output and gradients (x, A, B, bias) with fp32 and bf16 base weights, with and without dropout, and
// a third of the activations; a trainable base weight is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  Bf16Tensor,
  backward,
  linear,
  add,
  scale,
  sum,
  gelu,
  dropout,
  loraLinear,
  tapeActivationFloats,
  clearTape,
  getBackend,
} from '../index.ts';
import type { Weight } from '../index.ts';
import { Rng } from '../../util/index.ts';
import { assertClose } from '../testing/index.ts';
import { isVlmError } from '../../errors/index.ts';

const [N, IN, OUT, R] = [37, 24, 40, 4];

function tensor(rng: Rng, shape: number[], s: number, requiresGrad: boolean): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(
    shape,
    Float32Array.from({ length: n }, () => rng.normal() * s),
    { requiresGrad },
  );
}

function grads(params: Tensor[], build: () => Tensor): { y: Float32Array; g: Float32Array[] } {
  for (const p of params) p.grad = null;
  const out = build();
  const y = Float32Array.from(out.data);
  backward(sum(gelu(out)));
  return { y, g: params.map((p) => Float32Array.from(p.grad!)) };
}

for (const dtype of ['f32', 'bf16'] as const) {
  for (const withDropout of [false, true]) {
    test(`loraLinear equals linear(x, W) + s·linear(linear(h, A), B): ${dtype} W, ${withDropout ? 'dropout' : 'no dropout'}`, () => {
      const rng = new Rng(dtype === 'f32' ? 1 : 2);
      const x = tensor(rng, [N, IN], 1, true);
      const wData = tensor(rng, [OUT, IN], 0.3, false);
      let w: Weight = wData;
      if (dtype === 'bf16') {
        const bits = new Uint16Array(wData.size);
        getBackend().f32ToBf16(wData.data, bits, wData.size);
        w = new Bf16Tensor(wData.shape, bits);
      }
      const b = tensor(rng, [OUT], 0.5, true);
      const A = tensor(rng, [R, IN], 0.3, true);
      const B = tensor(rng, [OUT, R], 0.3, true);
      const s = 2.5;
      const h = () => (withDropout ? dropout(x, 0.3, new Rng(5)) : x);
      const params = [x, b, A, B];
      const fused = grads(params, () => loraLinear(x, h(), w, b, A, B, s));
      const unfused = grads(params, () => add(linear(x, w, b), linear(linear(h(), A), scale(B, s))));
      assertClose(fused.y, unfused.y, { atol: 1e-4, rtol: 1e-4 }, 'output');
      ['x', 'bias', 'A', 'B'].forEach((name, i) => assertClose(fused.g[i]!, unfused.g[i]!, { atol: 1e-4, rtol: 1e-3 }, `d${name}`));
    });
  }
}

test('loraLinear keeps one [N, out] activation where the unfused expression kept three', () => {
  const rng = new Rng(3);
  const x = tensor(rng, [N, IN], 1, true);
  const w = tensor(rng, [OUT, IN], 0.3, false);
  const A = tensor(rng, [R, IN], 0.3, true);
  const B = tensor(rng, [OUT, R], 0.3, true);
  loraLinear(x, x, w, null, A, B, 2);
  const fused = tapeActivationFloats();
  clearTape();
  add(linear(x, w), linear(linear(x, A), scale(B, 2)));
  const unfused = tapeActivationFloats();
  clearTape();
  assert.equal(fused, N * OUT + N * R); // the output and the saved h·Aᵀ
  assert.ok(unfused >= 3 * N * OUT, `unfused ${unfused}`);
});

test('loraLinear refuses a trainable base weight with a typed error', () => {
  const rng = new Rng(4);
  const x = tensor(rng, [N, IN], 1, false);
  const w = tensor(rng, [OUT, IN], 0.3, true);
  assert.throws(
    () => loraLinear(x, x, w, null, tensor(rng, [R, IN], 1, true), tensor(rng, [OUT, R], 1, true), 1),
    (e: unknown) => isVlmError(e) && e.code === 'E_SHAPE',
  );
});
