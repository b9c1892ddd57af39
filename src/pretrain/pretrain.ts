// `vlm2vla pretrain`: trains the embedded base VLM from scratch on the synthetic corpus (DESIGN.md §4).
// Steps: a byte-fallback BPE tokenizer on corpus text; a miniature Gemma 3 (SigLIP tower, pooled
// projector, Gemma 3 decoder) with HF's initialisation; full training with the shared trainer on
// conversations generated on demand (each seen once, the order shuffled, resumable); the model saved
// in Hugging Face layout with its tokenizer; the held-out VQA set scored; a model card written with
// the exact command, seed, time and accuracy per category.
//
// Layout: OUT/ gets the model (config.json, model.safetensors, generation_config.json, tokenizer.json,
// tokenizer_config.json, README.md, vqa.json, loss.svg); OUT.run/ (or --run-dir) holds what only
// training needs: checkpoints, metrics.jsonl and the tokenizer while training.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { FormatError, UsageError } from '../errors/index.ts';
import { Gemma3Model, parseGemma3Config, saveModel } from '../models/index.ts';
import type { AnyGemma3Config, Gemma3Config } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { ChatTemplate, DEFAULT_SPECIAL_TOKENS, Tokenizer, trainBpe } from '../tokenizer/index.ts';
import type { TrainedTokenizer } from '../tokenizer/index.ts';
import { getCodec, listCodecs } from '../actions/index.ts';
import { vqaTable } from '../corpus/vqa-score.ts';
import type { VqaReport } from '../corpus/vqa-score.ts';
import { readJsonl, writeFileAtomic } from '../util/index.ts';
import { Tensor } from '../tensor/index.ts';
import type { Weight } from '../tensor/index.ts';
import {
  DEFAULT_CORPUS_MIX,
  checkCorpusMix,
  conversationMessages,
  corpusConversation,
  corpusTexts,
  renderScene,
} from '../corpus/corpus.ts';
import type { CorpusMix } from '../corpus/corpus.ts';
import type { CorpusConversation } from '../corpus/conversation.ts';
import type { AttendTargets } from './attend.ts';
import { groundingObjective } from './objective.ts';
import type { GroundingExample } from './objective.ts';
import { encodeConversation } from '../train/sft.ts';
import type { ChatEncoder } from '../train/sft.ts';
import { TRAINER_DEFAULTS, assertNewRun, train } from '../train/trainer.ts';
import { denseLabels, runVisionStage } from './vision-stage.ts';
import { CATALOGUE } from '../sim/catalogue.ts';
import { Rng } from '../util/index.ts';
import type { VisionStage, VisionStageResult } from './vision-stage.ts';
import type { ExampleSource, StepMetrics } from '../train/trainer.ts';

export interface PretrainPreset {
  name: string;
  summary: string;
  vocabSize: number;
  /** Fill the vocabulary up to `vocabSize` with `<unusedN>` tokens when the corpus supports fewer
   *  merges (the base preset: ~3000 real tokens, 5120 in all, so that 256 action bins are 5% of it). */
  padVocabulary?: boolean;
  /** Conversations whose text trains the tokenizer. */
  tokenizerConversations: number;
  /** config.json without the vocabulary size and special token ids (filled in from the tokenizer). */
  config: { text_config: Record<string, unknown>; vision_config: Record<string, unknown>; mm_tokens_per_image: number };
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  checkpointEvery: number;
  evalEvery: number;
  valConversations: number;
  /** Held-out VQA questions per category scored at the end. */
  vqaPerCategory: number;
  /** Weights on disk. */
  dtype: 'f32' | 'bf16';
  /** The corpus make-up (default DEFAULT_CORPUS_MIX). */
  mix?: CorpusMix;
  /** A grounding warm-up: the first `steps` steps draw their conversations from `mix` (e.g. captions
   *  of single-object scenes, answerable only from the image) before the main corpus, and the corpus
   *  is read in order. Without it a from-scratch model learns the text priors first and then
   *  ignores the image tokens. */
  warmup?: { steps: number; mix: CorpusMix };
  /** A vision stage before the language stage: the tower and projector learn which object covers
   *  each image token's cell (src/train/vision-stage.ts). */
  vision?: VisionStage;
  /** Keep the vision tower as the vision stage left it during the language stage (the projector and
   *  the decoder train). Trained through the language loss alone, the tower forgets within a few
   *  hundred steps where things are (docs/notes/2026-11-29.md). */
  freezeTower?: boolean;
  /** Image-token naming in the language stage: per image, up to this many image tokens showing an
   *  object are also trained to predict the object's name (its last token, through the tied LM head),
   *  so the decoder's image tokens and the question's object names come to share a direction, and a
   *  name in a question can find its object's tokens (default 0 = off). */
  namingCells?: number;
  /** Grounding attention in the language stage: at the token that produces each answer whose question
   *  names objects on the table, head `heads[0]` of decoder layer `layer` is trained to attend to the
   *  image tokens of the object named first and `heads[1]` to the second's, with `weight` × that
   *  attention cross-entropy added to the loss (src/pretrain/attend.ts). Without it the answers to "Is
   *  the X left or right of the Y?" stay at chance: the decoder does not learn by itself to pick out
   *  a named object among several and compare two (docs/notes/2026-11-29.md). */
  groundingAttention?: GroundingAttention;
}

export interface GroundingAttention {
  layer: number;
  heads: [number, number];
  weight: number;
}

const GEMMA_TEXT = {
  rope_theta: 1_000_000,
  rope_local_base_freq: 10_000,
  rms_norm_eps: 1e-6,
  hidden_activation: 'gelu_pytorch_tanh',
  final_logit_softcapping: null,
  attn_logit_softcapping: null,
  max_position_embeddings: 1024,
};

export const PRETRAIN_PRESETS: Record<string, PretrainPreset> = {
  tiny: {
    name: 'tiny',
    summary: 'a ~0.2M-parameter model in under a minute (tests and smoke runs)',
    vocabSize: 600,
    tokenizerConversations: 1500,
    config: {
      text_config: {
        ...GEMMA_TEXT,
        hidden_size: 64,
        intermediate_size: 192,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 32,
        sliding_window: 64,
        layer_types: ['sliding_attention', 'full_attention'],
        query_pre_attn_scalar: 32,
      },
      vision_config: {
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        image_size: 32,
        patch_size: 8,
        layer_norm_eps: 1e-6,
      },
      mm_tokens_per_image: 4,
    },
    steps: 300,
    batchSize: 16,
    lr: 3e-3,
    vision: { steps: 60, batchSize: 16, lr: 3e-3 },
    warmupSteps: 20,
    weightDecay: 0,
    checkpointEvery: 50,
    evalEvery: 0,
    valConversations: 16,
    vqaPerCategory: 20,
    dtype: 'f32',
  },
  base: {
    name: 'base',
    summary: 'the embedded base model (~5M parameters, about 85 minutes on 2 cores)',
    vocabSize: 5120,
    padVocabulary: true,
    tokenizerConversations: 5_000,
    config: {
      text_config: {
        ...GEMMA_TEXT,
        hidden_size: 256,
        intermediate_size: 768,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 64,
        sliding_window: 128,
        layer_types: ['sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
        query_pre_attn_scalar: 64,
      },
      vision_config: {
        hidden_size: 128,
        intermediate_size: 512,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        image_size: 96,
        patch_size: 12,
        layer_norm_eps: 1e-6,
      },
      mm_tokens_per_image: 64,
    },
    steps: 4300,
    batchSize: 16,
    lr: 1.5e-3,
    warmupSteps: 100,
    weightDecay: 0.01,
    checkpointEvery: 100,
    evalEvery: 250,
    valConversations: 64,
    vqaPerCategory: 100,
    dtype: 'bf16',
    mix: {
      textShare: 0.24,
      numberShare: 0.3,
      questionsPerScene: 6,
      foreignShare: 0.3,
      positionShare: 0.04,
      captionShare: 0.08,
      locationShare: 0.08,
      groundingShare: 0.15,
      listShare: 0.06,
    },
    warmup: {
      steps: 300,
      mix: { textShare: 0, questionsPerScene: 1, foreignShare: 0, positionShare: 0, captionShare: 0.7, locationShare: 0.3, maxObjects: 1 },
    },
    vision: { steps: 1500, batchSize: 32, lr: 2e-3, positions: true },
    freezeTower: true,
    namingCells: 8,
    groundingAttention: { layer: 3, heads: [0, 2], weight: 1 },
  },
};

/** Asks the model saved in `modelDir` the held-out VQA questions and scores the answers: eval/vqa.ts's
 *  `evaluateVqaFolder`, passed in by the caller because loading a model to ask it questions is
 *  evaluation, a layer above pretraining. */
export type VqaEvaluator = (modelDir: string, options: { perCategory: number; silent?: boolean }) => VqaReport;

export interface PretrainOptions {
  preset: PretrainPreset;
  out: string;
  /** Scores the saved model for its card and vqa.json. */
  vqaEvaluator: VqaEvaluator;
  /** Checkpoints and metrics (default OUT.run). */
  runDir?: string;
  resume?: boolean;
  seed?: number;
  /** Overrides the preset's step count. */
  steps?: number;
  silent?: boolean;
  /** The command line recorded in the model card. */
  command?: string;
  log?: (line: string) => void;
}

export interface PretrainResult {
  cfg: AnyGemma3Config;
  parameters: number;
  steps: number;
  resumedFrom: number | null;
  finalLoss: number;
  /** Sum of the step times of every session of the run (both stages). */
  trainSeconds: number;
  /** The vision stage, if the preset has one. */
  vision: VisionStageResult | null;
  vqa: VqaReport;
  /** Mean grounding-attention cross-entropy of the last 100 steps (with `groundingAttention`). */
  attendLoss?: number;
}

/** The corpus as training examples, computed on demand (index → conversation → ids, mask, pixels). */
export class CorpusSource implements ExampleSource<GroundingExample> {
  constructor(
    readonly enc: ChatEncoder,
    readonly seed: number,
    readonly length: number,
    /** Index of the first conversation (validation sets use a range the training set never reaches). */
    readonly offset = 0,
    readonly mix: CorpusMix = DEFAULT_CORPUS_MIX,
    /** The first `count` examples use this mix instead (a warm-up phase). */
    readonly warmup?: { count: number; mix: CorpusMix },
    /** Image-token naming (`PretrainPreset.namingCells`): up to this many image tokens per image, drawn
     *  among those whose cell shows an object, are trained to predict the last token of its English
     *  name (0 = none). */
    readonly namingCells = 0,
    /** Grounding attention (`PretrainPreset.groundingAttention`): the heads that attend to the first
     *  and the second named object at each answer (null = none). */
    readonly attendHeads: readonly [number, number] | null = null,
  ) {
    if (!(Number.isInteger(namingCells) && namingCells >= 0))
      throw new UsageError(`naming cells must be a whole number >= 0, got ${namingCells}`);
  }

  #nameTokens: Int32Array | null = null;

  /** Per vision class (catalogue index), the token that ends the object's English name as it reads in
   *  a question ("Is there a rubber duck" → " duck"). */
  nameTokens(): Int32Array {
    if (this.#nameTokens) return this.#nameTokens;
    this.#nameTokens = Int32Array.from(CATALOGUE, (o) => this.enc.tokenizer.encode(`Is there a ${o.names.en}`).at(-1)!);
    return this.#nameTokens;
  }

  at(index: number): GroundingExample | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    const mix = this.warmup && index < this.warmup.count ? this.warmup.mix : this.mix;
    const conv = corpusConversation(this.seed, this.offset + index, mix);
    const { ids, mask } = encodeConversation(conversationMessages(conv), this.enc, `corpus conversation ${this.offset + index}`);
    let pixels: Float32Array | null = null;
    let own: GroundingExample['own'];
    let attend: AttendTargets | undefined;
    if (conv.scene) {
      const cfg = this.enc.cfg;
      if (cfg.modelType !== 'gemma3')
        throw new UsageError('the pretraining corpus has images; the model must be a gemma3 vision-language model');
      const size = cfg.vision.imageSize;
      if (this.namingCells > 0 || this.attendHeads) {
        const grid = Math.round(Math.sqrt(cfg.mmTokensPerImage));
        const dense = denseLabels(conv.scene, size, grid);
        pixels = dense.pixels;
        if (this.namingCells > 0) own = this.#naming(ids, dense.labels, this.offset + index);
        if (this.attendHeads) attend = groundingTargets(conv, ids, mask, dense.labels, cfg.imageTokenIndex, this.attendHeads);
      } else {
        pixels = imageToPixels(renderScene(conv.scene, size), size);
      }
    }
    return { ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels, ...(own ? { own } : {}), ...(attend ? { attend } : {}) };
  }

  /** The naming targets of one conversation: its first image's tokens, cell by cell (row-major, as the
   *  projector lays them out), a few of those showing an object, each to predict the object's name. */
  #naming(ids: readonly number[], cellClasses: Int32Array, index: number): GroundingExample['own'] {
    const cfg = this.enc.cfg as Gemma3Config;
    const first = ids.indexOf(cfg.imageTokenIndex);
    if (first < 0) return undefined;
    const names = this.nameTokens();
    const cells: number[] = [];
    cellClasses.forEach((k, c) => {
      if (k < CATALOGUE.length) cells.push(c);
    });
    const rng = new Rng((this.seed * 2_654_435_761 + index * 40_503 + 17) >>> 0);
    const picked = rng
      .shuffle(cells)
      .slice(0, this.namingCells)
      .sort((a, b) => a - b);
    return { at: Int32Array.from(picked, (c) => first + c), ids: Int32Array.from(picked, (c) => names[cellClasses[c]!]!) };
  }
}

/** The grounding-attention targets of a scene conversation: for each question that names objects on
 *  the table (`QA.refs`), at the token before its answer, head `heads[r]` should attend to the image
 *  tokens (of the conversation's image) whose cell shows the r-th named object (first two only); an
 *  object that covers no cell gets no target. Undefined when there is none. */
export function groundingTargets(
  conv: CorpusConversation,
  ids: readonly number[],
  mask: readonly number[],
  cellClasses: Int32Array,
  imageTokenIndex: number,
  heads: readonly [number, number],
): AttendTargets | undefined {
  const first = ids.indexOf(imageTokenIndex);
  if (first < 0 || !conv.scene) return undefined;
  const keys = Int32Array.from(cellClasses, (_, c) => first + c);
  // The token before each answer: answer k is the k-th run of trained tokens.
  const before: number[] = [];
  for (let t = 1; t < mask.length; t++) if (mask[t] && !mask[t - 1]) before.push(t - 1);
  const queries: number[] = [];
  const headsOut: number[] = [];
  const start = [0];
  const targets: number[] = [];
  conv.qa.forEach((q, k) => {
    if (!q.refs || before[k] === undefined) return;
    q.refs.slice(0, 2).forEach((ref, r) => {
      const cls = CATALOGUE.findIndex((o) => o.id === conv.scene!.placements[ref]!.id);
      const cells: number[] = [];
      cellClasses.forEach((c, i) => {
        if (c === cls) cells.push(i);
      });
      if (cells.length === 0) return;
      queries.push(before[k]!);
      headsOut.push(heads[r]!);
      targets.push(...cells);
      start.push(targets.length);
    });
  });
  if (queries.length === 0) return undefined;
  return {
    keys,
    queries: Int32Array.from(queries),
    heads: Int32Array.from(headsOut),
    start: Int32Array.from(start),
    targets: Int32Array.from(targets),
  };
}

/** What a pretraining run was started with: the whole preset, the seed and the step count. */
export interface RunRecipe {
  preset: PretrainPreset;
  seed: number;
  steps: number;
}

/** Records the recipe in RUN_DIR/recipe.json, or checks it against the recorded one: resuming with
 *  another preset (a changed architecture or mix keeps every tensor shape, so the checkpoint alone
 *  cannot tell), seed or step count would silently continue a different run. A run folder from before
 *  recipes were recorded gets one. */
export function recordRunRecipe(runDir: string, recipe: RunRecipe): void {
  const file = join(runDir, 'recipe.json');
  const now = JSON.parse(JSON.stringify(recipe)) as Record<string, unknown>;
  if (existsSync(file)) {
    let was: unknown;
    try {
      was = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new FormatError('E_RUN_RECIPE', `${file} is not valid JSON (${(e as Error).message})`, {
        file,
        fix: 'restore it, or start a new run in another folder',
      });
    }
    const diff = firstDifference(was, now, '');
    if (diff !== null) {
      throw new UsageError(
        `${runDir} was started with another recipe: ${diff}`,
        'resume with the same preset, --seed and --steps, or start a new run in another folder',
      );
    }
    return;
  }
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(now, null, 2)}\n`);
}

/** The first path where two JSON values differ, described, or null. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d !== null) return d;
    }
    return null;
  }
  return a === b ? null : `${path} was ${JSON.stringify(a)}, now ${JSON.stringify(b)}`;
}

/** The model config of a preset for a trained tokenizer (special tokens at DEFAULT_SPECIAL_TOKENS ids). */
export function presetConfig(preset: PretrainPreset, tok: Tokenizer): AnyGemma3Config {
  const id = (t: string) => {
    const v = tok.tokenToId(t);
    if (v === null) throw new UsageError(`the tokenizer has no ${t} token`, 'delete the run folder to train a new tokenizer');
    return v;
  };
  return parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      ...preset.config.text_config,
      vocab_size: tok.vocabSize,
      pad_token_id: id('<pad>'),
      bos_token_id: id('<bos>'),
      eos_token_id: [id('<eos>'), id('<end_of_turn>')],
    },
    vision_config: preset.config.vision_config,
    mm_tokens_per_image: preset.config.mm_tokens_per_image,
    boi_token_index: id('<start_of_image>'),
    eoi_token_index: id('<end_of_image>'),
    image_token_index: id('<image_soft_token>'),
  });
}

/** Every character the text action styles write (digits included) and the JSON subtask lists' quotes:
 *  ordinary tokens of every pretrained tokenizer, however rare in the corpus. (The `tokens` style's
 *  markers become vocabulary ids, not text.) */
export function actionCharacters(): string {
  const sample = [-1.5, 2].map((v, i) => ({ dx: v, dy: -v, dz: v * 2, droll: v * 3, dpitch: -v, dyaw: v, gripper: (i % 2) as 0 | 1 }));
  const texts = listCodecs()
    .filter((s) => s !== 'tokens')
    .map((s) => getCodec(s).encode(sample));
  return [...new Set([...texts.join(''), ...JSON.stringify(['a', 'b']), ...'0123456789'])].sort().join('');
}

/** The tokenizer files of a preset: BPE on the text of its first conversations, every action character
 *  a token, padded to the vocabulary size if the preset says so. */
export function presetTokenizer(preset: PretrainPreset, seed: number): TrainedTokenizer {
  return trainBpe(corpusTexts(seed, preset.tokenizerConversations, preset.mix), {
    vocabSize: preset.vocabSize,
    specialTokens: DEFAULT_SPECIAL_TOKENS,
    requiredCharacters: actionCharacters(),
    padWithUnused: preset.padVocabulary ?? false,
  });
}

function ensureTokenizer(dir: string, preset: PretrainPreset, seed: number, log: (s: string) => void): Tokenizer {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    log(`training a ${preset.vocabSize}-token BPE tokenizer on ${preset.tokenizerConversations} conversations`);
    const trained = presetTokenizer(preset, seed);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'tokenizer_config.json'), `${JSON.stringify(trained.tokenizerConfig, null, 2)}\n`);
    writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(trained.tokenizerJson));
  }
  return Tokenizer.fromDir(dir);
}

function chatTemplate(tok: Tokenizer, dir: string): ChatTemplate {
  const t = ChatTemplate.fromConfig(tok.config, join(dir, 'tokenizer_config.json'));
  if (!t) throw new UsageError(`${dir}/tokenizer_config.json has no chat_template`, 'delete the run folder to train a new tokenizer');
  return t;
}

const countParams = (m: Gemma3Model) => [...m.params.values()].reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);

/** The language stage's parameters: all, or all but the vision tower's (left frozen). */
function trainableParams(model: Gemma3Model, freezeTower: boolean): Tensor[] {
  const all = model.setTrainable(true);
  if (!freezeTower) return all;
  const tower = new Set<Weight>([...model.params.entries()].filter(([n]) => n.startsWith('vision_tower.')).map(([, w]) => w));
  for (const w of tower) if (w instanceof Tensor) w.requiresGrad = false;
  return all.filter((p) => !tower.has(p));
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const preset = o.preset;
  const seed = o.seed ?? 0;
  const steps = o.steps ?? preset.steps;
  const runDir = o.runDir ?? `${o.out.replace(/\/+$/, '')}.run`;
  if (!o.resume) assertNewRun(runDir);
  recordRunRecipe(runDir, { preset, seed, steps });
  const tokDir = join(runDir, 'tokenizer');
  const tok = ensureTokenizer(tokDir, preset, seed, log);
  const template = chatTemplate(tok, tokDir);
  const cfg = presetConfig(preset, tok);
  const model = Gemma3Model.random(cfg, { seed, std: 0.02 });
  const parameters = countParams(model);
  const enc: ChatEncoder = { tokenizer: tok, template, cfg };
  if (preset.mix) checkCorpusMix(preset.mix);
  if (preset.warmup) checkCorpusMix(preset.warmup.mix);
  const corpusSize = steps * preset.batchSize;
  const warmup = preset.warmup ? { count: Math.min(steps, preset.warmup.steps) * preset.batchSize, mix: preset.warmup.mix } : undefined;
  const ga = preset.groundingAttention;
  if (ga) {
    const heads = cfg.text.numHeads;
    if (!ga.heads.every((h) => Number.isInteger(h) && h >= 0 && h < heads))
      throw new UsageError(
        `groundingAttention: heads ${ga.heads.join(', ')} must be among the model's ${heads} attention heads (0-${heads - 1})`,
      );
  }
  const trainSet = new CorpusSource(enc, seed, corpusSize, 0, preset.mix, warmup, preset.namingCells ?? 0, ga?.heads ?? null);
  const valSource = new CorpusSource(enc, seed, preset.valConversations, 2_000_000_000, preset.mix);
  const val = Array.from({ length: valSource.length }, (_, i) => valSource.at(i)!);
  let vision: VisionStageResult | null = null;
  if (preset.vision) {
    // Resumed (or, once done, just reloaded: the language stage's checkpoints then override it).
    log(`vision stage: ${preset.vision.steps} steps of ${preset.vision.batchSize} scenes with a label per image token`);
    vision = await runVisionStage(model, preset.vision, { seed, runDir: join(runDir, 'vision'), resume: o.resume, silent: o.silent });
    log(
      `vision stage: ${(vision.cellAccuracy * 100).toFixed(1)}% of held-out cells right, ${(vision.objectCellAccuracy * 100).toFixed(1)}% of those showing an object${vision.positionAccuracy !== undefined ? `, ${(vision.positionAccuracy * 100).toFixed(1)}% of those placed within 2 cm` : ''}`,
    );
  }
  log(
    `pretraining the ${preset.name} preset: ${(parameters / 1e6).toFixed(2)}M parameters, vocabulary ${tok.vocabSize}, ${steps} steps of ${preset.batchSize} conversations`,
  );
  const result = await train({
    model,
    params: trainableParams(model, preset.freezeTower ?? false),
    train: trainSet,
    val,
    config: {
      ...TRAINER_DEFAULTS,
      steps,
      batchSize: preset.batchSize,
      gradAccum: 1,
      schedule: { kind: 'cosine', lr: preset.lr, warmupSteps: Math.min(preset.warmupSteps, Math.floor(steps / 10)), minLrRatio: 0.05 },
      weightDecay: preset.weightDecay,
      clip: 1,
      seed,
      evalEvery: preset.evalEvery,
      checkpointEvery: preset.checkpointEvery,
      keepCheckpoints: 2,
      logEvery: 10,
      shuffle: preset.warmup ? false : undefined,
    },
    outDir: runDir,
    resume: o.resume,
    silent: o.silent,
    objective: groundingObjective(ga ? { layer: ga.layer, weight: ga.weight } : undefined),
  });
  model.setTrainable(false);
  const metrics = readJsonl<StepMetrics>(join(runDir, 'metrics.jsonl'));
  const trainSeconds = metrics.reduce((a, m) => a + (m.tokensPerSec > 0 ? m.tokens / m.tokensPerSec : 0), 0) + (vision?.seconds ?? 0);
  saveModel(model, o.out, { dtype: preset.dtype });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tokDir, f), join(o.out, f));
  if (existsSync(join(runDir, 'loss.svg'))) copyFileSync(join(runDir, 'loss.svg'), join(o.out, 'loss.svg'));
  // Score the model as users load it (bf16 weights on disk).
  log(`scoring the held-out VQA set (${preset.vqaPerCategory} questions per category)`);
  const vqa = o.vqaEvaluator(o.out, { perCategory: preset.vqaPerCategory, silent: o.silent });
  writeFileAtomic(
    join(o.out, 'vqa.json'),
    `${JSON.stringify({ seed: vqa.seed, perCategory: vqa.perCategory, overall: vqa.overall, categories: vqa.categories }, null, 2)}\n`,
  );
  writeFileAtomic(join(runDir, 'vqa-predictions.jsonl'), vqa.predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const attendTail = metrics.slice(-100).filter((m) => m.attendLoss !== undefined);
  const attendLoss = attendTail.length > 0 ? attendTail.reduce((a, m) => a + m.attendLoss!, 0) / attendTail.length : undefined;
  const res: PretrainResult = {
    cfg,
    parameters,
    steps: result.steps,
    resumedFrom: result.resumedFrom,
    finalLoss: result.finalLoss,
    trainSeconds,
    vision,
    vqa,
    ...(attendLoss !== undefined ? { attendLoss } : {}),
  };
  writeFileAtomic(
    join(o.out, 'README.md'),
    modelCard(
      preset,
      res,
      seed,
      o.command ?? `vlm2vla pretrain --preset ${preset.name} --out ${o.out}${o.seed !== undefined ? ` --seed ${seed}` : ''}`,
      result.finalValLoss,
    ),
  );
  return res;
}

/** Whether a report meets the base model's accuracy targets, in words. */
export function targetVerdict(v: VqaReport): string {
  const below = Object.entries(v.categories)
    .filter(([, s]) => s.accuracy < 0.7)
    .map(([c, s]) => `${c} ${(s.accuracy * 100).toFixed(0)}%`);
  const overallOk = v.overall >= 0.85;
  if (overallOk && below.length === 0) return 'met';
  const parts = [];
  if (!overallOk) parts.push(`overall ${(v.overall * 100).toFixed(1)}% < 85%`);
  if (below.length > 0) parts.push(`below 70%: ${below.join(', ')}`);
  return `**not met** (${parts.join('; ')})`;
}

function mixLine(m: CorpusMix): string {
  const pc = (v: number) => `${Math.round(v * 100)}%`;
  const most = m.maxObjects ?? 5;
  return `${pc(m.textShare)} text-only conversations; ${m.questionsPerScene} question${m.questionsPerScene === 1 ? '' : 's'} per scene of ${most === 1 ? '1 object' : `1–${most} objects`}, ${pc(m.foreignShare)} in Spanish, French, German or Chinese, ${pc(m.positionShare)} positions, ${pc(m.captionShare)} captions${m.locationShare ? `, ${pc(m.locationShare)} table locations` : ''}${m.groundingShare ? `, ${pc(m.groundingShare)} grounding questions` : ''}${m.listShare ? `, ${pc(m.listShare)} answered as lists` : ''}${m.numberShare ? `; ${pc(m.numberShare)} of the text conversations about numbers, lists and motions` : ''}`;
}

function modelCard(preset: PretrainPreset, r: PretrainResult, seed: number, command: string, valLoss: number | null): string {
  const t = r.cfg.text;
  const v = r.cfg.modelType === 'gemma3' ? r.cfg.vision : null;
  const minutes = (r.trainSeconds / 60).toFixed(1);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const imageTokens = r.cfg.modelType === 'gemma3' ? r.cfg.mmTokensPerImage : 0;
  return `---
library_name: vlm2vla
pipeline_tag: image-text-to-text
tags: [gemma3, synthetic, vlm2vla]
---
# vlm2vla embedded base VLM (\`${preset.name}\` preset)

A miniature Gemma 3 vision-language model (\`Gemma3ForConditionalGeneration\` layout,
\`model_type: gemma3\`) pretrained from scratch by vlm2vla on its synthetic tabletop corpus: questions
about rendered scenes (colour, identity, category, counting, left/right/front/behind, positions in cm
relative to the gripper, captions), world knowledge (affordances, synonyms, categories,
translations), questions in Spanish, French, German and Chinese${preset.mix?.numberShare || preset.mix?.listShare ? ', and numbers, lists and motions\nas ordinary language (displacements as phrases and `[forward, left, up]` lists, direction words, JSON\nlists of strings, arithmetic)' : ''}. It is the base model that
vlm2vla fine-tunes into a robot policy, and the reference for VQA retention.

## Reproduce

\`\`\`
${command}
\`\`\`

- seed: ${seed}
${
  preset.vision && r.vision
    ? `- vision stage first: ${preset.vision.steps} steps of ${preset.vision.batchSize} rendered scenes, the tower and projector trained to name the object (or gripper, or nothing) that covers each image token's cell${preset.vision.positions ? ' and where on the table it stands (its x and y in 2 cm bins)' : ''} through linear heads that are then dropped (peak learning rate ${preset.vision.lr}); on 128 held-out scenes ${(r.vision.cellAccuracy * 100).toFixed(1)}% of cells right, ${(r.vision.objectCellAccuracy * 100).toFixed(1)}% of the cells that show an object${r.vision.positionAccuracy !== undefined ? `, and for ${(r.vision.positionAccuracy * 100).toFixed(1)}% of those both bins within one of the truth` : ''}; ${(r.vision.seconds / 60).toFixed(1)} min
- then `
    : '- '
}${preset.freezeTower ? 'with the vision tower frozen (the projector and decoder train), ' : ''}${r.steps} steps of ${preset.batchSize} conversations (each generated once from the seed), cosine schedule, peak learning rate ${preset.lr}, AdamW weight decay ${preset.weightDecay}, gradient clipping 1${
    preset.namingCells
      ? `
- image-token naming: in every scene up to ${preset.namingCells} image tokens that show an object are also trained to predict the last token of its English name (through the tied LM head), so that a name in a question and its object's image tokens share a direction`
      : ''
  }${
    preset.groundingAttention
      ? `
- grounding attention: at the token that produces each answer whose question names objects on the table, heads ${preset.groundingAttention.heads.join(' and ')} of decoder layer ${preset.groundingAttention.layer} are trained to attend to the image tokens of the first and the second named object (weight ${preset.groundingAttention.weight}; that cross-entropy over the ${imageTokens} image tokens averaged ${r.attendLoss !== undefined ? r.attendLoss.toFixed(3) : 'n/a'} over the last 100 steps, against ln ${imageTokens} = ${Math.log(imageTokens).toFixed(3)} for uniform attention)`
      : ''
  }
- corpus mix: ${mixLine(preset.mix ?? DEFAULT_CORPUS_MIX)}${
    preset.warmup
      ? `
- grounding warm-up: the first ${preset.warmup.steps} steps draw from another mix: ${mixLine(preset.warmup.mix)}`
      : ''
  }
- training time: ${minutes} min of optimizer steps on ${cpus().length} × ${cpu} (sum over all sessions of the run; tokenizer training, checkpoints and evaluation not included)
- final training loss ${r.finalLoss.toFixed(4)}${preset.namingCells ? ` (answer tokens and naming targets${preset.groundingAttention ? ', plus the weighted grounding attention' : ''})` : ''}${valLoss !== null ? `, validation loss ${valLoss.toFixed(4)}` : ''} (nats per ${preset.namingCells ? 'target' : 'answer token'}; the validation loss counts answer tokens only)

## Architecture

- ${(r.parameters / 1e6).toFixed(2)}M parameters, weights stored in ${preset.dtype === 'bf16' ? 'bf16' : 'fp32'}
- decoder: ${t.numLayers} layers (${t.layerTypes.map((l) => (l === 'full_attention' ? 'global' : 'local')).join(', ')}), hidden ${t.hiddenSize}, GeGLU ${t.intermediateSize}, ${t.numHeads} query / ${t.numKvHeads} key-value heads of ${t.headDim}, sliding window ${t.slidingWindow}, tied embeddings, vocabulary ${t.vocabSize} (byte-fallback BPE, \`tokenizer.json\`; every character of the text action styles is a token of its own${preset.padVocabulary ? '; filled up with `<unusedN>` tokens where the corpus has no more merges' : ''})
${v ? `- vision: SigLIP-style tower, ${v.numLayers} layers, hidden ${v.hiddenSize}, ${v.imageSize}×${v.imageSize} images in ${v.patchSize}×${v.patchSize} patches, pooled to ${r.cfg.modelType === 'gemma3' ? r.cfg.mmTokensPerImage : 0} image tokens` : ''}
- chat format: Gemma 3 turns (\`<start_of_turn>user\` … \`<end_of_turn>\`), images as \`<start_of_image>\`

## Held-out VQA accuracy

${r.vqa.perCategory} questions per category from the held-out stream (seed ${r.vqa.seed}: scenes and question draws the
training corpus never uses), greedy decoding, exact match after normalisation (NFKC, lower case,
surrounding punctuation removed). Re-check with \`vlm2vla eval vqa --model <this folder>\`.

${vqaTable(r.vqa)}

Targets (issue #6): ≥ 85% overall and ≥ 70% in every category — ${targetVerdict(r.vqa)}.
`;
}
