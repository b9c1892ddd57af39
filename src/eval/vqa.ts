// VQA evaluation: a model asked the held-out questions of the pretraining distribution (DESIGN.md §4)
// with greedy decoding, in batches; the answers are scored by src/corpus/vqa-score.ts (exact match
// after normalisation per category, and the retention against a baseline: the paper's measure of
// forgetting).
import { UsageError } from '../errors/index.ts';
import { generate } from '../decode/index.ts';
import type { Gemma3Model } from '../models/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { expandImageTokens } from '../tokenizer/index.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import { heldOutVqa, renderScene } from '../corpus/corpus.ts';
import { VQA_CATEGORIES } from '../corpus/conversation.ts';
import type { VqaItem } from '../corpus/corpus.ts';
import type { VqaCategory } from '../corpus/conversation.ts';
import { listWellFormed } from '../corpus/answers.ts';
import { VQA_EVAL_PER_CATEGORY, VQA_EVAL_SEED, scoreVqa } from '../corpus/vqa-score.ts';
import type { VqaReport } from '../corpus/vqa-score.ts';
import { Progress } from '../util/index.ts';
import { imageSpec, loadChatModel } from '../models/index.ts';
import type { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';

/** Most held-out questions per category: the set is generated in memory, so an unbounded count (1e9) grows memory without end. */
export const MAX_VQA_PER_CATEGORY = 10_000;

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

/** Loads a model folder (no adapter) and asks it the held-out questions: what `pretrain()` scores its
 *  model card with (`PretrainOptions.vqaEvaluator`). */
export function evaluateVqaFolder(dir: string, options: VqaOptions = {}): VqaReport {
  return evaluateVqa(loadVqaModel(dir), options);
}

/** The prompt ids of one question (image first, as in pretraining) and its pixels. */
export function vqaPrompt(m: VqaModel, item: VqaItem): { ids: number[]; pixels: Float32Array | null } {
  const cfg = m.model.cfg;
  const content: ChatMessage['content'] = [{ type: 'text', text: item.question }];
  let pixels: Float32Array | null = null;
  let text: string;
  if (item.scene) {
    if (cfg.modelType !== 'gemma3')
      throw new UsageError(
        `the model is text-only (${cfg.modelType}); the VQA set has image questions`,
        'evaluate a gemma3 vision-language model',
      );
    content.unshift({ type: 'image' });
    const size = cfg.vision.imageSize;
    pixels = imageToPixels(renderScene(item.scene, size), size);
    text = expandImageTokens(
      m.template.render([{ role: 'user', content }], { addGenerationPrompt: true }),
      imageSpec({ tokenizer: m.tokenizer, cfg })!,
    );
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

/** Asks every held-out question (greedy, batched) and scores the answers. */
export function evaluateVqa(m: VqaModel, options: VqaOptions = {}): VqaReport {
  const seed = options.seed ?? VQA_EVAL_SEED;
  const perCategory = options.perCategory ?? VQA_EVAL_PER_CATEGORY;
  if (!Number.isInteger(perCategory) || perCategory < 1 || perCategory > MAX_VQA_PER_CATEGORY)
    throw new UsageError(
      `questions per category must be an integer in 1…${MAX_VQA_PER_CATEGORY}, got ${perCategory}`,
      'the held-out set is generated in memory; more questions do not sharpen the estimate much beyond a few thousand',
    );
  const batchSize = options.batchSize ?? 32;
  const asked = options.categories ?? VQA_CATEGORIES;
  for (const c of asked)
    if (!(VQA_CATEGORIES as readonly string[]).includes(c))
      throw new UsageError(`unknown VQA category "${c}"`, `use some of ${VQA_CATEGORIES.join(', ')}`);
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
