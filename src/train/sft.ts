// SFT chat records → training sequences. Each conversation is rendered with the model's chat template;
// the text of each assistant turn is found as the difference between the conversation rendered up to
// that turn and the prompt rendered before it (with the generation prompt), so any template whose
// prompts are prefixes of its conversations works. Pieces are tokenized separately (as generation
// sees them: the prompt, then what the model writes), image markers are expanded to the model's image
// tokens, and only assistant tokens (including the end-of-turn marker) are trained.
import { readFileSync } from 'node:fs';
import { FormatError, UsageError } from '../errors/index.ts';
import { decodeImage, probeImage } from '../data/image.ts';
import { openSftDataset } from '../sft/dataset.ts';
import type { SftDataset, SftSplit } from '../sft/dataset.ts';
import type { AnyGemma3Config } from '../models/gemma3/config.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { imageSpec } from '../models/gemma3/image-tokens.ts';
import { expandImageTokens } from '../tokenizer/index.ts';
import type { ChatMessage, ChatTemplate, Tokenizer } from '../tokenizer/index.ts';
import type { TrainExample } from './trainer.ts';
import { splitMarkers } from '../actions/action-tokens.ts';

export interface ChatEncoder {
  tokenizer: Tokenizer;
  template: ChatTemplate;
  cfg: AnyGemma3Config;
  /** Discrete-token mode: action markers `<aNNN>` → the vocabulary ids that stand for them. */
  actionTokens?: ReadonlyMap<string, number>;
}

export interface SplitStats {
  records: number;
  tokens: number;
  trainedTokens: number;
  images: number;
  /** Records longer than maxLength, left out. */
  tooLong: number;
  maxTokens: number;
}

/** Token ids and the trained-token mask of one conversation (images are counted, not loaded). */
export function encodeConversation(messages: ChatMessage[], enc: ChatEncoder, where: string): { ids: number[]; mask: number[] } {
  const spec = imageSpec(enc);
  const ids: number[] = [];
  const mask: number[] = [];
  const pushText = (text: string, trained: boolean) => {
    const expanded = spec ? expandImageTokens(text, spec) : text;
    for (const id of enc.tokenizer.encode(expanded)) {
      ids.push(id);
      mask.push(trained ? 1 : 0);
    }
  };
  const push = (text: string, trained: boolean) => {
    if (!enc.actionTokens) return pushText(text, trained);
    for (const piece of splitMarkers(text)) {
      if (!piece.marker) pushText(piece.text, trained);
      else {
        const id = enc.actionTokens.get(piece.text);
        if (id === undefined)
          throw new FormatError('E_SFT_RECORD', `${where}: action marker ${piece.text} has no token`, {
            fix: 'rebuild the dataset with `vlm2vla build --action-style tokens`',
          });
        ids.push(id);
        mask.push(trained ? 1 : 0);
      }
    }
  };
  let done = '';
  messages.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const prompt = enc.template.render(messages.slice(0, k), { addGenerationPrompt: true });
    const full = enc.template.render(messages.slice(0, k + 1));
    if (!prompt.startsWith(done) || !full.startsWith(prompt)) {
      throw new FormatError(
        'E_CHAT_TEMPLATE',
        `${where}: the chat template does not render the prompt of turn ${k} as a prefix of the conversation`,
        { fix: 'use a template whose generation prompt is a prefix of the rendered conversation (Gemma 3 style)' },
      );
    }
    push(prompt.slice(done.length), false);
    push(full.slice(prompt.length), true);
    done = full;
  });
  if (done === '')
    throw new FormatError('E_SFT_RECORD', `${where}: the conversation has no assistant turn`, {
      field: 'messages',
      fix: 'every SFT record needs an assistant answer to train on',
    });
  return { ids, mask };
}

/** The training sequences of one split of an SFT dataset (`openSftDataset`); a missing validation
 *  split is empty. Sequences longer than `maxLength` are left out and counted. */
export function loadSftSplit(
  dir: string | SftDataset,
  split: SftSplit,
  enc: ChatEncoder,
  maxLength: number,
): { examples: TrainExample[]; stats: SplitStats } {
  const data = typeof dir === 'string' ? openSftDataset(dir) : dir;
  const stats: SplitStats = { records: 0, tokens: 0, trainedTokens: 0, images: 0, tooLong: 0, maxTokens: 0 };
  if (split === 'val' && !data.has('val')) return { examples: [], stats };
  const size = enc.cfg.modelType === 'gemma3' ? enc.cfg.vision.imageSize : 0;
  const imageCache = new Map<string, Float32Array>();
  const examples: TrainExample[] = [];
  for (const { record: rec, where, images } of data.records(split)) {
    if (images > 0 && enc.cfg.modelType !== 'gemma3')
      throw new UsageError(
        `${where}: the record has images but the model is text-only (${enc.cfg.modelType})`,
        'train a gemma3 (vision-language) model on image data',
      );
    const { ids, mask } = encodeConversation(rec.messages as ChatMessage[], enc, where);
    stats.records++;
    if (ids.length > maxLength) {
      stats.tooLong++;
      continue;
    }
    let pixels: Float32Array | null = null;
    if (rec.images.length > 0) {
      pixels = new Float32Array(rec.images.length * 3 * size * size);
      rec.images.forEach((rel, k) => {
        let px = imageCache.get(rel);
        if (!px) {
          const path = data.imagePath(rel, where);
          const bytes = new Uint8Array(readFileSync(path));
          px = imageToPixels(decodeImage(probeImage(bytes, path), path), size);
          imageCache.set(rel, px);
        }
        pixels!.set(px, k * 3 * size * size);
      });
      stats.images += rec.images.length;
    }
    stats.tokens += ids.length;
    stats.trainedTokens += mask.reduce((a, b) => a + b, 0);
    stats.maxTokens = Math.max(stats.maxTokens, ids.length);
    examples.push({ ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels });
  }
  return { examples, stats };
}
