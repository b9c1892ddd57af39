// How fast the base architecture learns to read a small thing in an image, from scratch: a square of
// one of 8 colours at a random place on a grey 96 px image, "What colour is the object?", trained for
// a few steps at the base preset's batch size and learning rate, then asked on 64 new images.
// The base preset's VQA is limited by image grounding (docs/train.md); this is the smallest
// experiment that shows it, and the one to run before changing the vision recipe.
// Run: node --import tsx scripts/grounding-probe.ts [--square PX] [--steps N] [--lr LR]
//      [--vision-lr-factor F] [--at PX] [--tokenizer DIR]
// --at puts the square's top-left corner at (PX, PX) in every image (the model then needs no search;
// the patches are 12 px, so --at 36 fills one patch with a 12 px square).
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PRETRAIN_PRESETS, presetConfig } from '../src/train/pretrain.ts';
import { Tokenizer, ChatTemplate, expandImageTokens } from '../src/tokenizer/index.ts';
import type { ChatMessage } from '../src/tokenizer/index.ts';
import { Gemma3Model } from '../src/models/index.ts';
import { train, TRAINER_DEFAULTS } from '../src/train/trainer.ts';
import { encodeConversation, imageSpec } from '../src/train/sft.ts';
import { answerStopIds } from '../src/eval/vqa.ts';
import { generate } from '../src/decode/generate.ts';
import { initBackend } from '../src/tensor/index.ts';
import { imageToPixels } from '../src/models/gemma3/preprocess.ts';
import { Rng } from '../src/util/index.ts';

const { values } = parseArgs({
  options: {
    square: { type: 'string', default: '12' },
    steps: { type: 'string', default: '100' },
    lr: { type: 'string', default: String(PRETRAIN_PRESETS.base!.lr) },
    'vision-lr-factor': { type: 'string', default: '1' },
    at: { type: 'string' },
    tokenizer: { type: 'string', default: 'models/base' },
  },
});
const square = Number(values.square);
const steps = Number(values.steps);
const visionFactor = Number(values['vision-lr-factor']);
const at = values.at === undefined ? null : Number(values.at);
const SIZE = 96;
function fail(message: string): never {
  console.error(`grounding-probe: ${message}`);
  process.exit(1);
}
if (!(Number.isInteger(square) && square >= 1 && square <= SIZE)) fail(`--square must be a whole number of pixels from 1 to ${SIZE}`);
if (!(Number.isInteger(steps) && steps >= 1)) fail('--steps must be a positive whole number');
if (!(Number(values.lr) > 0) || !(visionFactor > 0)) fail('--lr and --vision-lr-factor must be positive numbers');
if (at !== null && !(Number.isInteger(at) && at >= 0 && at + square <= SIZE)) fail(`--at must place the square inside the ${SIZE} px image`);

await initBackend();
const tok = Tokenizer.fromDir(values.tokenizer);
const template = ChatTemplate.fromConfig(tok.config, join(values.tokenizer, 'tokenizer_config.json'))!;
const preset = PRETRAIN_PRESETS.base!;
const cfg = presetConfig(preset, tok);
if (cfg.modelType !== 'gemma3' || cfg.vision.imageSize !== SIZE) fail(`the base preset no longer takes ${SIZE} px images: update this probe`);
const model = Gemma3Model.random(cfg, { seed: 0, std: 0.02 });

const COLOURS: [string, [number, number, number]][] = [
  ['red', [220, 30, 30]], ['green', [30, 200, 30]], ['blue', [30, 30, 220]], ['yellow', [230, 220, 40]],
  ['purple', [130, 40, 160]], ['orange', [240, 140, 20]], ['black', [20, 20, 20]], ['white', [240, 240, 240]],
];
function sample(seed: number): { colour: string; pixels: Float32Array } {
  const rng = new Rng(seed);
  const [colour, rgb] = rng.pick(COLOURS);
  const img = { width: SIZE, height: SIZE, rgb: new Uint8Array(SIZE * SIZE * 3).fill(180) };
  const x0 = at ?? rng.int(0, SIZE - square);
  const y0 = at ?? rng.int(0, SIZE - square);
  for (let y = y0; y < y0 + square; y++) for (let x = x0; x < x0 + square; x++) img.rgb.set(rgb, (y * SIZE + x) * 3);
  return { colour, pixels: imageToPixels(img, SIZE) };
}
const question: ChatMessage = { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What colour is the object?' }] };
const enc = { tokenizer: tok, template, cfg };
const examples = {
  length: steps * preset.batchSize,
  at(i: number) {
    const s = sample(i + 1);
    const { ids, mask } = encodeConversation([question, { role: 'assistant', content: [{ type: 'text', text: s.colour }] }], enc, `probe example ${i}`);
    return { ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels: s.pixels };
  },
};

const outDir = mkdtempSync(join(tmpdir(), 'vlm2vla-probe-'));
const started = performance.now();
try {
  await train({
    model,
    params: model.setTrainable(true),
    train: examples,
    val: [],
    outDir,
    silent: true,
    config: {
      ...TRAINER_DEFAULTS,
      steps,
      batchSize: preset.batchSize,
      schedule: { kind: 'cosine', lr: Number(values.lr), warmupSteps: Math.min(10, steps), minLrRatio: 0.05 },
      weightDecay: preset.weightDecay,
      clip: 1,
      evalEvery: 0,
      checkpointEvery: steps,
      keepCheckpoints: 1,
      logEvery: steps,
      shuffle: false,
      lrMultipliers: visionFactor === 1 ? undefined : [{ prefix: 'vision_tower', factor: visionFactor }, { prefix: 'multi_modal_projector', factor: visionFactor }],
    },
  });
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
model.setTrainable(false);
const prompt = tok.encode(expandImageTokens(template.render([question], { addGenerationPrompt: true }), imageSpec(enc)!));
const tests = Array.from({ length: 64 }, (_, i) => sample(1_000_000 + i));
const gens = generate(model, tests.map((t) => ({ ids: prompt, pixels: t.pixels })), { maxNewTokens: 4, eosIds: answerStopIds({ model, tokenizer: tok, template }) });
const correct = gens.filter((g, i) => tok.decode(g.tokens, { skipSpecial: true }).trim() === tests[i]!.colour).length;
console.log(`square ${square} px${at === null ? '' : ` always at (${at}, ${at})`}, ${steps} steps, lr ${values.lr}, vision lr ×${visionFactor}: ${correct}/64 colours right (chance 8/64) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
