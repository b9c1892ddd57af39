// `finetune()`: fine-tunes a model folder on an SFT dataset (`vlm2vla build`) with LoRA (PEFT
// semantics, the paper's r 16 / alpha 32 on the decoder's seven projections by default) or fully —
// the library call behind `vlm2vla train`, as `pretrain()` is behind `vlm2vla pretrain`.
//
// The run folder gets the adapter (RUN/adapter, PEFT layout) or the full model (RUN/model, HF layout),
// run.json (config, dataset statistics, result), metrics.jsonl, loss.svg and checkpoints/ (resume).
// A dataset of the `tokens` action style trains 256 of the model's least-used vocabulary tokens as the
// action bins (in LoRA mode their embedding rows train as PEFT trainable tokens next to the adapter);
// the mapping goes to action_tokens.json beside the run and the adapter or model.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors/index.ts';
import { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';
import { addAdapter, loadModel, loraConfig, saveAdapter, saveModel, setActiveAdapter } from '../models/index.ts';
import type { LoraConfig, LoraSettings } from '../models/index.ts';
import { openSftDataset, recordTexts } from '../sft/dataset.ts';
import { writeFileAtomic } from '../util/index.ts';
import { isDigitTokens, leastUsedTokens, markerMap, saveActionTokens, stripMarkers } from '../actions/action-tokens.ts';
import type { MarkerTokens } from '../actions/action-tokens.ts';
import { DIGIT_MARKERS } from '../actions/index.ts';
import { loadSftSplit } from './sft.ts';
import type { SplitStats } from './sft.ts';
import { CorpusReplaySource, MixedSource, replayCount } from './replay.ts';
import type { CorpusMix } from '../corpus/index.ts';
import { TRAINER_DEFAULTS, assertNewRun, train } from './trainer.ts';
import type { StepMetrics, TrainerConfig } from './trainer.ts';
import type { ScheduleConfig } from './schedule.ts';

export const RUN_SCHEMA = 'vlm2vla.run/1';

export interface FinetuneOptions {
  /** The base model folder (config.json, model.safetensors, tokenizer files). */
  model: string;
  /** The SFT dataset folder. */
  data: string;
  /** The run folder. */
  out: string;
  /** Train every weight instead of a LoRA adapter. */
  full?: boolean;
  /** LoRA settings over the paper's defaults (LoRA mode only). */
  lora?: LoraSettings;
  steps?: number;
  batchSize?: number;
  gradAccum?: number;
  /** Peak learning rate (default 2e-4 LoRA, 5e-5 full). */
  lr?: number;
  schedule?: ScheduleConfig['kind'];
  /** Warm-up steps (default 10% of the steps, at most 10). */
  warmup?: number;
  weightDecay?: number;
  clip?: number;
  /** Longer sequences are left out (and counted). */
  maxLength?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  /** Seed of data order, LoRA initialisation and dropout. */
  seed?: number;
  resume?: boolean;
  silent?: boolean;
  log?: (line: string) => void;
  onStep?: (m: StepMetrics) => void;
  /** Train on this many sequence tokens instead of `steps` (steps = budget / (batch × grad-accum ×
   *  mean tokens per training sequence), at least 1) — the shared budget of compared arms. */
  tokenBudget?: number;
  /** Count the least-used vocabulary tokens (the discrete-token bins) on these texts instead of the
   *  dataset's own (e.g. the base model's pretraining corpus, so robot data does not pick them). */
  tokenCountTexts?: Iterable<string>;
  /** Train for this many passes over the training split instead of `steps` (rounded up to whole
   *  optimizer steps; the rehearsal conversations of `corpus` count as part of the split). */
  epochs?: number;
  /** Rehearsal: this share of the training sequences are conversations of the base model's
   *  pretraining corpus (seed and mix of its recipe; src/train/replay.ts). */
  corpus?: { share: number; seed: number; mix?: CorpusMix };
  /** The preset's name, recorded in run.json. */
  preset?: string;
}

/** A named fine-tuning recipe: values for `finetune()` options the caller leaves unset. */
export interface FinetunePreset {
  summary: string;
  lora: LoraSettings;
  lr: number;
  schedule: ScheduleConfig['kind'];
  batchSize: number;
  /** Passes over the training split (or a fixed step count). */
  epochs?: number;
  steps?: number;
  warmup?: number;
  /** Share of rehearsal conversations from the base model's corpus (0 = none). */
  corpusShare: number;
}

export const FINETUNE_PRESETS: Record<string, FinetunePreset> = {
  paper: {
    summary:
      "the paper's recipe: LoRA r 16, alpha 32 on the seven decoder projections, learning rate 5e-5, linear schedule, batch 8, one epoch",
    lora: { r: 16, alpha: 32, dropout: 0.05 },
    lr: 5e-5,
    schedule: 'linear',
    batchSize: 8,
    epochs: 1,
    corpusShare: 0,
  },
  vla: {
    summary:
      "the committed VLA's recipe (models/vla, docs/train.md): the paper's LoRA, learning rate 2e-4, cosine schedule, batch 8, two epochs, 20% of the sequences rehearsal of the base model's corpus",
    lora: { r: 16, alpha: 32, dropout: 0.05 },
    lr: 2e-4,
    schedule: 'cosine',
    batchSize: 8,
    epochs: 2,
    warmup: 20,
    corpusShare: 0.2,
  },
};

export function finetunePreset(name: string): FinetunePreset {
  const p = FINETUNE_PRESETS[name];
  if (!p) throw new UsageError(`unknown training preset ${JSON.stringify(name)}`, `use one of ${Object.keys(FINETUNE_PRESETS).join(', ')}`);
  return structuredClone(p);
}

export const FINETUNE_DEFAULTS = {
  steps: 200,
  batchSize: 4,
  gradAccum: 1,
  schedule: 'cosine',
  weightDecay: 0,
  clip: 1,
  maxLength: 1024,
  evalEvery: 50,
  checkpointEvery: 50,
  seed: 0,
  loraLr: 2e-4,
  fullLr: 5e-5,
} as const;

export interface FinetuneResult {
  mode: 'lora' | 'full';
  /** Where the adapter (LoRA) or the model (full) was written. */
  output: string;
  lora: LoraConfig | null;
  actionTokens: MarkerTokens | null;
  trainer: TrainerConfig;
  dataset: { train: SplitStats; val: SplitStats };
  steps: number;
  resumedFrom: number | null;
  finalLoss: number;
  finalValLoss: number | null;
  seconds: number;
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const full = o.full ?? false;
  if (full && o.lora) throw new UsageError('full fine-tuning and LoRA settings exclude each other', 'drop --lora or --full');
  if (!o.resume) assertNewRun(o.out);
  const data = openSftDataset(o.data);
  const model = loadModel(o.model, { dtype: full ? 'f32' : 'auto' });
  const tokenizer = Tokenizer.fromDir(o.model);
  const template = ChatTemplate.fromConfig(tokenizer.config, join(o.model, 'tokenizer_config.json'));
  if (!template) throw new UsageError(`${o.model}/tokenizer_config.json has no chat_template`, 'train from a chat model folder');
  // Discrete-token mode: the 256 least-used vocabulary tokens (by the dataset's own text) become the
  // action bins.
  let actionTokens: MarkerTokens | null = null;
  const countTexts = () => o.tokenCountTexts ?? recordTexts(data.records('train')).map(stripMarkers);
  if (data.tokenBins) actionTokens = { ids: leastUsedTokens(tokenizer, countTexts()), ...data.tokenBins };
  // Style `at` (the -AT ablation): the ten digits on ten least-used tokens.
  else if (data.actionStyle === 'at')
    actionTokens = { kind: 'digits', ids: leastUsedTokens(tokenizer, countTexts(), DIGIT_MARKERS.length) };
  const enc = { tokenizer, template, cfg: model.cfg, actionTokens: actionTokens ? markerMap(actionTokens) : undefined };
  const maxLength = o.maxLength ?? FINETUNE_DEFAULTS.maxLength;
  const trainSplit = loadSftSplit(data, 'train', enc, maxLength);
  const valSplit = loadSftSplit(data, 'val', enc, maxLength);
  if (trainSplit.examples.length === 0)
    throw new UsageError(
      `no training sequence fits in a maximum length of ${maxLength} tokens (${trainSplit.stats.tooLong} too long)`,
      'raise --max-length',
    );
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed;
  const replay =
    o.corpus && o.corpus.share > 0
      ? new CorpusReplaySource(
          { tokenizer, template, cfg: model.cfg },
          o.corpus.seed,
          replayCount(trainSplit.examples.length, o.corpus.share),
          o.corpus.mix,
        )
      : null;
  const trainSource = replay ? new MixedSource(trainSplit.examples, replay) : trainSplit.examples;
  let lora: LoraConfig | null = null;
  let params;
  if (full) params = model.setTrainable(true);
  else {
    lora = loraConfig(model.cfg.modelType, o.lora);
    if (actionTokens) lora.trainableTokenIndices = actionTokens.ids;
    params = addAdapter(model, 'default', { ...lora, baseModel: o.model }, seed);
    setActiveAdapter(model, 'default');
  }
  let steps = o.steps ?? FINETUNE_DEFAULTS.steps;
  if (o.epochs !== undefined) {
    if (!(Number.isFinite(o.epochs) && o.epochs > 0)) throw new UsageError(`epochs must be a positive number, got ${o.epochs}`);
    steps = Math.max(
      1,
      Math.ceil(
        (o.epochs * trainSource.length) / ((o.batchSize ?? FINETUNE_DEFAULTS.batchSize) * (o.gradAccum ?? FINETUNE_DEFAULTS.gradAccum)),
      ),
    );
  }
  if (o.tokenBudget !== undefined) {
    if (!(Number.isFinite(o.tokenBudget) && o.tokenBudget >= 1))
      throw new UsageError(`the token budget must be a positive number, got ${o.tokenBudget}`);
    const meanTokens = trainSplit.examples.reduce((a, e) => a + e.ids.length, 0) / trainSplit.examples.length;
    steps = Math.max(
      1,
      Math.round(
        o.tokenBudget / ((o.batchSize ?? FINETUNE_DEFAULTS.batchSize) * (o.gradAccum ?? FINETUNE_DEFAULTS.gradAccum) * meanTokens),
      ),
    );
  }
  const config: TrainerConfig = {
    ...TRAINER_DEFAULTS,
    steps,
    batchSize: o.batchSize ?? FINETUNE_DEFAULTS.batchSize,
    gradAccum: o.gradAccum ?? FINETUNE_DEFAULTS.gradAccum,
    schedule: {
      kind: o.schedule ?? FINETUNE_DEFAULTS.schedule,
      lr: o.lr ?? (full ? FINETUNE_DEFAULTS.fullLr : FINETUNE_DEFAULTS.loraLr),
      warmupSteps: o.warmup ?? Math.min(10, Math.floor(steps / 10)),
      minLrRatio: 0.1,
    },
    weightDecay: o.weightDecay ?? FINETUNE_DEFAULTS.weightDecay,
    clip: o.clip ?? FINETUNE_DEFAULTS.clip,
    seed,
    evalEvery: o.evalEvery ?? FINETUNE_DEFAULTS.evalEvery,
    checkpointEvery: o.checkpointEvery ?? FINETUNE_DEFAULTS.checkpointEvery,
  };
  if (actionTokens)
    log(
      `${isDigitTokens(actionTokens) ? 'digits of the action numbers: 10' : 'discrete-token actions: 256 bins'} on the least-used tokens ${actionTokens.ids
        .slice(0, 4)
        .map((id) => JSON.stringify(tokenizer.idToToken(id)))
        .join(', ')}, …${full ? '' : ' (their embedding rows train next to LoRA)'}`,
    );
  log(
    `training ${full ? 'all weights' : `LoRA r ${lora!.r} alpha ${lora!.alpha}`} of ${o.model} on ${trainSplit.examples.length} sequences (${trainSplit.stats.trainedTokens} trained tokens; ${valSplit.examples.length} for validation)${replay ? ` and ${replay.length} rehearsal conversations of its pretraining corpus` : ''}, ${steps} steps`,
  );
  const result = await train({
    model,
    params,
    train: trainSource,
    val: valSplit.examples,
    config,
    outDir: o.out,
    resume: o.resume,
    silent: o.silent,
    onStep: o.onStep,
  });
  const output = join(o.out, full ? 'model' : 'adapter');
  if (full) {
    saveModel(model, output);
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      if (existsSync(join(o.model, f))) copyFileSync(join(o.model, f), join(output, f));
  } else saveAdapter(model, 'default', output, o.model);
  if (actionTokens) {
    saveActionTokens(o.out, actionTokens);
    saveActionTokens(output, actionTokens);
  }
  const res: FinetuneResult = {
    mode: full ? 'full' : 'lora',
    output,
    lora,
    actionTokens,
    trainer: config,
    dataset: { train: trainSplit.stats, val: valSplit.stats },
    steps: result.steps,
    resumedFrom: result.resumedFrom,
    finalLoss: result.finalLoss,
    finalValLoss: result.finalValLoss,
    seconds: result.seconds,
  };
  writeFileAtomic(
    join(o.out, 'run.json'),
    `${JSON.stringify(
      {
        schema: RUN_SCHEMA,
        mode: res.mode,
        actionStyle: actionTokens ? (isDigitTokens(actionTokens) ? 'at' : 'tokens') : 'language',
        actionTokens,
        baseModel: o.model,
        data: o.data,
        preset: o.preset ?? null,
        epochs: o.epochs ?? null,
        corpus: replay ? { share: o.corpus!.share, seed: o.corpus!.seed, conversations: replay.length, offset: replay.offset } : null,
        lora,
        trainer: config,
        dataset: res.dataset,
        result: {
          steps: res.steps,
          resumedFrom: res.resumedFrom,
          finalLoss: res.finalLoss,
          finalValLoss: res.finalValLoss,
          seconds: res.seconds,
        },
      },
      null,
      2,
    )}\n`,
  );
  return res;
}
