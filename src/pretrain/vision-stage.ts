// The vision stage of pretraining: before the language stage, the SigLIP tower and the projector of a
// from-scratch model learn to say, for every image token, which catalogue object (or the gripper, or
// nothing) covers its cell of the image, through a linear head that is then dropped. The renderer
// knows what every pixel shows, so the labels are exact.
//
// Why: trained only through the language loss, the tower of a from-scratch model loses the detail of
// objects smaller than a patch before the decoder learns to read it; real VLMs start from a pretrained
// SigLIP. With `positions`, two more heads learn where on the table the thing in each cell stands
// (2 cm bins), so the image tokens carry positions the decoder can read. Measurements:
// docs/notes/2026-11-29.md.
import { join } from 'node:path';
import { UsageError } from '../errors/index.ts';
import { argmax } from '../decode/sampling.ts';
import type { Gemma3Model } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { CATALOGUE } from '../sim/catalogue.ts';
import { GRIPPER_OWNER, render } from '../sim/renderer.ts';
import { Tensor, add, crossEntropy, linear, noGrad } from '../tensor/index.ts';
import { Rng, readJsonl } from '../util/index.ts';
import { sceneWorld, visionScene } from '../corpus/corpus.ts';
import type { Scene } from '../corpus/conversation.ts';
import { TRAINER_DEFAULTS, train } from '../train/trainer.ts';
import type { ExampleSource, StepMetrics, TrainExample } from '../train/trainer.ts';

/** A rendered scene with a class label per image token (and, with positions, two more blocks of labels). */
export interface DenseExample extends TrainExample {
  labels: Int32Array;
}

export interface VisionStage {
  steps: number;
  /** Images per step. */
  batchSize: number;
  lr: number;
  /** Also learn where on the table the thing in each cell stands (its x and y in 2 cm bins, two more
   *  linear heads), so the image tokens carry positions the decoder can read (default false). */
  positions?: boolean;
}

/** Classes of the dense head: the catalogue's objects in order, then the gripper, then nothing. */
export const VISION_CLASSES = CATALOGUE.length + 2;
export const GRIPPER_CLASS = CATALOGUE.length;
export const NOTHING_CLASS = CATALOGUE.length + 1;
const CLASS_OF = new Map(CATALOGUE.map((o, i) => [o.id, i]));

/** Position bins of the stage's `positions` heads: table x (forward) from 0.20 m and y (left) from
 *  −0.24 m in 2 cm steps, clamped at the ends. Cells that show nothing have no position (IGNORE). */
export const POSITION_BIN = 0.02;
export const X_BINS = 16;
export const Y_BINS = 24;
export const IGNORE = -100;
export const xBin = (x: number) => Math.min(X_BINS - 1, Math.max(0, Math.floor((x - 0.2) / POSITION_BIN + 1e-6)));
export const yBin = (y: number) => Math.min(Y_BINS - 1, Math.max(0, Math.floor((y + 0.24) / POSITION_BIN + 1e-6)));

/** The image of a scene and the class of each of its grid × grid cells: what covers most of the
 *  cell's pixels, if that covers at least 1/36 of them (4 of a 12 px cell), else nothing. With
 *  `positions`, two more blocks of grid × grid labels follow: the x bin and the y bin of where that
 *  object (or the gripper) stands, IGNORE for cells that show nothing. */
export function denseLabels(
  scene: Scene,
  imageSize: number,
  grid: number,
  positions = false,
): { pixels: Float32Array; labels: Int32Array } {
  if (!(Number.isInteger(grid) && grid >= 1 && imageSize % grid === 0))
    throw new UsageError(
      `the vision stage needs the image (${imageSize} px) to split into ${grid}×${grid} whole cells`,
      'choose mm_tokens_per_image as a square whose side divides image_size',
    );
  const world = sceneWorld(scene);
  const owners = new Int16Array(imageSize * imageSize);
  const img = render(world, imageSize, imageSize, undefined, owners);
  const cell = imageSize / grid;
  const min = Math.max(1, Math.round((cell * cell) / 36));
  const classOf = world.objects.map((o) => CLASS_OF.get(o.id)!);
  const cells = grid * grid;
  const labels = new Int32Array(positions ? 3 * cells : cells);
  const counts = new Int32Array(VISION_CLASSES);
  const ownerOf = new Int32Array(VISION_CLASSES).fill(-1);
  world.objects.forEach((o, i) => (ownerOf[classOf[i]!] = i));
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
      const c = gy * grid + gx;
      labels[c] = best;
      if (positions) {
        const at = best === NOTHING_CLASS ? null : best === GRIPPER_CLASS ? scene.gripper : scene.placements[ownerOf[best]!]!;
        labels[cells + c] = at ? xBin(at.x) : IGNORE;
        labels[2 * cells + c] = at ? yBin(at.y) : IGNORE;
      }
    }
  }
  return { pixels: imageToPixels(img, imageSize), labels };
}

/** Scenes of the vision stream as dense examples, computed on demand. */
export class VisionSource implements ExampleSource<DenseExample> {
  constructor(
    readonly seed: number,
    readonly length: number,
    readonly imageSize: number,
    readonly grid: number,
    /** Index of the first scene (held-out scenes use a range training never reaches). */
    readonly offset = 0,
    /** Labels with the two position blocks (denseLabels). */
    readonly positions = false,
  ) {}

  at(index: number): DenseExample | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    const { pixels, labels } = denseLabels(visionScene(this.seed, this.offset + index), this.imageSize, this.grid, this.positions);
    return { ids: new Int32Array(0), mask: new Uint8Array(0), pixels, labels };
  }
}

function imageGeometry(model: Gemma3Model): { imageSize: number; grid: number; hidden: number } {
  if (model.cfg.modelType !== 'gemma3') throw new UsageError('the vision stage needs a gemma3 vision-language model');
  return { imageSize: model.cfg.vision.imageSize, grid: Math.round(Math.sqrt(model.cfg.mmTokensPerImage)), hidden: model.text.hiddenSize };
}

/** The stage's linear heads: the class of each cell, and with positions its x and y bins. */
interface DenseHeads {
  cls: Tensor;
  x?: Tensor;
  y?: Tensor;
}

/** Per head, logits [images · tokens, classes] over the model's image tokens and the matching labels
 *  (the examples' label blocks split per head). */
function denseLogits(
  model: Gemma3Model,
  heads: DenseHeads,
  examples: readonly DenseExample[],
): { cls: Tensor; labels: Int32Array; x?: Tensor; xLabels?: Int32Array; y?: Tensor; yLabels?: Int32Array } {
  const px = new Float32Array(examples.reduce((a, e) => a + e.pixels!.length, 0));
  const labels = new Int32Array(examples.reduce((a, e) => a + e.labels.length, 0));
  let p = 0;
  let l = 0;
  for (const e of examples) {
    px.set(e.pixels!, p);
    labels.set(e.labels, l);
    p += e.pixels!.length;
    l += e.labels.length;
  }
  const features = model.encodeImages(px);
  const cls = linear(features, heads.cls, null);
  if (!heads.x || !heads.y) return { cls, labels };
  // Each example's labels are three blocks of one label per token: class, x bin, y bin.
  const tokens = features.shape[0]!;
  const per = tokens / examples.length;
  const split = (block: number) => {
    const out = new Int32Array(tokens);
    examples.forEach((_, i) => out.set(labels.subarray((3 * i + block) * per, (3 * i + block + 1) * per), i * per));
    return out;
  };
  return {
    cls,
    labels: split(0),
    x: linear(features, heads.x, null),
    xLabels: split(1),
    y: linear(features, heads.y, null),
    yLabels: split(2),
  };
}

export interface VisionStageResult {
  steps: number;
  /** Sum of step times (all sessions). */
  seconds: number;
  /** On held-out scenes: the share of cells classified right, and of cells that show an object. */
  cellAccuracy: number;
  objectCellAccuracy: number;
  /** With positions: the share of cells showing an object whose x and y bins are both within one bin
   *  (2 cm) of the truth. */
  positionAccuracy?: number;
}

/** Other dense data than rendered scenes (the grounding probe's squares): examples with pixels and
 *  a label per image token, `classes` labels of which `nothing` marks an empty cell. */
export interface DenseData {
  train: ExampleSource<DenseExample>;
  heldOut: ExampleSource<DenseExample>;
  classes: number;
  nothing: number;
}

/** Runs (or resumes, or just reloads when done) the vision stage in `runDir`: trains the model's
 *  vision_tower.* and multi_modal_projector.* tensors in place. */
export async function runVisionStage(
  model: Gemma3Model,
  stage: VisionStage,
  o: { seed: number; runDir: string; resume?: boolean; silent?: boolean; data?: DenseData },
): Promise<VisionStageResult> {
  const { imageSize, grid, hidden } = imageGeometry(model);
  const data: DenseData = o.data ?? {
    train: new VisionSource(o.seed, stage.steps * stage.batchSize, imageSize, grid, 0, stage.positions ?? false),
    heldOut: new VisionSource(o.seed, 128, imageSize, grid, 2_000_000_000, stage.positions ?? false),
    classes: VISION_CLASSES,
    nothing: NOTHING_CLASS,
  };
  const classes = data.classes;
  const params = [...model.params.entries()]
    .filter(([n, w]) => (n.startsWith('vision_tower.') || n.startsWith('multi_modal_projector.')) && w instanceof Tensor)
    .map(([, w]) => w as Tensor);
  const rng = new Rng(o.seed ^ 0xd3a5e);
  const headOf = (rows: number, name: string) =>
    new Tensor([rows, hidden], rng.fillNormal(new Float32Array(rows * hidden), 0.02), { name });
  if (stage.positions && o.data)
    throw new UsageError(
      'the vision stage learns positions only on rendered scenes, not on other dense data',
      'drop positions from the stage, or its data',
    );
  const positions = stage.positions ?? false;
  const heads: DenseHeads = { cls: headOf(classes, 'dense_head.weight') };
  if (positions) {
    heads.x = headOf(X_BINS, 'dense_x_head.weight');
    heads.y = headOf(Y_BINS, 'dense_y_head.weight');
  }
  for (const p of params) p.requiresGrad = true;
  try {
    await train({
      model,
      params: [...params, heads.cls, ...(positions ? [heads.x!, heads.y!] : [])],
      train: data.train,
      val: [],
      objective: (_model, examples) => {
        const d = denseLogits(model, heads, examples);
        let loss = crossEntropy(d.cls, d.labels);
        if (d.x && d.y) loss = add(add(loss, crossEntropy(d.x, d.xLabels!, IGNORE)), crossEntropy(d.y, d.yLabels!, IGNORE));
        return { loss, tokens: d.labels.length };
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
  return { steps: stage.steps, seconds, ...denseAccuracy(model, heads, data) };
}

function denseAccuracy(
  model: Gemma3Model,
  heads: DenseHeads,
  data: DenseData,
): { cellAccuracy: number; objectCellAccuracy: number; positionAccuracy?: number } {
  const source = data.heldOut;
  const K = data.classes;
  let right = 0;
  let cells = 0;
  let objRight = 0;
  let objCells = 0;
  let posRight = 0;
  let posCells = 0;
  for (let start = 0; start < source.length; start += 16) {
    const batch = Array.from({ length: Math.min(16, source.length - start) }, (_, i) => source.at(start + i)!);
    const d = noGrad(() => denseLogits(model, heads, batch));
    const labels = d.labels;
    for (let r = 0; r < labels.length; r++) {
      const ok = argmax(d.cls.data.subarray(r * K, (r + 1) * K)) === labels[r];
      if (d.x && d.y && d.xLabels![r] !== IGNORE && labels[r] !== GRIPPER_CLASS && labels[r] !== data.nothing) {
        posCells++;
        const near = (logits: Tensor, rows: number, truth: number) =>
          Math.abs(argmax(logits.data.subarray(r * rows, (r + 1) * rows)) - truth) <= 1;
        if (near(d.x, X_BINS, d.xLabels![r]!) && near(d.y, Y_BINS, d.yLabels![r]!)) posRight++;
      }
      cells++;
      if (ok) right++;
      if (labels[r] !== data.nothing) {
        objCells++;
        if (ok) objRight++;
      }
    }
  }
  return {
    cellAccuracy: right / cells,
    objectCellAccuracy: objCells > 0 ? objRight / objCells : 0,
    ...(heads.x ? { positionAccuracy: posCells > 0 ? posRight / posCells : 0 } : {}),
  };
}
