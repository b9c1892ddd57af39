// Tests of the Gemma 3 model against an independent float64 reference (text-only and with images),
// KV-cache decoding against full recomputation, bf16 weights, and gradients through the whole model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, Bf16Tensor, noGrad, backward, crossEntropy, getBackend } from '../../tensor/index.ts';
import type { Weight } from '../../tensor/index.ts';
import { Rng } from '../../util/index.ts';
import { isVlmError } from '../../errors/index.ts';
import { Gemma3Model, KvCache } from './model.ts';
import { tinyGemma3Config, tinyTextConfig, randomParams, referenceLogits } from './testing.ts';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function randomPixels(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * 3 * size * size }, () => rng.uniform(-1, 1));
}

test('gemma3_text logits equal the float64 reference (GQA, sliding + global layers, q/k norms, 1+w norms)', () => {
  const cfg = tinyTextConfig();
  const params = randomParams(cfg, 1);
  const model = new Gemma3Model(cfg, new Map(params));
  const ids = [2, 17, 5, 33, 8, 8, 40, 1, 12];
  const logits = noGrad(() => model.forward({ ids: Int32Array.from(ids), batch: 1, length: ids.length }));
  const ref = referenceLogits(cfg, params, ids).flat();
  const d = maxDiff(logits.data, ref);
  assert.ok(d < 2e-3, `max |Δ| = ${d}`);
});

test('gemma3 with two images equals the reference (patches, SigLIP, pooling, projector, bidirectional image blocks, softcap)', () => {
  const cfg = tinyGemma3Config();
  const params = randomParams(cfg, 2);
  const model = new Gemma3Model(cfg, new Map(params));
  const I = cfg.imageTokenIndex;
  const ids = [2, 61, I, I, I, I, 62, 9, 61, I, I, I, I, 62, 30, 31];
  const pixels = randomPixels(2, 8, 3);
  const logits = noGrad(() => model.forward({ ids: Int32Array.from(ids), batch: 1, length: ids.length, pixels }));
  const ref = referenceLogits(cfg, params, ids, pixels).flat();
  const d = maxDiff(logits.data, ref);
  assert.ok(d < 2e-3, `max |Δ| = ${d}`);
  // Without the bidirectional blocks the logits at the first image tokens would differ: check the
  // reference itself is sensitive to the image (different pixels → different logits).
  const other = referenceLogits(cfg, params, ids, randomPixels(2, 8, 4)).flat();
  assert.ok(maxDiff(ref, other) > 1e-2);
});

test('image token runs and pixel counts are validated with typed errors', () => {
  const cfg = tinyGemma3Config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 2));
  const I = cfg.imageTokenIndex;
  assert.throws(
    () => noGrad(() => model.forward({ ids: Int32Array.of(2, I, I, I, 5), batch: 1, length: 5, pixels: randomPixels(1, 8, 1) })),
    /run of 3 image tokens/,
  );
  assert.throws(() => noGrad(() => model.forward({ ids: Int32Array.of(2, I, I, I, I), batch: 1, length: 5 })), /pixels for 0/);
  assert.throws(() => noGrad(() => model.forward({ ids: Int32Array.of(2, 64), batch: 1, length: 2 })), /outside the vocabulary/);
});

test("the attention probe sees each layer's queries and keys and changes nothing; not called with a KV cache", () => {
  const cfg = tinyTextConfig();
  const model = new Gemma3Model(cfg, new Map(randomParams(cfg, 1)));
  const ids = Int32Array.from([2, 17, 5, 33, 8, 8, 40, 1, 12]);
  const input = { ids, batch: 1, length: ids.length };
  const before = noGrad(() => model.forward(input)).data.slice();
  const seen: string[] = [];
  const onAttention = (layer: number, q: Tensor, k: Tensor, sliding: boolean) =>
    seen.push(`${layer} ${q.shape.join('x')} ${k.shape.join('x')} ${sliding}`);
  const after = noGrad(() => model.forward(input, null, { onAttention })).data;
  const t = cfg.text;
  assert.deepEqual(
    seen,
    t.layerTypes.map(
      (type, i) =>
        `${i} 1x${ids.length}x${t.numHeads}x${t.headDim} 1x${ids.length}x${t.numKvHeads}x${t.headDim} ${type === 'sliding_attention'}`,
    ),
  );
  assert.deepEqual(after, before);
  seen.length = 0;
  noGrad(() => model.forward(input, new KvCache(t, 1, 16), { onAttention }));
  assert.deepEqual(seen, []);
});

test('KV-cache decoding equals full recomputation, batched with left padding and an image', () => {
  const cfg = tinyGemma3Config({ text_config: { sliding_window: 4 } });
  const model = new Gemma3Model(cfg, randomParams(cfg, 5));
  const I = cfg.imageTokenIndex;
  const rows = [
    [2, 61, I, I, I, I, 62, 9, 10, 11],
    [0, 0, 0, 2, 7, 8, 9, 10, 11, 12],
  ];
  const pad = [0, 3];
  const B = 2;
  const T = 10;
  const pixels = randomPixels(1, 8, 7);
  const prefill = 6;
  const positionsOf = (t0: number, n: number) =>
    Int32Array.from({ length: B * n }, (_, i) => Math.max(0, t0 + (i % n) - pad[Math.floor(i / n)]!));
  const kvStart = Int32Array.from(pad);
  noGrad(() => {
    const full = model.forward({ ids: Int32Array.from(rows.flat()), batch: B, length: T, positions: positionsOf(0, T), pixels, kvStart });
    const cache = new KvCache(cfg.text, B, 16);
    const first = model.forward(
      {
        ids: Int32Array.from(rows.flatMap((r) => r.slice(0, prefill))),
        batch: B,
        length: prefill,
        positions: positionsOf(0, prefill),
        pixels,
        kvStart,
      },
      cache,
    );
    const V = cfg.text.vocabSize;
    for (let b = 0; b < B; b++) {
      for (let t = pad[b]!; t < prefill; t++) {
        assert.ok(
          maxDiff(
            first.data.subarray((b * prefill + t) * V, (b * prefill + t + 1) * V),
            full.data.subarray((b * T + t) * V, (b * T + t + 1) * V),
          ) < 1e-4,
          `prefill row ${b} t ${t}`,
        );
      }
    }
    for (let t = prefill; t < T; t++) {
      const step = model.forward(
        { ids: Int32Array.from(rows.map((r) => r[t]!)), batch: B, length: 1, positions: positionsOf(t, 1), kvStart },
        cache,
      );
      for (let b = 0; b < B; b++) {
        const d = maxDiff(step.data.subarray(b * V, (b + 1) * V), full.data.subarray((b * T + t) * V, (b * T + t + 1) * V));
        assert.ok(d < 1e-4, `decode row ${b} t ${t}: ${d}`);
      }
    }
    assert.equal(cache.length, T);
  });
});

test('bf16 matrices give the fp32 model of the rounded weights', () => {
  const cfg = tinyGemma3Config();
  const params = randomParams(cfg, 8);
  const K = getBackend();
  const rounded = new Map<string, Weight>();
  const bf = new Map<string, Weight>();
  for (const [name, w] of params) {
    const t = w as Tensor;
    const bits = new Uint16Array(t.size);
    K.f32ToBf16(t.data, bits, t.size);
    const back = new Float32Array(t.size);
    K.bf16ToF32(bits, back, t.size);
    rounded.set(name, new Tensor(t.shape, back, { name }));
    bf.set(
      name,
      t.shape.length >= 2 && !name.includes('mm_input') && !name.includes('position_embedding')
        ? new Bf16Tensor(t.shape, bits, name)
        : new Tensor(t.shape, Float32Array.from(back), { name }),
    );
  }
  const I = cfg.imageTokenIndex;
  const input = { ids: Int32Array.of(2, I, I, I, I, 5, 6), batch: 1, length: 7, pixels: randomPixels(1, 8, 9) };
  const a = noGrad(() => new Gemma3Model(cfg, rounded).forward(input));
  const b = noGrad(() => new Gemma3Model(cfg, bf).forward(input));
  assert.ok(maxDiff(a.data, b.data) < 1e-4);
});

test('gradients of the loss reach every parameter and match finite differences on samples', () => {
  const cfg = tinyGemma3Config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 11, 0.2));
  const params = model.setTrainable(true);
  const I = cfg.imageTokenIndex;
  const input = {
    ids: Int32Array.of(2, I, I, I, I, 5, 6, 7),
    batch: 1,
    length: 8,
    pixels: randomPixels(1, 8, 12),
    rows: Int32Array.of(5, 6),
  };
  const targets = Int32Array.of(6, 7);
  const loss = () => crossEntropy(model.forward(input), targets);
  backward(loss());
  const rng = new Rng(13);
  for (const p of params) {
    assert.ok(p.grad, `${p.name} got no gradient`);
    for (let s = 0; s < 2; s++) {
      const i = rng.int(0, p.size - 1);
      const keep = p.data[i]!;
      const h = 1e-2;
      p.data[i] = keep + h;
      const up = noGrad(() => loss().item());
      p.data[i] = keep - h;
      const down = noGrad(() => loss().item());
      p.data[i] = keep;
      const numeric = (up - down) / (2 * h);
      assert.ok(
        Math.abs(numeric - p.grad![i]!) < 2e-3 + 5e-2 * Math.abs(numeric),
        `${p.name}[${i}]: tape ${p.grad![i]}, numeric ${numeric}`,
      );
    }
  }
});

test('unsupported configs, misshapen inputs and a full KV cache are typed errors', () => {
  const cfg = tinyTextConfig();
  const model = new Gemma3Model(cfg, randomParams(cfg, 1));
  const expect = (fn: () => unknown, code: string) => assert.throws(fn, (e: unknown) => isVlmError(e) && e.code === code);
  expect(() => new Gemma3Model(tinyTextConfig({ attn_logit_softcapping: 50 }), randomParams(cfg, 1)), 'E_MODEL_CONFIG');
  const params = randomParams(cfg, 1);
  params.delete('model.norm.weight');
  expect(() => new Gemma3Model(cfg, params), 'E_SHAPE');
  expect(() => noGrad(() => model.forward({ ids: Int32Array.of(1, 2, 3), batch: 1, length: 2 })), 'E_SHAPE');
  const cache = new KvCache(cfg.text, 1, 4);
  noGrad(() => model.forward({ ids: Int32Array.of(2, 5, 6), batch: 1, length: 3 }, cache));
  expect(() => noGrad(() => model.forward({ ids: Int32Array.of(7, 8), batch: 1, length: 2 }, cache)), 'E_SHAPE');
});
