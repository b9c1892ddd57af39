// The vision stage of pretraining: exact per-cell labels from the renderer's owner map, a stage that
// trains only the tower and projector (the decoder stays bit-identical) and lowers its loss, and a
// finished stage that a resumed run reloads instead of retraining.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOGUE } from '../sim/catalogue.ts';
import { projectPoint } from '../sim/renderer.ts';
import { Gemma3Model } from '../models/index.ts';
import { tinyGemma3Config, tinyTextConfig, randomParams } from '../models/gemma3/testing.ts';
import { Tensor } from '../tensor/index.ts';
import { isVlmError } from '../errors/index.ts';
import { readJsonl } from '../util/index.ts';
import type { StepMetrics } from '../train/trainer.ts';
import {
  GRIPPER_CLASS,
  IGNORE,
  NOTHING_CLASS,
  VISION_CLASSES,
  VisionSource,
  X_BINS,
  Y_BINS,
  denseLabels,
  runVisionStage,
  xBin,
  yBin,
} from './vision-stage.ts';
import type { Scene } from '../corpus/conversation.ts';

const classOf = (id: string) => CATALOGUE.findIndex((o) => o.id === id);

test('dense labels name the object, the gripper or nothing in each cell', () => {
  const scene: Scene = {
    placements: [
      { id: 'apple', x: 0.3, y: 0.15, yaw: 0 },
      { id: 'block', x: 0.5, y: -0.2, yaw: 0.3 },
    ],
    gripper: { x: 0.3, y: -0.05, z: 0.2 },
  };
  const { pixels, labels } = denseLabels(scene, 96, 8);
  assert.equal(pixels.length, 3 * 96 * 96);
  assert.equal(labels.length, 64);
  const cellAt = (p: [number, number, number]) => {
    const [x, y] = projectPoint(p, 96, 96)!;
    return labels[Math.floor(y / 12) * 8 + Math.floor(x / 12)];
  };
  assert.equal(cellAt([0.3, 0.15, 0.05]), classOf('apple'));
  assert.equal(cellAt([0.5, -0.2, 0.02]), classOf('block'));
  assert.equal(cellAt([0.3, -0.05, 0.27]), GRIPPER_CLASS);
  const kinds = new Set(labels);
  assert.deepEqual(
    [...kinds].sort((a, b) => a - b),
    [classOf('apple'), classOf('block'), GRIPPER_CLASS, NOTHING_CLASS].sort((a, b) => a - b),
  );
  assert.ok(labels.filter((l) => l === NOTHING_CLASS).length > 40, 'most of the image is table and wall');
  assert.ok([...labels].every((l) => l >= 0 && l < VISION_CLASSES));
  assert.deepEqual(denseLabels(scene, 96, 8).labels, labels, 'deterministic');
  assert.throws(
    () => denseLabels(scene, 96, 7),
    (e: unknown) => isVlmError(e) && /whole cells/.test((e as Error).message),
  );
});

test('with positions, dense labels add the x and y bin of the thing in each cell, and ignore empty cells', () => {
  const scene: Scene = {
    placements: [
      { id: 'apple', x: 0.3, y: 0.15, yaw: 0 },
      { id: 'block', x: 0.45, y: -0.2, yaw: 0.3 },
    ],
    gripper: { x: 0.25, y: -0.05, z: 0.2 },
  };
  const plain = denseLabels(scene, 96, 8);
  const { pixels, labels } = denseLabels(scene, 96, 8, true);
  assert.deepEqual(pixels, plain.pixels);
  assert.equal(labels.length, 3 * 64);
  assert.deepEqual(labels.subarray(0, 64), plain.labels, 'the class block is unchanged');
  // Bins are 2 cm from x = 0.20 and y = -0.24, clamped.
  assert.deepEqual([xBin(0.3), yBin(0.15), xBin(0.45), yBin(-0.2), xBin(0.1), yBin(0.5)], [5, 19, 12, 2, 0, Y_BINS - 1]);
  assert.equal(xBin(0.9), X_BINS - 1);
  const want = new Map([
    [classOf('apple'), [xBin(0.3), yBin(0.15)]],
    [classOf('block'), [xBin(0.45), yBin(-0.2)]],
    [GRIPPER_CLASS, [xBin(0.25), yBin(-0.05)]],
  ]);
  for (let c = 0; c < 64; c++) {
    const xy = want.get(labels[c]!) ?? [IGNORE, IGNORE];
    assert.deepEqual([labels[64 + c], labels[128 + c]], xy, `cell ${c} (class ${labels[c]})`);
  }
  assert.ok([...labels.subarray(64)].some((l) => l !== IGNORE));
});

test('vision source: scenes on demand, each with an image and a label per image token', () => {
  const src = new VisionSource(0, 5, 32, 4);
  const a = src.at(3)!;
  assert.equal(a.pixels!.length, 3 * 32 * 32);
  assert.equal(a.labels!.length, 16);
  assert.deepEqual(src.at(3)!.labels, a.labels);
  assert.equal(src.at(5), undefined);
  assert.equal(src.at(-1), undefined);
});

const visionModel = () =>
  new Gemma3Model(
    tinyGemma3Config({
      vision_config: {
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        image_size: 32,
        patch_size: 8,
        layer_norm_eps: 1e-6,
      },
      mm_tokens_per_image: 16,
    }),
    randomParams(
      tinyGemma3Config({
        vision_config: {
          hidden_size: 16,
          intermediate_size: 32,
          num_hidden_layers: 1,
          num_attention_heads: 2,
          image_size: 32,
          patch_size: 8,
          layer_norm_eps: 1e-6,
        },
        mm_tokens_per_image: 16,
      }),
      3,
      0.05,
    ),
  );

const snapshot = (m: Gemma3Model) => new Map([...m.params].map(([n, w]) => [n, Float32Array.from((w as Tensor).data)]));

test('the vision stage trains the tower and projector only, lowers its loss, and a resumed finished stage reloads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-vision-'));
  try {
    const model = visionModel();
    const before = snapshot(model);
    const stage = { steps: 40, batchSize: 8, lr: 5e-3 };
    const r = await runVisionStage(model, stage, { seed: 0, runDir: dir, silent: true });
    const after = snapshot(model);
    for (const [name, was] of before) {
      const vision = name.startsWith('vision_tower.') || name.startsWith('multi_modal_projector.');
      const same = was.every((v, i) => Object.is(v, after.get(name)![i]));
      assert.equal(same, !vision, `${name} ${vision ? 'should train' : 'should stay bit-identical'}`);
    }
    for (const w of model.params.values()) assert.equal((w as Tensor).requiresGrad, false, 'trainability is restored');
    const metrics = readJsonl<StepMetrics>(join(dir, 'metrics.jsonl'));
    assert.equal(metrics.length, 40);
    const mean = (xs: StepMetrics[]) => xs.reduce((a, m) => a + m.loss, 0) / xs.length;
    assert.ok(
      mean(metrics.slice(-10)) < 0.7 * mean(metrics.slice(0, 5)),
      `loss ${mean(metrics.slice(0, 5)).toFixed(3)} → ${mean(metrics.slice(-10)).toFixed(3)}`,
    );
    assert.ok(r.cellAccuracy > 0 && r.cellAccuracy <= 1 && r.seconds > 0);
    // A resumed run whose stage is done reloads its weights (the head included) without a step.
    const again = visionModel();
    const r2 = await runVisionStage(again, stage, { seed: 0, runDir: dir, resume: true, silent: true });
    for (const [name, w] of snapshot(again)) assert.deepEqual(w, after.get(name), name);
    assert.equal(r2.cellAccuracy, r.cellAccuracy);
    assert.equal(readJsonl<StepMetrics>(join(dir, 'metrics.jsonl')).length, 40);
    // Without --resume the finished stage is not silently overwritten.
    await assert.rejects(
      runVisionStage(visionModel(), stage, { seed: 0, runDir: dir, silent: true }),
      (e: unknown) => isVlmError(e) && /already holds checkpoints/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a vision stage with positions trains its position heads: the loss falls and it reports how often both bins are within one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-vision-'));
  try {
    const model = visionModel();
    const r = await runVisionStage(model, { steps: 40, batchSize: 8, lr: 5e-3, positions: true }, { seed: 0, runDir: dir, silent: true });
    const metrics = readJsonl<StepMetrics>(join(dir, 'metrics.jsonl'));
    const mean = (xs: StepMetrics[]) => xs.reduce((a, m) => a + m.loss, 0) / xs.length;
    assert.ok(
      mean(metrics.slice(-10)) < 0.8 * mean(metrics.slice(0, 5)),
      `loss ${mean(metrics.slice(0, 5)).toFixed(3)} → ${mean(metrics.slice(-10)).toFixed(3)}`,
    );
    // Three cross-entropies at the start: about ln(classes) + ln(16) + ln(24).
    assert.ok(metrics[0]!.loss > Math.log(VISION_CLASSES) + 4, `first loss ${metrics[0]!.loss}`);
    assert.ok(r.positionAccuracy !== undefined && r.positionAccuracy >= 0 && r.positionAccuracy <= 1);
    const plain = await runVisionStage(
      visionModel(),
      { steps: 1, batchSize: 2, lr: 1e-3 },
      { seed: 0, runDir: join(dir, 'plain'), silent: true },
    );
    assert.equal(plain.positionAccuracy, undefined);
    // Positions exist only for rendered scenes: other dense data (the grounding probe's) is refused.
    const other = {
      train: new VisionSource(0, 2, 32, 4),
      heldOut: new VisionSource(0, 2, 32, 4, 10),
      classes: VISION_CLASSES,
      nothing: NOTHING_CLASS,
    };
    await assert.rejects(
      runVisionStage(
        visionModel(),
        { steps: 1, batchSize: 2, lr: 1e-3, positions: true },
        { seed: 0, runDir: join(dir, 'other'), silent: true, data: other },
      ),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /only on rendered scenes/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the vision stage refuses a text-only model with a usage error', async () => {
  const cfg = tinyTextConfig();
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-vision-'));
  try {
    await assert.rejects(
      runVisionStage(
        new Gemma3Model(cfg, randomParams(cfg, 1, 0.05)),
        { steps: 1, batchSize: 1, lr: 1e-3 },
        { seed: 0, runDir: dir, silent: true },
      ),
      (e: unknown) => isVlmError(e) && /gemma3 vision-language model/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
