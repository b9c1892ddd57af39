// How fast the base architecture learns to read a small thing in an image, from scratch: a square of
// one of 8 colours at a random place on a grey 96 px image, "What colour is the object?", trained for
// a few steps at the base preset's batch size and learning rate, then asked on 64 new images.
// The base preset's VQA is limited by image grounding (docs/train.md); this is the smallest
// experiment that shows it, and the one to run before changing the vision recipe.
// Run: node --import tsx experiments/probes/grounding-probe.ts [--square PX] [--steps N] [--lr LR]
//      [--vision-lr-factor F] [--at PX] [--dense N] [--task colour|left] [--tokenizer DIR]
// --at puts the square's top-left corner at (PX, PX) in every image (the model then needs no search;
// the patches are 12 px, so --at 36 fills one patch with a 12 px square).
// --dense N first runs N steps of the pretraining's vision stage (src/train/vision-stage.ts) on the
// probe's own images: the tower and projector learn the square's colour (or nothing) per image token.
// --task left shows two squares of different colours, side by side at random places, and asks "Which
// colour is further left?" (where things are, not only what: the spatial questions of the corpus).
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRETRAIN_PRESETS, presetConfig } from '../../src/pretrain/pretrain.ts';
import { Tokenizer, ChatTemplate, expandImageTokens } from '../../src/tokenizer/index.ts';
import type { ChatMessage } from '../../src/tokenizer/index.ts';
import { Gemma3Model } from '../../src/models/index.ts';
import { train, TRAINER_DEFAULTS } from '../../src/train/trainer.ts';
import { encodeConversation } from '../../src/train/sft.ts';
import { imageSpec } from '../../src/models/index.ts';
import { answerStopIds } from '../../src/eval/vqa.ts';
import { generate } from '../../src/decode/generate.ts';
import { initBackend } from '../../src/tensor/index.ts';
import { imageToPixels } from '../../src/models/gemma3/preprocess.ts';
import { Rng } from '../../src/util/index.ts';
import { runVisionStage } from '../../src/pretrain/vision-stage.ts';
import { failWith, parseArgsOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('grounding-probe');
const { values } = parseArgsOrFail(
  {
    options: {
      square: { type: 'string', default: '12' },
      steps: { type: 'string', default: '100' },
      lr: { type: 'string', default: String(PRETRAIN_PRESETS.base!.lr) },
      'vision-lr-factor': { type: 'string', default: '1' },
      at: { type: 'string' },
      dense: { type: 'string', default: '0' },
      task: { type: 'string', default: 'colour' },
      tokenizer: { type: 'string', default: 'models/base' },
    },
  },
  fail,
);
const square = Number(values.square);
const steps = Number(values.steps);
const visionFactor = Number(values['vision-lr-factor']);
const at = values.at === undefined ? null : Number(values.at);
const denseSteps = Number(values.dense);
const task = values.task;
const SIZE = 96;
if (!(Number.isInteger(square) && square >= 1 && square <= SIZE)) fail(`--square must be a whole number of pixels from 1 to ${SIZE}`);
if (!(Number.isInteger(steps) && steps >= 1)) fail('--steps must be a positive whole number');
if (!(Number(values.lr) > 0) || !(visionFactor > 0)) fail('--lr and --vision-lr-factor must be positive numbers');
if (!(Number.isInteger(denseSteps) && denseSteps >= 0)) fail('--dense must be a whole number of steps (0 for none)');
if (task !== 'colour' && task !== 'left') fail('--task must be colour or left');
if (task === 'left' && (at !== null || square > 40)) fail('--task left places two squares at random: no --at, and --square at most 40');
if (at !== null && !(Number.isInteger(at) && at >= 0 && at + square <= SIZE))
  fail(`--at must place the square inside the ${SIZE} px image`);

await initBackend();
const tok = Tokenizer.fromDir(values.tokenizer);
const template = ChatTemplate.fromConfig(tok.config, join(values.tokenizer, 'tokenizer_config.json'))!;
const preset = PRETRAIN_PRESETS.base!;
const cfg = presetConfig(preset, tok);
if (cfg.modelType !== 'gemma3' || cfg.vision.imageSize !== SIZE)
  fail(`the base preset no longer takes ${SIZE} px images: update this probe`);
const model = Gemma3Model.random(cfg, { seed: 0, std: 0.02 });

const COLOURS: [string, [number, number, number]][] = [
  ['red', [220, 30, 30]],
  ['green', [30, 200, 30]],
  ['blue', [30, 30, 220]],
  ['yellow', [230, 220, 40]],
  ['purple', [130, 40, 160]],
  ['orange', [240, 140, 20]],
  ['black', [20, 20, 20]],
  ['white', [240, 240, 240]],
];
const PATCH = cfg.vision.patchSize;
const GRID = SIZE / PATCH;
if (GRID * GRID !== cfg.mmTokensPerImage) fail('the base preset pools its patches: update this probe');
/** An image, its colour, and per patch the colour's index if the square covers ≥ 4 of its pixels, else
 *  COLOURS.length (nothing). */
function sample(seed: number): { colour: string; pixels: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const img = { width: SIZE, height: SIZE, rgb: new Uint8Array(SIZE * SIZE * 3).fill(180) };
  const labels = new Int32Array(GRID * GRID).fill(COLOURS.length);
  const draw = (k: number, x0: number, y0: number) => {
    const covered = new Int32Array(GRID * GRID);
    for (let y = y0; y < y0 + square; y++) {
      for (let x = x0; x < x0 + square; x++) {
        img.rgb.set(COLOURS[k]![1], (y * SIZE + x) * 3);
        covered[Math.floor(y / PATCH) * GRID + Math.floor(x / PATCH)]!++;
      }
    }
    covered.forEach((n, i) => {
      if (n >= 4) labels[i] = k;
    });
  };
  const k = rng.int(0, COLOURS.length - 1);
  if (task === 'colour') {
    draw(k, at ?? rng.int(0, SIZE - square), at ?? rng.int(0, SIZE - square));
    return { colour: COLOURS[k]![0], pixels: imageToPixels(img, SIZE), labels };
  }
  // Two colours, the left one's left edge at least a square and 4 px before the other's.
  const other = (k + rng.int(1, COLOURS.length - 1)) % COLOURS.length;
  const xl = rng.int(0, SIZE - 2 * square - 4);
  const xr = rng.int(xl + square + 4, SIZE - square);
  draw(k, xl, rng.int(0, SIZE - square));
  draw(other, xr, rng.int(0, SIZE - square));
  return { colour: COLOURS[k]![0], pixels: imageToPixels(img, SIZE), labels };
}
const question: ChatMessage = {
  role: 'user',
  content: [{ type: 'image' }, { type: 'text', text: task === 'colour' ? 'What colour is the object?' : 'Which colour is further left?' }],
};
const enc = { tokenizer: tok, template, cfg };
const examples = {
  length: steps * preset.batchSize,
  at(i: number) {
    const s = sample(i + 1);
    const { ids, mask } = encodeConversation(
      [question, { role: 'assistant', content: [{ type: 'text', text: s.colour }] }],
      enc,
      `probe example ${i}`,
    );
    return { ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels: s.pixels };
  },
};

const outDir = mkdtempSync(join(tmpdir(), 'vlm2vla-probe-'));
const started = performance.now();
let denseNote = '';
try {
  if (denseSteps > 0) {
    const dense = (offset: number, length: number) => ({
      length,
      at: (i: number) => ({ ids: new Int32Array(0), mask: new Uint8Array(0), ...sample(offset + i) }),
    });
    const r = await runVisionStage(
      model,
      { steps: denseSteps, batchSize: preset.batchSize, lr: 2e-3 },
      {
        seed: 0,
        runDir: join(outDir, 'vision'),
        silent: true,
        data: {
          train: dense(5_000_000, denseSteps * preset.batchSize),
          heldOut: dense(6_000_000, 128),
          classes: COLOURS.length + 1,
          nothing: COLOURS.length,
        },
      },
    );
    denseNote = ` after ${denseSteps} vision-stage steps (held-out square patches ${(r.objectCellAccuracy * 100).toFixed(0)}% right)`;
  }
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
      lrMultipliers:
        visionFactor === 1
          ? undefined
          : [
              { prefix: 'vision_tower', factor: visionFactor },
              { prefix: 'multi_modal_projector', factor: visionFactor },
            ],
    },
  });
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
model.setTrainable(false);
const prompt = tok.encode(expandImageTokens(template.render([question], { addGenerationPrompt: true }), imageSpec(enc)!));
const tests = Array.from({ length: 64 }, (_, i) => sample(1_000_000 + i));
const gens = generate(
  model,
  tests.map((t) => ({ ids: prompt, pixels: t.pixels })),
  { maxNewTokens: 4, eosIds: answerStopIds({ model, tokenizer: tok, template }) },
);
const correct = gens.filter((g, i) => tok.decode(g.tokens, { skipSpecial: true }).trim() === tests[i]!.colour).length;
console.log(
  `${task === 'left' ? 'left of two squares' : 'square'} ${square} px${at === null ? '' : ` always at (${at}, ${at})`}, ${steps} steps, lr ${values.lr}, vision lr ×${visionFactor}${denseNote}: ${correct}/64 colours right (chance 8/64${task === 'left' ? '; 32/64 naming one of the two shown' : ''}) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
