// VQA evaluation: the held-out questions of the pretraining distribution (DESIGN.md §4), asked one at a
// time with greedy decoding, scored per category by exact match after normalisation (list answers
// strictly as lists, src/corpus/answers.ts; with the share of well-formed lists). Given a baseline
// (the base model before robot fine-tuning), the retention ratio per category is accuracy / baseline
// accuracy — the paper's measure of forgetting.
import { UsageError } from '../errors/index.ts';
import { generate } from '../decode/index.ts';
import type { Gemma3Model } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { expandImageTokens } from '../tokenizer/index.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import { VQA_CATEGORIES, heldOutVqa, renderScene } from '../corpus/corpus.ts';
import type { VqaCategory, VqaItem } from '../corpus/corpus.ts';
import { answerMatches, listWellFormed } from '../corpus/answers.ts';
import { Progress } from '../util/index.ts';
import { imageSpec, loadChatModel } from '../models/index.ts';
import type { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';

/** The held-out set's default seed and size: 100 questions per category. */
export const VQA_EVAL_SEED = 2026;
export const VQA_EVAL_PER_CATEGORY = 100;
/** Most held-out questions per category: the set is generated in memory, so an unbounded count (1e9) grows memory without end. */
export const MAX_VQA_PER_CATEGORY = 10_000;

export interface VqaPrediction {
  category: VqaCategory;
  question: string;
  answer: string;
  prediction: string;
  correct: boolean;
}

export interface CategoryScore {
  correct: number;
  /** 0 when the category was not asked (`VqaOptions.categories`). */
  total: number;
  accuracy: number;
  /** For categories whose answers are lists: how many predictions were well-formed lists of the
   *  answer's shape, right or wrong. */
  wellFormed?: number;
}

export interface VqaReport {
  seed: number;
  perCategory: number;
  categories: Record<VqaCategory, CategoryScore>;
  /** Mean over all questions (every category has the same number). */
  overall: number;
  predictions: VqaPrediction[];
  seconds: number;
}

export interface VqaOptions {
  seed?: number;
  perCategory?: number;
  batchSize?: number;
  /** Tokens generated per answer (default 24, and 80 in batches with a list answer). */
  maxNewTokens?: number;
  /** Only these categories (default all); each category's items are the same either way. */
  categories?: readonly VqaCategory[];
  silent?: boolean;
}

export interface VqaModel {
  model: Gemma3Model;
  tokenizer: Tokenizer;
  template: ChatTemplate;
}

/** A model folder with its tokenizer and chat template, and an adapter (a `vlm2vla train` run folder
 *  or a PEFT adapter folder) applied if given. */
export function loadVqaModel(dir: string, adapter?: string): VqaModel {
  return loadChatModel(dir, adapter);
}

/** The prompt ids of one question (image first, as in pretraining) and its pixels. */
export function vqaPrompt(m: VqaModel, item: VqaItem): { ids: number[]; pixels: Float32Array | null } {
  const cfg = m.model.cfg;
  const content: ChatMessage['content'] = [{ type: 'text', text: item.question }];
  let pixels: Float32Array | null = null;
  let text: string;
  if (item.scene) {
    if (cfg.modelType !== 'gemma3') throw new UsageError(`the model is text-only (${cfg.modelType}); the VQA set has image questions`, 'evaluate a gemma3 vision-language model');
    content.unshift({ type: 'image' });
    const size = cfg.vision.imageSize;
    pixels = imageToPixels(renderScene(item.scene, size), size);
    text = expandImageTokens(m.template.render([{ role: 'user', content }], { addGenerationPrompt: true }), imageSpec({ tokenizer: m.tokenizer, cfg })!);
  } else text = m.template.render([{ role: 'user', content }], { addGenerationPrompt: true });
  return { ids: m.tokenizer.encode(text), pixels };
}

/** Ids that end an answer: the model's eos ids and the end-of-turn marker if the tokenizer has one. */
export function answerStopIds(m: VqaModel): number[] {
  const eos = m.model.text.eosTokenId;
  const ids = new Set(Array.isArray(eos) ? eos : [eos]);
  const eot = m.tokenizer.tokenToId('<end_of_turn>');
  if (eot !== null) ids.add(eot);
  return [...ids];
}

export function scoreVqa(items: readonly VqaItem[], predictions: readonly string[]): { categories: Record<VqaCategory, CategoryScore>; overall: number; predictions: VqaPrediction[] } {
  const categories = Object.fromEntries(VQA_CATEGORIES.map((c) => [c, { correct: 0, total: 0, accuracy: 0 }])) as Record<VqaCategory, CategoryScore>;
  const out: VqaPrediction[] = items.map((item, i) => {
    const prediction = predictions[i] ?? '';
    const correct = answerMatches(prediction, item.answer);
    const s = categories[item.category];
    s.total++;
    if (correct) s.correct++;
    const formed = listWellFormed(prediction, item.answer);
    if (formed !== null) s.wellFormed = (s.wellFormed ?? 0) + (formed ? 1 : 0);
    return { category: item.category, question: item.question, answer: item.answer, prediction, correct };
  });
  let correct = 0;
  for (const s of Object.values(categories)) {
    s.accuracy = s.total > 0 ? s.correct / s.total : 0;
    correct += s.correct;
  }
  return { categories, overall: items.length > 0 ? correct / items.length : 0, predictions: out };
}

/** Asks every held-out question (greedy, batched) and scores the answers. */
export function evaluateVqa(m: VqaModel, options: VqaOptions = {}): VqaReport {
  const seed = options.seed ?? VQA_EVAL_SEED;
  const perCategory = options.perCategory ?? VQA_EVAL_PER_CATEGORY;
  if (!Number.isInteger(perCategory) || perCategory < 1 || perCategory > MAX_VQA_PER_CATEGORY) throw new UsageError(`questions per category must be an integer in 1…${MAX_VQA_PER_CATEGORY}, got ${perCategory}`, 'the held-out set is generated in memory; more questions do not sharpen the estimate much beyond a few thousand');
  const batchSize = options.batchSize ?? 32;
  const asked = options.categories ?? VQA_CATEGORIES;
  for (const c of asked) if (!(VQA_CATEGORIES as readonly string[]).includes(c)) throw new UsageError(`unknown VQA category "${c}"`, `use some of ${VQA_CATEGORIES.join(', ')}`);
  const items = heldOutVqa(seed, perCategory, asked);
  const started = performance.now();
  const progress = new Progress({ label: 'vqa', total: items.length, unit: 'questions', silent: options.silent });
  const predictions: string[] = [];
  const stopIds = answerStopIds(m);
  for (let i = 0; i < items.length; i += batchSize) {
    const batch = items.slice(i, i + batchSize);
    const requests = batch.map((item) => vqaPrompt(m, item));
    const lists = batch.some((item) => listWellFormed('', item.answer) !== null);
    const gens = generate(m.model, requests, { maxNewTokens: options.maxNewTokens ?? (lists ? 80 : 24), eosIds: stopIds });
    for (const g of gens) predictions.push(m.tokenizer.decode(g.tokens, { skipSpecial: true }));
    progress.tick(batch.length);
  }
  progress.finish();
  const scored = scoreVqa(items, predictions);
  return { seed, perCategory, ...scored, seconds: (performance.now() - started) / 1000 };
}

/** Accuracy / baseline accuracy per category and overall (null where the baseline scored 0 or did not
 *  ask the category, e.g. a report from before the category existed). */
export function retention(run: VqaReport, baseline: VqaReport): Record<VqaCategory | 'overall', number | null> {
  const out = {} as Record<VqaCategory | 'overall', number | null>;
  for (const c of VQA_CATEGORIES) {
    const b = baseline.categories[c]?.accuracy ?? 0;
    out[c] = b > 0 ? run.categories[c].accuracy / b : null;
  }
  out.overall = baseline.overall > 0 ? run.overall / baseline.overall : null;
  return out;
}

/** A Markdown table of a report (and the retention against a baseline). */
export function vqaTable(run: VqaReport, baseline?: VqaReport): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const ret = baseline ? retention(run, baseline) : null;
  const head = baseline ? '| category | questions | accuracy | baseline | retention |\n|---|---:|---:|---:|---:|' : '| category | questions | accuracy |\n|---|---:|---:|';
  const asked = VQA_CATEGORIES.filter((c) => run.categories[c].total > 0);
  const rows = asked.map((c) => {
    const s = run.categories[c];
    const cells = [c, String(s.total), pct(s.accuracy)];
    if (baseline) cells.push(baseline.categories[c] ? pct(baseline.categories[c].accuracy) : 'n/a', ret![c] === null ? 'n/a' : ret![c]!.toFixed(3));
    return `| ${cells.join(' | ')} |`;
  });
  const total = asked.reduce((a, c) => a + run.categories[c].total, 0);
  const all = ['**overall**', String(total), `**${pct(run.overall)}**`];
  if (baseline) all.push(pct(baseline.overall), ret!.overall === null ? 'n/a' : ret!.overall.toFixed(3));
  const formed = asked.filter((c) => run.categories[c].wellFormed !== undefined).map((c) => `${c} ${run.categories[c].wellFormed}/${run.categories[c].total}`);
  const table = [head, ...rows, `| ${all.join(' | ')} |`].join('\n');
  return formed.length > 0 ? `${table}\n\nWell-formed lists of the answer's shape (right or wrong): ${formed.join(', ')}.` : table;
}
