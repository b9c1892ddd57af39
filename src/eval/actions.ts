// Offline checks of a fine-tuned VLA on an SFT dataset's validation split, per stage (subtasks, plan,
// chunk, act, verify, direction): greedy answers decoded freely and under the stage's grammar, the
// share its strict decoder accepts, exact match against the reference; for action chunks the mean
// per-element error in cm and gripper agreement beside two baselines (zero motion, the train split's
// mean element); and the teacher-forced validation loss of the same records (a `RecordsLoss` passed
// in: the CLI passes the trainer's, src/train/sft-loss.ts).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ACTION_MARKERS, getCodec } from '../actions/index.ts';
import type { ActionCodec, ActionElement, Grammar } from '../actions/index.ts';
import { ACTION_TOKENS_FILE, isDigitTokens, loadActionTokens } from '../actions/action-tokens.ts';
import type { MarkerTokens } from '../actions/action-tokens.ts';
import { decodeImage, probeImage } from '../data/image.ts';
import type { RgbImage } from '../data/image.ts';
import { GREEDY } from '../decode/index.ts';
import { FormatError } from '../errors/index.ts';
import { loadChatModel } from '../models/index.ts';
import type { ChatModelFiles } from '../models/index.ts';
import {
  DIRECTION_GRAMMAR,
  EngineBackend,
  MAX_NEW_TOKENS,
  PLAN_GRAMMAR,
  SUBTASKS_GRAMMAR,
  VERIFY_GRAMMAR,
  VERIFY_MAX_NEW_TOKENS,
  parseDirection,
  parsePlan,
  parseSubtasks,
  parseVerify,
} from '../policy/index.ts';
import type { ModelBackend } from '../policy/index.ts';
import { openSftDataset } from '../sft/dataset.ts';
import type { SftDataset, SftRecord, SftSplit } from '../sft/dataset.ts';
import { Progress } from '../util/index.ts';
import { meanElement, scorePass } from './action-metrics.ts';
import type { AnswerCheck, PassAnswer, PassScore } from './action-metrics.ts';

export const ACTION_EVAL_SCHEMA = 'vlm2vla.eval_actions/1';

/** The stages an SFT dataset holds (`meta.stage` of each record), in report order. */
export const EVAL_STAGES = ['subtasks', 'plan', 'chunk', 'act', 'verify', 'direction'] as const;
export type EvalStage = (typeof EVAL_STAGES)[number];

/** How one stage is asked and judged: its grammar, its strict decoder, its token budget (the
 *  policy's), and whether its answers are action chunks. */
export interface StageCheck extends AnswerCheck {
  grammar: Grammar;
  maxNewTokens: number;
}

/** The direction stage is not asked by the policy: enough tokens for `right` spelled letter by letter. */
const DIRECTION_MAX_NEW_TOKENS = 8;

export function stageChecks(codec: ActionCodec): Record<EvalStage, StageCheck> {
  const chunk = { grammar: codec.grammar, wellFormed: (t: string) => codec.decode(t).ok, actions: true };
  return {
    subtasks: { grammar: SUBTASKS_GRAMMAR, wellFormed: (t) => parseSubtasks(t).ok, maxNewTokens: MAX_NEW_TOKENS.subtasks, actions: false },
    plan: { grammar: PLAN_GRAMMAR, wellFormed: (t) => parsePlan(t).ok, maxNewTokens: MAX_NEW_TOKENS.plan, actions: false },
    chunk: { ...chunk, maxNewTokens: MAX_NEW_TOKENS.chunk },
    act: { ...chunk, maxNewTokens: MAX_NEW_TOKENS.act },
    verify: { grammar: VERIFY_GRAMMAR, wellFormed: (t) => parseVerify(t).ok, maxNewTokens: VERIFY_MAX_NEW_TOKENS, actions: false },
    direction: {
      grammar: DIRECTION_GRAMMAR,
      wellFormed: (t) => parseDirection(t).ok,
      maxNewTokens: DIRECTION_MAX_NEW_TOKENS,
      actions: false,
    },
  };
}

// ---- the evaluation set ----

/** One record to ask: its stage, prompt (images, user text) and reference answer. */
export interface EvalExample {
  where: string;
  stage: EvalStage;
  images: string[];
  text: string;
  reference: string;
  record: SftRecord;
}

export interface EvalSet {
  dataset: SftDataset;
  split: SftSplit;
  /** At most this many examples of each stage (the first in file order); null: all. */
  limit: number | null;
  codec: ActionCodec;
  examples: EvalExample[];
  /** Per action stage: the mean chunk element of the train split (null without train chunks). */
  meanAction: Partial<Record<EvalStage, (ActionElement & { count: number }) | null>>;
}

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : (content as { type: string; text?: string }[]).flatMap((p) => (p.type === 'text' ? [p.text!] : [])).join('');

/** The stage, prompt and reference of a record; a record without a known stage, or that is not one
 *  user turn and one assistant answer, is an E_SFT_RECORD error naming it. */
export function evalExample(rec: SftRecord, file: string): EvalExample {
  const { record, where } = rec;
  const stage = (record as { meta?: { stage?: unknown } }).meta?.stage;
  if (typeof stage !== 'string' || !(EVAL_STAGES as readonly string[]).includes(stage))
    throw new FormatError(
      'E_SFT_RECORD',
      `${where}: meta.stage is ${JSON.stringify(stage ?? null)}, not one of ${EVAL_STAGES.join(', ')}`,
      { file, field: 'meta.stage', fix: 'evaluate a dataset written by `vlm2vla build` (every record names its stage)' },
    );
  const [user, answer] = record.messages;
  if (record.messages.length !== 2 || user?.role !== 'user' || answer?.role !== 'assistant')
    throw new FormatError('E_SFT_RECORD', `${where}: an evaluated record is one user turn and one assistant answer`, {
      file,
      field: 'messages',
      fix: 'evaluate a dataset written by `vlm2vla build`',
    });
  return {
    where,
    stage: stage as EvalStage,
    images: record.images,
    text: textOf(user.content),
    reference: textOf(answer.content),
    record: rec,
  };
}

/** The codec a dataset's chunks are written in (style `tokens`: with the dataset's bin ranges). */
export function datasetCodec(dataset: SftDataset): ActionCodec {
  const bins = dataset.tokenBins;
  return bins ? getCodec('tokens', { tokens: { ...bins, tokens: ACTION_MARKERS } }) : getCodec(dataset.actionStyle);
}

/** Opens the examples of one split (every record checked before any model loads) and the train
 *  split's mean action per action stage. */
export function openEvalSet(data: string | SftDataset, split: SftSplit = 'val', limit: number | null = null): EvalSet {
  const dataset = typeof data === 'string' ? openSftDataset(data) : data;
  const file = join(dataset.dir, `${split}.jsonl`);
  const fix =
    split === 'val'
      ? 'rebuild the dataset with `vlm2vla build --val-fraction 0.1` (or evaluate --split train)'
      : 'point --data at a folder written by `vlm2vla build`';
  if (!dataset.has(split)) throw new FormatError('E_EVAL_DATA', `${dataset.dir} has no ${split} split (${split}.jsonl)`, { file, fix });
  const taken = new Map<EvalStage, number>();
  const examples: EvalExample[] = [];
  for (const rec of dataset.records(split)) {
    const ex = evalExample(rec, file);
    const k = taken.get(ex.stage) ?? 0;
    if (limit !== null && k >= limit) continue;
    taken.set(ex.stage, k + 1);
    examples.push(ex);
  }
  if (examples.length === 0) throw new FormatError('E_EVAL_DATA', `${file} holds no examples`, { file, fix });
  const codec = datasetCodec(dataset);
  const decodeAll = (list: readonly EvalExample[], f: string) =>
    list.map((ex) => {
      const r = codec.decode(ex.reference);
      if (!r.ok)
        throw new FormatError(
          'E_SFT_RECORD',
          `${ex.where}: the reference ${ex.stage} is not a chunk of the dataset's ${codec.style} style: ${r.error.message}`,
          {
            file: f,
            field: 'messages[1]',
            fix: 'rebuild the dataset with `vlm2vla build` (build_info.json names the style its chunks are written in)',
          },
        );
      return r.value;
    });
  const checks = stageChecks(codec);
  const actionStages = [...taken.keys()].filter((s) => checks[s].actions);
  for (const s of actionStages)
    decodeAll(
      examples.filter((e) => e.stage === s),
      file,
    );
  const meanAction: EvalSet['meanAction'] = {};
  if (actionStages.length > 0) {
    const trainFile = join(dataset.dir, 'train.jsonl');
    const train = dataset.has('train') ? dataset.records('train').map((r) => evalExample(r, trainFile)) : [];
    for (const s of actionStages)
      meanAction[s] = meanElement(
        decodeAll(
          train.filter((e) => e.stage === s),
          trainFile,
        ),
      );
  }
  return { dataset, split, limit, codec, examples, meanAction };
}

// ---- the model ----

/** Mean loss of some records (null: none fitted) and how many were too long for it. */
export type RecordsLoss = (records: readonly SftRecord[]) => { valLoss: number | null; tooLong: number };

/** What answers: a back-end (the engine, or a scripted one in tests) and the validation loss of the
 *  model behind it (null: no loss). */
export interface ActionEvalSubject {
  backend: ModelBackend;
  loss: RecordsLoss | null;
}

/** A model loaded for `evaluateActions`: the engine, its files (for the loss) and the action tokens
 *  of a marker-token run. */
export interface ActionEvalModel {
  backend: EngineBackend;
  files: ChatModelFiles;
  actionTokens: MarkerTokens | null;
}

/** A model folder (and adapter) on the engine, driven as it was trained on `dataset`: a `tokens` or
 *  `at` dataset needs the run's action_tokens.json (beside the adapter or the full model, or in the
 *  folder above), whose ids then read as the markers the codec parses. */
export function loadActionModel(modelDir: string, adapter: string | null, dataset: SftDataset): ActionEvalModel {
  const files = loadChatModel(modelDir, adapter);
  const backend = new EngineBackend(files.model, files.tokenizer, files.template, { model: modelDir, adapter });
  const style = dataset.actionStyle;
  let actionTokens: MarkerTokens | null = null;
  if (style === 'tokens' || style === 'at') {
    const dir = adapter ?? modelDir;
    const found = [dir, dirname(dir)].map((d) => ({ d, t: loadActionTokens(d) })).find((x) => x.t !== null);
    if (!found || isDigitTokens(found.t!) !== (style === 'at'))
      throw new FormatError(
        'E_RUN_INFO',
        `${dataset.dir} is written in the ${style} style but ${dir} has no matching ${ACTION_TOKENS_FILE}`,
        {
          file: join(dir, ACTION_TOKENS_FILE),
          fix: 'pass the training run of this dataset (--adapter RUN, or --model RUN/model for a full fine-tune)',
        },
      );
    const tokens = found.t!;
    const bins = dataset.tokenBins;
    if (bins && !isDigitTokens(tokens) && [0, 1, 2].some((a) => tokens.low[a] !== bins.low[a] || tokens.high[a] !== bins.high[a])) {
      throw new FormatError(
        'E_ACTION_TOKENS',
        `${join(found.d, ACTION_TOKENS_FILE)}: its bin ranges differ from ${join(dataset.dir, 'build_info.json')}'s (the run was trained on another dataset)`,
        { file: join(found.d, ACTION_TOKENS_FILE), field: 'low', fix: 'evaluate the run on the dataset it was trained on' },
      );
    }
    backend.useActionTokens(tokens);
    actionTokens = tokens;
  }
  return { backend, files, actionTokens };
}

// ---- the evaluation ----

export interface ActionPrediction {
  where: string;
  stage: EvalStage;
  reference: string;
  free: string;
  constrained: string;
}

export interface StageReport {
  examples: number;
  /** References its strict decoder accepts (the ceiling of exact match under the grammar). */
  referencesWellFormed: number;
  free: PassScore;
  constrained: PassScore;
  /** Teacher-forced mean cross-entropy over the answer tokens (null: no model, or nothing fitted). */
  valLoss: number | null;
  /** Examples longer than the maximum length, left out of the loss. */
  tooLong: number;
  /** Action stages: the train split's mean element (the mean-action baseline). */
  meanAction?: { dx: number; dy: number; dz: number; gripper: 0 | 1; elements: number } | null;
}

export interface ActionEvalReport {
  schema: typeof ACTION_EVAL_SCHEMA;
  data: string;
  split: SftSplit;
  actionStyle: string;
  limit: number | null;
  examples: number;
  stages: Partial<Record<EvalStage, StageReport>>;
  predictions: ActionPrediction[];
  seconds: number;
}

export interface ActionEvalOptions {
  /** Token budget per stage (default: the policy's). */
  maxNewTokens?: Partial<Record<EvalStage, number>>;
  silent?: boolean;
}

const IMAGE_CACHE = 8;

/** Asks every example twice (free, then under its stage's grammar; greedy) and scores the answers
 *  per stage, with the validation loss of the same records. */
export async function evaluateActions(
  subject: ActionEvalSubject,
  set: EvalSet,
  options: ActionEvalOptions = {},
): Promise<ActionEvalReport> {
  const started = performance.now();
  const { backend } = subject;
  backend.reset?.();
  const checks = stageChecks(set.codec);
  const images = new Map<string, RgbImage>();
  const image = (rel: string, where: string): RgbImage => {
    let img = images.get(rel);
    if (!img) {
      const path = set.dataset.imagePath(rel, where);
      img = decodeImage(probeImage(new Uint8Array(readFileSync(path)), path), path);
      if (images.size >= IMAGE_CACHE) images.delete(images.keys().next().value!);
      images.set(rel, img);
    }
    return img;
  };
  const progress = new Progress({ label: 'eval actions', total: set.examples.length, unit: 'examples', silent: options.silent });
  const answers: { free: PassAnswer; constrained: PassAnswer }[] = [];
  for (const ex of set.examples) {
    const check = checks[ex.stage];
    const ask = async (grammar: Grammar | null): Promise<PassAnswer> => {
      const out = await backend.generate({
        stage: ex.stage,
        images: ex.images.map((rel) => image(rel, ex.where)),
        text: ex.text,
        grammar,
        sampling: GREEDY,
        maxNewTokens: options.maxNewTokens?.[ex.stage] ?? check.maxNewTokens,
        seed: 0,
      });
      return { text: out.text, cut: out.finishReason === 'length' };
    };
    answers.push({ free: await ask(null), constrained: await ask(check.grammar) });
    progress.tick(1, ex.stage);
  }
  progress.finish();
  const stages: ActionEvalReport['stages'] = {};
  for (const stage of EVAL_STAGES) {
    const idx = set.examples.flatMap((ex, i) => (ex.stage === stage ? [i] : []));
    if (idx.length === 0) continue;
    const check = checks[stage];
    const refs = idx.map((i) => set.examples[i]!.reference);
    const mean = set.meanAction[stage] ?? null;
    const loss = subject.loss ? subject.loss(idx.map((i) => set.examples[i]!.record)) : { valLoss: null, tooLong: 0 };
    stages[stage] = {
      examples: idx.length,
      referencesWellFormed: refs.filter((r) => check.wellFormed(r)).length,
      free: scorePass(
        idx.map((i) => answers[i]!.free),
        refs,
        check,
        set.codec,
        mean,
      ),
      constrained: scorePass(
        idx.map((i) => answers[i]!.constrained),
        refs,
        check,
        set.codec,
        mean,
      ),
      ...loss,
      ...(check.actions
        ? { meanAction: mean ? { dx: mean.dx, dy: mean.dy, dz: mean.dz, gripper: mean.gripper, elements: mean.count } : null }
        : {}),
    };
  }
  return {
    schema: ACTION_EVAL_SCHEMA,
    data: set.dataset.dir,
    split: set.split,
    actionStyle: set.codec.style,
    limit: set.limit,
    examples: set.examples.length,
    stages,
    predictions: set.examples.map((ex, i) => ({
      where: ex.where,
      stage: ex.stage,
      reference: ex.reference,
      free: answers[i]!.free.text,
      constrained: answers[i]!.constrained.text,
    })),
    seconds: (performance.now() - started) / 1000,
  };
}

// ---- the table ----

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const cm = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(2));

/** Markdown tables of a report: per stage, then the action error of each decoding pass. */
export function actionsTable(r: ActionEvalReport): string {
  const rows: string[] = [];
  const actionRows: string[] = [];
  for (const stage of EVAL_STAGES) {
    const s = r.stages[stage];
    if (!s) continue;
    rows.push(
      `| ${stage} | ${s.examples} | ${pct(s.free.wellFormedRate)} | ${pct(s.constrained.wellFormedRate)} | ${pct(s.free.exactRate)} | ${pct(s.constrained.exactRate)} | ${s.valLoss === null ? '-' : s.valLoss.toFixed(4)} |`,
    );
    for (const [pass, p] of [
      ['free', s.free],
      ['constrained', s.constrained],
    ] as const) {
      const a = p.actions;
      if (a)
        actionRows.push(
          `| ${stage} | ${pass} | ${a.scored} | ${cm(a.errorCm)} | ${a.gripperAgreement === null ? '-' : pct(a.gripperAgreement)} | ${cm(a.zeroErrorCm)} | ${cm(a.meanErrorCm)} |`,
        );
    }
  }
  const head = `${r.examples} ${r.split} examples of ${r.data} (action style ${r.actionStyle}${r.limit !== null ? `, at most ${r.limit} per stage` : ''}), greedy\n\n`;
  const table = `| stage | examples | well-formed free | well-formed constrained | exact free | exact constrained | val loss |\n|---|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}`;
  if (actionRows.length === 0) return head + table;
  return `${head}${table}\n\nAction error per element (mean |Δ| of dx, dy, dz in cm, over the well-formed answers; baselines on the same examples):\n\n| stage | decoding | scored | error cm | gripper | zero motion cm | mean action cm |\n|---|---|---:|---:|---:|---:|---:|\n${actionRows.join('\n')}`;
}
