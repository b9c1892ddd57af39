// The vision stage of pretraining: before the language stage, the SigLIP tower and the projector of a
// from-scratch model learn to say, for every image token, which catalogue object (or the gripper, or
// nothing) covers its cell of the image, through a linear head that is then dropped. The renderer
// knows what every pixel shows, so the labels are exact.
//
// Why: trained only through the language loss, the tower of a from-scratch model loses the detail of
// objects smaller than a patch before the decoder learns to read it (docs/train.md, the grounding
// probe); real VLMs start from a pretrained SigLIP. With this stage the probe reads a 6 px square at a
// fixed place (64/64, against 6/64 without) and an 8 px square at random places (64/64, against 6/64).
import { join } from 'node:path';
import { UsageError } from '../errors/index.ts';
import type { Gemma3Model } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { CATALOGUE } from '../sim/catalogue.ts';
import { GRIPPER_OWNER, render } from '../sim/renderer.ts';
import { Tensor, crossEntropy, linear, noGrad } from '../tensor/index.ts';
import { Rng, readJsonl } from '../util/index.ts';
import { sceneWorld, visionScene } from './corpus.ts';
import type { Scene } from './corpus.ts';
import { TRAINER_DEFAULTS, train } from './trainer.ts';
import type { ExampleSource, StepMetrics, TrainExample } from './trainer.ts';

export interface VisionStage {
  steps: number;
  /** Images per step. */
  batchSize: number;
  lr: number;
}

/** Classes of the dense head: the catalogue's objects in order, then the gripper, then nothing. */
export const VISION_CLASSES = CATALOGUE.length + 2;
export const GRIPPER_CLASS = CATALOGUE.length;
export const NOTHING_CLASS = CATALOGUE.length + 1;
const CLASS_OF = new Map(CATALOGUE.map((o, i) => [o.id, i]));

/** The image of a scene and the class of each of its grid × grid cells: what covers most of the
 *  cell's pixels, if that covers at least 1/36 of them (4 of a 12 px cell), else nothing. */
export function denseLabels(scene: Scene, imageSize: number, grid: number): { pixels: Float32Array; labels: Int32Array } {
  if (!(Number.isInteger(grid) && grid >= 1 && imageSize % grid === 0)) throw new UsageError(`the vision stage needs the image (${imageSize} px) to split into ${grid}×${grid} whole cells`, 'choose mm_tokens_per_image as a square whose side divides image_size');
  const world = sceneWorld(scene);
  const owners = new Int16Array(imageSize * imageSize);
  const img = render(world, imageSize, imageSize, undefined, owners);
  const cell = imageSize / grid;
  const min = Math.max(1, Math.round((cell * cell) / 36));
  const classOf = world.objects.map((o) => CLASS_OF.get(o.id)!);
  const labels = new Int32Array(grid * grid);
  const counts = new Int32Array(VISION_CLASSES);
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      counts.fill(0);
      for (let y = gy * cell; y < (gy + 1) * cell; y++) {
        for (let x = gx * cell; x < (gx + 1) * cell; x++) {
          const o = owners[y * imageSize + x]!;
          if (o >= 0) counts[classOf[o]!]!++;
          else if (o === GRIPPER_OWNER) counts[GRIPPER_CLASS]!++;
        }
      }
      let best = NOTHING_CLASS;
      for (let k = 0; k < NOTHING_CLASS; k++) if (counts[k]! >= min && (best === NOTHING_CLASS || counts[k]! > counts[best]!)) best = k;
      labels[gy * grid + gx] = best;
    }
  }
  return { pixels: imageToPixels(img, imageSize), labels };
}

/** Scenes of the vision stream as dense examples, computed on demand. */
export class VisionSource implements ExampleSource {
  constructor(
    readonly seed: number,
    readonly length: number,
    readonly imageSize: number,
    readonly grid: number,
    /** Index of the first scene (held-out scenes use a range training never reaches). */
    readonly offset = 0,
  ) {}

  at(index: number): TrainExample | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    const { pixels, labels } = denseLabels(visionScene(this.seed, this.offset + index), this.imageSize, this.grid);
    return { ids: new Int32Array(0), mask: new Uint8Array(0), pixels, labels };
  }
}

function imageGeometry(model: Gemma3Model): { imageSize: number; grid: number; hidden: number } {
  if (model.cfg.modelType !== 'gemma3') throw new UsageError('the vision stage needs a gemma3 vision-language model');
  return { imageSize: model.cfg.vision.imageSize, grid: Math.round(Math.sqrt(model.cfg.mmTokensPerImage)), hidden: model.text.hiddenSize };
}

/** Logits [images · tokens, classes] of the dense head over the model's image tokens. */
function denseLogits(model: Gemma3Model, head: Tensor, examples: readonly TrainExample[]): { logits: Tensor; labels: Int32Array } {
  const px = new Float32Array(examples.reduce((a, e) => a + e.pixels!.length, 0));
  const labels = new Int32Array(examples.reduce((a, e) => a + e.labels!.length, 0));
  let p = 0;
  let l = 0;
  for (const e of examples) {
    px.set(e.pixels!, p);
    labels.set(e.labels!, l);
    p += e.pixels!.length;
    l += e.labels!.length;
  }
  return { logits: linear(model.encodeImages(px), head, null), labels };
}

export interface VisionStageResult {
  steps: number;
  /** Sum of step times (all sessions). */
  seconds: number;
  /** On held-out scenes: the share of cells classified right, and of cells that show an object. */
  cellAccuracy: number;
  objectCellAccuracy: number;
}

/** Other dense data than rendered scenes (the grounding probe's squares): examples with pixels and
 *  a label per image token, `classes` labels of which `nothing` marks an empty cell. */
export interface DenseData {
  train: ExampleSource;
  heldOut: ExampleSource;
  classes: number;
  nothing: number;
}

/** Runs (or resumes, or just reloads when done) the vision stage in `runDir`: trains the model's
 *  vision_tower.* and multi_modal_projector.* tensors in place. */
export async function runVisionStage(model: Gemma3Model, stage: VisionStage, o: { seed: number; runDir: string; resume?: boolean; silent?: boolean; data?: DenseData }): Promise<VisionStageResult> {
  const { imageSize, grid, hidden } = imageGeometry(model);
  const data: DenseData = o.data ?? {
    train: new VisionSource(o.seed, stage.steps * stage.batchSize, imageSize, grid),
    heldOut: new VisionSource(o.seed, 128, imageSize, grid, 2_000_000_000),
    classes: VISION_CLASSES,
    nothing: NOTHING_CLASS,
  };
  const classes = data.classes;
  const params = [...model.params.entries()]
    .filter(([n, w]) => (n.startsWith('vision_tower.') || n.startsWith('multi_modal_projector.')) && w instanceof Tensor)
    .map(([, w]) => w as Tensor);
  const head = new Tensor([classes, hidden], new Rng(o.seed ^ 0xd3a5e).fillNormal(new Float32Array(classes * hidden), 0.02), { name: 'dense_head.weight' });
  for (const p of params) p.requiresGrad = true;
  try {
    await train({
      model,
      params: [...params, head],
      train: data.train,
      val: [],
      loss: (examples) => {
        const { logits, labels } = denseLogits(model, head, examples);
        return { loss: crossEntropy(logits, labels), tokens: labels.length };
      },
      config: {
        ...TRAINER_DEFAULTS,
        steps: stage.steps,
        batchSize: stage.batchSize,
        schedule: { kind: 'cosine', lr: stage.lr, warmupSteps: Math.min(20, Math.floor(stage.steps / 10)), minLrRatio: 0.1 },
        weightDecay: 0,
        clip: 1,
        seed: o.seed,
        evalEvery: 0,
        checkpointEvery: Math.max(1, Math.min(100, stage.steps)),
        keepCheckpoints: 2,
        logEvery: 10,
        shuffle: false,
      },
      outDir: o.runDir,
      resume: o.resume,
      silent: o.silent,
    });
  } finally {
    for (const p of params) p.requiresGrad = false;
  }
  const metrics = readJsonl<StepMetrics>(join(o.runDir, 'metrics.jsonl'));
  const seconds = metrics.reduce((a, m) => a + (m.tokensPerSec > 0 ? m.tokens / m.tokensPerSec : 0), 0);
  return { steps: stage.steps, seconds, ...denseAccuracy(model, head, data) };
}

function denseAccuracy(model: Gemma3Model, head: Tensor, data: DenseData): { cellAccuracy: number; objectCellAccuracy: number } {
  const source = data.heldOut;
  const K = data.classes;
  let right = 0;
  let cells = 0;
  let objRight = 0;
  let objCells = 0;
  for (let start = 0; start < source.length; start += 16) {
    const batch = Array.from({ length: Math.min(16, source.length - start) }, (_, i) => source.at(start + i)!);
    const { logits, labels } = noGrad(() => denseLogits(model, head, batch));
    for (let r = 0; r < labels.length; r++) {
      const row = logits.data.subarray(r * K, (r + 1) * K);
      let arg = 0;
      for (let k = 1; k < K; k++) if (row[k]! > row[arg]!) arg = k;
      const ok = arg === labels[r];
      cells++;
      if (ok) right++;
      if (labels[r] !== data.nothing) {
        objCells++;
        if (ok) objRight++;
      }
    }
  }
  return { cellAccuracy: right / cells, objectCellAccuracy: objCells > 0 ? objRight / objCells : 0 };
}
