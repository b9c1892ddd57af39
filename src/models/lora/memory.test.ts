// Memory of a LoRA training step against full fine-tuning on the same model and batch: frozen weights get no
// gradient buffer and no .grad, the tape holds only h·Aᵀ [N, r] per adapted projection beyond what full
// fine-tuning holds, and activations + gradient buffers + optimizer state stay within full fine-tuning's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, Tensor, backward, crossEntropy, tapeActivationFloats, lastBackwardGradFloats } from '../../tensor/index.ts';
import { Gemma3Model } from '../gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../gemma3/testing.ts';
import { Rng } from '../../util/index.ts';
import { addAdapter, setActiveAdapter, decoderTargets } from './adapter.ts';
import { PAPER_LORA } from './peft.ts';

const [BATCH, LEN] = [2, 12];
const ids = Int32Array.from({ length: BATCH * LEN }, (_, i) => [2, 61, 63, 63, 63, 63, 62][i % LEN] ?? 9 + ((i * 7) % 40));
const pixels = Float32Array.from({ length: BATCH * 3 * 64 }, (_, i) => Math.sin(i));
const targets = Int32Array.from(ids, (_, i) => ids[(i + 1) % ids.length]!);

interface StepMemory {
  activations: number;
  gradBuffers: number;
  /** .grad plus AdamW's two moments, per trainable float. */
  state: number;
  frozenWithGrad: number;
  projections: number;
  /** What LoRA may keep beyond full fine-tuning: h·Aᵀ [N, r] per adapted projection, and dropout's output [N, in]. */
  allowance: number;
}

function step(mode: 'full' | 'lora', dropout: number): StepMemory {
  const cfg = tinyGemma3Config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 4));
  const params: Tensor[] =
    mode === 'full'
      ? model.setTrainable(true)
      : addAdapter(model, 'a', { ...PAPER_LORA, r: 4, alpha: 8, dropout, targetModules: decoderTargets('gemma3') });
  if (mode === 'lora') setActiveAdapter(model, 'a');
  model.rng = new Rng(1);
  const opt = new AdamW(params, { lr: 1e-3, weightDecay: 0 });
  const loss = crossEntropy(model.forward({ ids, batch: BATCH, length: LEN, pixels }), targets);
  const activations = tapeActivationFloats();
  backward(loss);
  opt.update(1e-3);
  const trainable = new Set(params);
  let frozenWithGrad = 0;
  for (const w of model.params.values()) if (w instanceof Tensor && !trainable.has(w) && w.grad !== null) frozenWithGrad++;
  const adapted = [...model.projections().values()].filter((p) => p.active !== null);
  const N = BATCH * LEN;
  const allowance = adapted.reduce((a, p) => a + N * (p.active!.A.shape[0]! + (dropout > 0 ? p.inFeatures : 0)), 0);
  return {
    activations,
    gradBuffers: lastBackwardGradFloats(),
    state: 3 * params.reduce((a, p) => a + p.size, 0),
    frozenWithGrad,
    projections: adapted.length,
    allowance,
  };
}

for (const dropout of [0, 0.1]) {
  test(`a LoRA step (dropout ${dropout}) holds no more than a full fine-tuning step, and nothing for frozen weights`, () => {
    const full = step('full', dropout);
    const lora = step('lora', dropout);
    assert.equal(lora.frozenWithGrad, 0);
    assert.equal(lora.projections, 7 * 3);
    // The unfused expression (linear + linear·linear + add) kept two more [N, out] activations per projection.
    assert.ok(
      lora.activations <= full.activations + lora.allowance,
      `LoRA ${lora.activations} vs full ${full.activations} + ${lora.allowance}`,
    );
    assert.ok(lora.gradBuffers < full.gradBuffers, `gradient buffers ${lora.gradBuffers} vs ${full.gradBuffers}`);
    const total = (m: StepMemory) => m.activations + m.gradBuffers + m.state;
    if (dropout === 0) assert.ok(total(lora) <= total(full), `LoRA ${total(lora)} floats vs full ${total(full)}`);
  });
}
