// The trainer: one loop for pretraining and fine-tuning. The loss of a micro-batch comes from an
// objective (default: next-token cross-entropy only on the tokens an example marks — assistant
// tokens); recipes pass their own (the pretraining's vision stage and grounding). AdamW, a
// learning-rate schedule with warm-up, gradient accumulation and clipping, validation loss every N
// steps, crash-safe checkpoints every N steps and at the end (trainable tensors, optimizer moments,
// data cursor, RNG state), exact resume, metrics JSONL and a loss-curve SVG.
//
// Determinism: the example order of epoch e is a shuffle seeded by (seed, e); a micro-batch takes the
// next `batchSize` examples from a cursor that runs across epochs. Dropout randomness comes from one
// RNG whose state is checkpointed. So a resumed run computes exactly the losses of an uninterrupted one.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError } from '../errors/index.ts';
import { SafetensorsFile, writeSafetensors } from '../formats/index.ts';
import type { TensorToWrite } from '../formats/index.ts';
import { Tensor, AdamW, backward, clipGradNorm, crossEntropy, noGrad, scale } from '../tensor/index.ts';
import type { Gemma3Model } from '../models/gemma3/model.ts';
import { lineChart } from '../util/line-chart.ts';
import { Progress, Rng, crashPoint, readJsonl, trimTornTail, writeFileAtomic } from '../util/index.ts';
import { CheckpointStore } from './checkpoint.ts';
import { checkSchedule, lrAt } from './schedule.ts';
import type { ScheduleConfig } from './schedule.ts';

/** One training sequence: token ids, which tokens are predicted (1) — assistant tokens — and the
 *  pixels of its images in order (or null). */
export interface TrainExample {
  ids: Int32Array;
  mask: Uint8Array;
  pixels: Float32Array | null;
}

/** Training examples by index: an array, or a generator-backed source such as the pretraining
 *  corpus (computed on demand, so a corpus larger than memory can be shuffled and resumed). */
export interface ExampleSource<E extends TrainExample = TrainExample> {
  readonly length: number;
  at(index: number): E | undefined;
}

/** What one micro-batch contributes: its mean loss (null: nothing in it to train), how many tokens it
 *  processed (for throughput), and named numbers for the step's metrics line (averaged over the
 *  micro-batches of a step that report them). */
export interface ObjectiveResult {
  loss: Tensor | null;
  tokens: number;
  metrics?: Record<string, number>;
}

/** A training objective: the loss of one micro-batch of examples under the model. */
export type Objective<E extends TrainExample = TrainExample> = (model: Gemma3Model, batch: readonly E[]) => ObjectiveResult;

/** The default objective: mean next-token cross-entropy over the marked tokens; `tokens` counts every
 *  token of the batch. */
export const nextTokenObjective: Objective = (model, examples) => {
  const { input, targets } = makeBatch(examples, model.text.padTokenId);
  const tokens = input.kvLen.reduce((a, b) => a + b, 0);
  if (targets.length === 0) return { loss: null, tokens };
  return { loss: crossEntropy(model.forward(input), targets), tokens };
};

function exampleAt<E extends TrainExample>(source: ExampleSource<E>, i: number): E {
  const e = source.at(i);
  if (!e) throw new RangeError(`example ${i} of ${source.length} is missing`);
  return e;
}

export interface TrainerConfig {
  steps: number;
  batchSize: number;
  gradAccum: number;
  schedule: Omit<ScheduleConfig, 'totalSteps'>;
  weightDecay: number;
  /** Max global gradient norm (0 = no clipping). */
  clip: number;
  seed: number;
  /** Validation loss every N steps (0 = only at the end). */
  evalEvery: number;
  /** Checkpoint every N steps (and always at the end). */
  checkpointEvery: number;
  keepCheckpoints: number;
  /** Log a metrics line every N steps. */
  logEvery: number;
  /** Learning-rate multipliers by parameter-name prefix (the first match wins; others get 1), e.g.
   *  a faster vision tower when pretraining from scratch. */
  lrMultipliers?: { prefix: string; factor: number }[];
  /** Shuffle the examples of each epoch (default true). Off for sources whose order matters, e.g. a
   *  pretraining corpus with a warm-up phase at its start (its conversations are random already). */
  shuffle?: boolean;
}

export const TRAINER_DEFAULTS: TrainerConfig = {
  steps: 100,
  batchSize: 4,
  gradAccum: 1,
  schedule: { kind: 'cosine', lr: 2e-4, warmupSteps: 10, minLrRatio: 0.1 },
  weightDecay: 0,
  clip: 1,
  seed: 0,
  evalEvery: 50,
  checkpointEvery: 50,
  keepCheckpoints: 2,
  logEvery: 1,
};

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSec: number;
  valLoss?: number;
  /** The objective's own numbers (`ObjectiveResult.metrics`), e.g. the pretraining's `attendLoss`. */
  [metric: string]: number | undefined;
}

export interface TrainerRun<E extends TrainExample = TrainExample> {
  model: Gemma3Model;
  /** The trainable tensors (adapter matrices or full weights), each with a unique name. */
  params: Tensor[];
  train: ExampleSource<E>;
  /** Scored with next-token loss (`evaluateLoss`) every `evalEvery` steps and at the end; empty = never. */
  val: ExampleSource;
  config: TrainerConfig;
  /** Where checkpoints/, metrics.jsonl and loss.svg go. */
  outDir: string;
  resume?: boolean;
  silent?: boolean;
  /** Called after every optimizer step (tests, the CLI). */
  onStep?: (m: StepMetrics) => void;
  /** The loss of a micro-batch (default `nextTokenObjective`). */
  objective?: Objective<E>;
}

export interface TrainResult {
  steps: number;
  resumedFrom: number | null;
  finalLoss: number;
  finalValLoss: number | null;
  metrics: StepMetrics[];
  seconds: number;
}

export function checkTrainerConfig(c: TrainerConfig): void {
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  };
  posInt(c.steps, 'steps');
  posInt(c.batchSize, 'batch size');
  posInt(c.gradAccum, 'gradient accumulation');
  posInt(c.checkpointEvery, 'checkpoint interval');
  posInt(c.logEvery, 'log interval');
  if (!(Number.isInteger(c.evalEvery) && c.evalEvery >= 0)) throw new UsageError(`eval interval must be >= 0, got ${c.evalEvery}`);
  if (!(c.weightDecay >= 0 && Number.isFinite(c.weightDecay))) throw new UsageError(`weight decay must be >= 0, got ${c.weightDecay}`);
  if (!(c.clip >= 0 && Number.isFinite(c.clip))) throw new UsageError(`clip must be >= 0, got ${c.clip}`);
  checkSchedule({ ...c.schedule, totalSteps: c.steps });
  for (const m of c.lrMultipliers ?? []) {
    if (!(m.factor > 0 && Number.isFinite(m.factor)))
      throw new UsageError(`learning-rate multiplier for ${m.prefix} must be > 0, got ${m.factor}`);
  }
}

/** The learning-rate multiplier of each parameter name under `lrMultipliers`. */
export function lrScales(names: readonly string[], multipliers: TrainerConfig['lrMultipliers']): number[] {
  return names.map((n) => multipliers?.find((m) => n.startsWith(m.prefix))?.factor ?? 1);
}

/** Inputs of a micro-batch: right-padded ids, valid lengths, the rows whose next token is trained
 *  and those targets. */
export function makeBatch(examples: readonly TrainExample[], padId: number) {
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.ids.length));
  const ids = new Int32Array(B * T).fill(padId);
  const kvLen = new Int32Array(B);
  const rows: number[] = [];
  const targets: number[] = [];
  const pixels: Float32Array[] = [];
  examples.forEach((e, b) => {
    ids.set(e.ids, b * T);
    kvLen[b] = e.ids.length;
    for (let t = 1; t < e.ids.length; t++) {
      if (e.mask[t]) {
        rows.push(b * T + t - 1);
        targets.push(e.ids[t]!);
      }
    }
    if (e.pixels) pixels.push(e.pixels);
  });
  let px: Float32Array | null = null;
  if (pixels.length > 0) {
    px = new Float32Array(pixels.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of pixels) (px.set(p, at), (at += p.length));
  }
  return { input: { ids, batch: B, length: T, kvLen, pixels: px, rows: Int32Array.from(rows) }, targets: Int32Array.from(targets) };
}

function permutation(n: number, seed: number, epoch: number): Int32Array {
  const rng = new Rng((seed * 1_000_003 + epoch * 7919) >>> 0);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Mean next-token loss over the marked tokens of a set of examples (no gradient). */
export function evaluateLoss(model: Gemma3Model, examples: ExampleSource, batchSize: number): number {
  let total = 0;
  let count = 0;
  const rng = model.rng;
  model.rng = null;
  try {
    for (let i = 0; i < examples.length; i += batchSize) {
      const batch = Array.from({ length: Math.min(batchSize, examples.length - i) }, (_, k) => exampleAt(examples, i + k));
      const { input, targets } = makeBatch(batch, model.text.padTokenId);
      if (targets.length === 0) continue;
      const loss = noGrad(() => crossEntropy(model.forward(input), targets).item());
      total += loss * targets.length;
      count += targets.length;
    }
  } finally {
    model.rng = rng;
  }
  return count > 0 ? total / count : Number.NaN;
}

function tensorsFile(path: string, tensors: Map<string, Float32Array>, shapes: Map<string, readonly number[]>): void {
  const out = new Map<string, TensorToWrite>();
  for (const [name, data] of tensors) out.set(name, { dtype: 'F32', shape: [...shapes.get(name)!], data });
  writeSafetensors(path, out, { format: 'pt' });
}

interface ResumeMeta {
  cursor: number;
  rng: (number | null)[];
  adamStep: number;
  names: string[];
  shapes: number[][];
}

/** The resume state of a checkpoint manifest, checked field by field. */
function checkResumeMeta(meta: Record<string, unknown>, file: string): ResumeMeta {
  const bad = (field: string): never => {
    throw new FormatError('E_CHECKPOINT_META', `${file}: meta.${field} is missing or malformed`, {
      file,
      field: `meta.${field}`,
      fix: 'the checkpoint was edited or written by another tool; delete it to resume from an older one',
    });
  };
  const m = meta as Partial<ResumeMeta>;
  if (!Number.isInteger(m.cursor) || m.cursor! < 0) bad('cursor');
  if (!Number.isInteger(m.adamStep) || m.adamStep! < 0) bad('adamStep');
  if (!Array.isArray(m.names) || !m.names.every((n) => typeof n === 'string')) bad('names');
  if (
    !Array.isArray(m.shapes) ||
    m.shapes.length !== m.names!.length ||
    !m.shapes.every((s) => Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0))
  )
    bad('shapes');
  if (!Array.isArray(m.rng)) bad('rng');
  try {
    Rng.fromState(m.rng!);
  } catch {
    bad('rng');
  }
  return m as ResumeMeta;
}

/** Refuses a run folder that already holds checkpoints unless the run is resumed: a new run never
 *  overwrites or mixes with an old one. Callers may check early (before loading data); train() checks
 *  again. */
export function assertNewRun(outDir: string): void {
  const dir = join(outDir, 'checkpoints');
  if (existsSync(dir) && readdirSync(dir).some((n) => /^step-\d{8}$/.test(n))) {
    throw new UsageError(`${outDir} already holds checkpoints of a run`, 'resume it (--resume), or choose a new output folder');
  }
}

const LOCK_FILE = '.lock';
const heldLocks = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the run folder for this process (RELIABILITY T4.5): a second trainer on the same folder
 *  fails at once; a lock left by a dead process (SIGKILL) is taken over. Returns the release. */
export function lockRunDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  if (heldLocks.has(path)) throw new UsageError(`${dir} is in use by another trainer in this process`, 'train into another folder');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldLocks.add(path);
      return () => {
        heldLocks.delete(path);
        rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pidAlive(pid)) {
        throw new UsageError(
          `${dir} is in use by another trainer (process ${pid})`,
          'wait for it to finish, stop it, or train into another folder',
        );
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new UsageError(`cannot lock ${dir}`, 'check that the folder is writable');
}

/** Pre-flight for commands that load a model before training: refuses at once a run folder that a
 *  live trainer holds (train() still takes the lock itself; this only moves the refusal before the
 *  seconds of loading). */
export function assertRunDirFree(dir: string): void {
  const path = join(dir, LOCK_FILE);
  if (heldLocks.has(path)) throw new UsageError(`${dir} is in use by another trainer in this process`, 'train into another folder');
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid !== process.pid && pidAlive(pid)) {
    throw new UsageError(
      `${dir} is in use by another trainer (process ${pid})`,
      'wait for it to finish, stop it, or train into another folder',
    );
  }
}

export async function train<E extends TrainExample>(run: TrainerRun<E>): Promise<TrainResult> {
  mkdirSync(run.outDir, { recursive: true });
  const release = lockRunDir(run.outDir);
  try {
    return await trainLocked(run);
  } finally {
    release();
  }
}

async function trainLocked<E extends TrainExample>(run: TrainerRun<E>): Promise<TrainResult> {
  const objective: Objective<E> = run.objective ?? nextTokenObjective;
  if (!run.resume) assertNewRun(run.outDir);
  const c = run.config;
  checkTrainerConfig(c);
  if (run.train.length === 0) throw new UsageError('the training set is empty');
  const names = run.params.map((p, i) => p.name ?? `param.${i}`);
  if (new Set(names).size !== names.length) throw new UsageError('trainable tensors need unique names');
  for (const p of run.params) p.requiresGrad = true;
  const schedule: ScheduleConfig = { ...c.schedule, totalSteps: c.steps };
  const opt = new AdamW(run.params, { lr: c.schedule.lr, weightDecay: c.weightDecay }, lrScales(names, c.lrMultipliers));
  mkdirSync(run.outDir, { recursive: true });
  const store = new CheckpointStore(join(run.outDir, 'checkpoints'), c.keepCheckpoints);
  const metricsPath = join(run.outDir, 'metrics.jsonl');
  let step = 0;
  let cursor = 0;
  let rng = new Rng(c.seed ^ 0x5eed);
  let resumedFrom: number | null = null;
  let metrics: StepMetrics[] = [];
  if (run.resume) {
    const ck = await store.latest();
    if (ck) {
      const meta = checkResumeMeta(ck.manifest.meta, join(ck.dir, 'manifest.json'));
      const want = names.map((n, i) => `${n} [${run.params[i]!.shape.join(', ')}]`);
      const have = meta.names.map((n, i) => `${n} [${meta.shapes[i]!.join(', ')}]`);
      if (JSON.stringify(want) !== JSON.stringify(have)) {
        const i = want.findIndex((w, k) => w !== have[k]);
        const diff =
          i >= 0 && i < have.length
            ? `the checkpoint has ${have[i]}, this run ${want[i]}`
            : `the checkpoint has ${have.length} tensors, this run ${want.length}`;
        throw new UsageError(
          `the checkpoint in ${ck.dir} holds other tensors than this run trains (first difference: ${diff})`,
          'resume with the same model, mode and adapter settings, or use a new --out',
        );
      }
      const load = (file: string, into: (name: string, i: number) => Float32Array) => {
        const f = SafetensorsFile.open(join(ck.dir, file));
        try {
          names.forEach((n, i) => into(n, i).set(f.readTensor(n) as Float32Array));
        } finally {
          f.close();
        }
      };
      load('trainable.safetensors', (_n, i) => run.params[i]!.data);
      load('adam_m.safetensors', (_n, i) => opt.m[i]!);
      load('adam_v.safetensors', (_n, i) => opt.v[i]!);
      opt.step = meta.adamStep;
      step = ck.step;
      cursor = meta.cursor;
      rng = Rng.fromState(meta.rng);
      resumedFrom = step;
      trimTornTail(metricsPath);
      metrics = readJsonl<StepMetrics>(metricsPath).filter((m) => m.step <= step);
    }
  }
  // Rewrite the metrics file so steps after the checkpoint (lost in a crash) are not duplicated.
  writeFileAtomic(metricsPath, metrics.map((m) => JSON.stringify(m)).join('\n') + (metrics.length ? '\n' : ''));
  const shapes = new Map(names.map((n, i) => [n, run.params[i]!.shape]));
  const saveCheckpoint = async () => {
    await store.save(
      step,
      (dir) => {
        tensorsFile(join(dir, 'trainable.safetensors'), new Map(names.map((n, i) => [n, run.params[i]!.data])), shapes);
        tensorsFile(join(dir, 'adam_m.safetensors'), new Map(names.map((n, i) => [n, opt.m[i]!])), shapes);
        tensorsFile(join(dir, 'adam_v.safetensors'), new Map(names.map((n, i) => [n, opt.v[i]!])), shapes);
      },
      { cursor, rng: rng.getState(), adamStep: opt.step, names, shapes: run.params.map((p) => [...p.shape]) },
    );
  };
  const n = run.train.length;
  let epoch = -1;
  let order: Int32Array = new Int32Array(0);
  const next = (): E => {
    const e = Math.floor(cursor / n);
    if (e !== epoch) {
      epoch = e;
      order = c.shuffle === false ? Int32Array.from({ length: n }, (_, i) => i) : permutation(n, c.seed, e);
    }
    const ex = exampleAt(run.train, order[cursor % n]!);
    cursor++;
    return ex;
  };
  const progress = new Progress({ label: 'train', total: c.steps, unit: 'steps', silent: run.silent });
  progress.resumedAt(step);
  const started = performance.now();
  let lastLoss = metrics.at(-1)?.loss ?? Number.NaN;
  let logged = metrics.length;
  let lastVal: number | null = [...metrics].reverse().find((m) => m.valLoss !== undefined)?.valLoss ?? null;
  run.model.rng = rng;
  try {
    while (step < c.steps) {
      const t0 = performance.now();
      for (const p of run.params) p.zeroGrad();
      let lossSum = 0;
      let tokens = 0;
      const extra = new Map<string, { sum: number; count: number }>();
      for (let micro = 0; micro < c.gradAccum; micro++) {
        const examples = Array.from({ length: c.batchSize }, next);
        const out = objective(run.model, examples);
        tokens += out.tokens;
        for (const [k, v] of Object.entries(out.metrics ?? {})) {
          const x = extra.get(k) ?? { sum: 0, count: 0 };
          extra.set(k, { sum: x.sum + v, count: x.count + 1 });
        }
        const loss = out.loss;
        if (!loss) continue;
        const value = loss.item();
        if (!Number.isFinite(value))
          throw new UsageError(
            `the loss became ${value} at step ${step + 1}`,
            'lower the learning rate or enable clipping; the last checkpoint is intact',
          );
        lossSum += value;
        backward(c.gradAccum > 1 ? scale(loss, 1 / c.gradAccum) : loss);
      }
      const gradNorm = c.clip > 0 ? clipGradNorm(run.params, c.clip) : 0;
      const lr = lrAt(step, schedule);
      opt.update(lr);
      step++;
      lastLoss = lossSum / c.gradAccum;
      const seconds = (performance.now() - t0) / 1000;
      const m: StepMetrics = { step, loss: lastLoss, lr, gradNorm, tokens, tokensPerSec: tokens / seconds };
      for (const [k, x] of extra) m[k] = x.sum / x.count;
      if (run.val.length > 0 && ((c.evalEvery > 0 && step % c.evalEvery === 0) || step === c.steps)) {
        lastVal = evaluateLoss(run.model, run.val, c.batchSize);
        m.valLoss = lastVal;
      }
      metrics.push(m);
      if (step % c.logEvery === 0 || m.valLoss !== undefined || step === c.steps) {
        // Append the lines since the last write (a torn last line is trimmed on resume).
        appendFileSync(
          metricsPath,
          metrics
            .slice(logged)
            .map((x) => `${JSON.stringify(x)}\n`)
            .join(''),
        );
        logged = metrics.length;
      }
      run.onStep?.(m);
      progress.tick(
        1,
        `loss ${lastLoss.toFixed(4)}${lastVal !== null ? ` val ${lastVal.toFixed(4)}` : ''} ${Math.round(m.tokensPerSec)} tok/s`,
      );
      crashPoint('train:step');
      if (step % c.checkpointEvery === 0 || step === c.steps) await saveCheckpoint();
    }
  } finally {
    run.model.rng = null;
  }
  progress.finish();
  writeLossChart(run.outDir, metrics);
  return { steps: step, resumedFrom, finalLoss: lastLoss, finalValLoss: lastVal, metrics, seconds: (performance.now() - started) / 1000 };
}

/** loss.svg: training loss per step and validation loss where measured. */
export function writeLossChart(outDir: string, metrics: readonly StepMetrics[]): void {
  const svg = lineChart(
    [
      { name: 'train loss', points: metrics.map((m) => [m.step, m.loss] as const) },
      { name: 'validation loss', points: metrics.filter((m) => m.valLoss !== undefined).map((m) => [m.step, m.valLoss!] as const) },
    ],
    { title: 'Training loss', xLabel: 'step', yLabel: 'cross-entropy (nats/token)', logY: true },
  );
  writeFileAtomic(join(outDir, 'loss.svg'), svg);
}

/** Restores trainable tensors from the newest checkpoint of a run (e.g. to export after a crash). */
export async function loadLatestTrainable(outDir: string, params: Tensor[]): Promise<number | null> {
  const store = new CheckpointStore(join(outDir, 'checkpoints'));
  const ck = await store.latest();
  if (!ck || !existsSync(join(ck.dir, 'trainable.safetensors'))) return null;
  const f = SafetensorsFile.open(join(ck.dir, 'trainable.safetensors'));
  try {
    params.forEach((p, i) => p.data.set(f.readTensor(p.name ?? `param.${i}`) as Float32Array));
  } finally {
    f.close();
  }
  return ck.step;
}
