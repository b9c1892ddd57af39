// A byte-fallback BPE trainer that writes `tokenizer.json` in the same shape as Gemma 3's (normalizer
// " " → "▁", BPE with `<0xXX>` byte tokens, digits kept as single tokens), so the embedded model's
// tokenizer goes through exactly the loader that reads real checkpoints.
import { ConfigError } from '../errors/index.ts';
import { GEMMA_STYLE_TEMPLATE } from './chat-template.ts';

export const SPACE = '\u2581';

/** Special tokens of the chat format and images, in id order starting at 0. */
export const DEFAULT_SPECIAL_TOKENS = [
  '<pad>',
  '<eos>',
  '<bos>',
  '<unk>',
  '<start_of_turn>',
  '<end_of_turn>',
  '<start_of_image>',
  '<end_of_image>',
  '<image_soft_token>',
] as const;

export interface BpeTrainOptions {
  /** Total vocabulary size: specials + 256 byte tokens + characters + merges. */
  vocabSize: number;
  specialTokens?: readonly string[];
  /** Characters seen fewer times than this are left to byte fallback. */
  minCharFrequency?: number;
  /** Pairs seen fewer times than this are never merged. */
  minPairFrequency?: number;
  /** Longest token in characters. */
  maxTokenChars?: number;
  /** Characters that are ordinary tokens however rare they are in the texts (e.g. every character an
   *  action style writes), never left to byte fallback. */
  requiredCharacters?: string;
  /** When the texts support fewer merges than `vocabSize` needs, fill the rest with `<unused0>`,
   *  `<unused1>`, … as Gemma's tokenizers reserve unused tokens: ordinary vocabulary entries (the
   *  highest ids) that no text encodes to. Without it the vocabulary ends where the merges do. */
  padWithUnused?: boolean;
}

export interface TrainedTokenizer {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  merges: number;
}

const WORD = /\u2581?[^\u2581\p{Nd}]+|\u2581|\p{Nd}/gu;

/** Splits normalised text into the units merges never cross: "▁word" pieces and single digits. */
export function pretokenize(text: string): string[] {
  return text.replaceAll(' ', SPACE).match(WORD) ?? [];
}

/** Trains merges on `texts`; deterministic (ties break on the pair's text). */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedTokenizer {
  const specials = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const minChar = options.minCharFrequency ?? 2;
  const minPair = options.minPairFrequency ?? 2;
  const maxChars = options.maxTokenChars ?? 16;

  const wordCounts = new Map<string, number>();
  for (const text of texts) for (const w of pretokenize(text)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);

  const charCounts = new Map<string, number>();
  for (const [w, c] of wordCounts) for (const ch of w) charCounts.set(ch, (charCounts.get(ch) ?? 0) + c);
  const alphabet = [
    ...new Set([...[...charCounts].filter(([, c]) => c >= minChar).map(([ch]) => ch), ...(options.requiredCharacters ?? '')]),
  ].sort();

  const vocab: string[] = [...specials];
  for (let b = 0; b < 256; b++) vocab.push(byteToken(b));
  const known = new Set(vocab);
  for (const ch of alphabet) if (!known.has(ch)) (vocab.push(ch), known.add(ch));
  if (vocab.length > options.vocabSize) {
    throw new ConfigError(
      'E_BPE_VOCAB',
      `vocabSize ${options.vocabSize} is smaller than the ${vocab.length} base tokens (specials, bytes, characters)`,
      {
        field: 'vocabSize',
        fix: `use a vocabSize of at least ${vocab.length}, or raise minCharFrequency`,
      },
    );
  }

  // Words as symbol arrays; characters outside the alphabet are never merged (byte fallback).
  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push([...w]);
    counts.push(c);
  }
  const mergeable = (s: string) => known.has(s) && !/\p{Nd}/u.test(s);
  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const key = (a: string, b: string) => `${a}\u0000${b}`;
  const addWordPairs = (i: number, sign: 1 | -1) => {
    const sym = words[i]!;
    for (let j = 0; j + 1 < sym.length; j++) {
      const a = sym[j]!;
      const b = sym[j + 1]!;
      if (!mergeable(a) || !mergeable(b) || a.length + b.length > maxChars) continue;
      const k = key(a, b);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + sign * counts[i]!);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(i);
      }
    }
  };
  for (let i = 0; i < words.length; i++) addWordPairs(i, 1);

  const merges: [string, string][] = [];
  while (vocab.length < options.vocabSize) {
    let best: string | null = null;
    let bestCount = minPair - 1;
    for (const [k, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && best !== null && k < best)) {
        best = k;
        bestCount = c;
      }
    }
    if (best === null) break;
    const [a, b] = best.split('\u0000') as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    if (!known.has(merged)) (vocab.push(merged), known.add(merged));
    for (const i of pairWords.get(best) ?? []) {
      addWordPairs(i, -1);
      const sym = words[i]!;
      const next: string[] = [];
      for (let j = 0; j < sym.length; j++) {
        if (j + 1 < sym.length && sym[j] === a && sym[j + 1] === b) {
          next.push(merged);
          j++;
        } else next.push(sym[j]!);
      }
      words[i] = next;
      addWordPairs(i, 1);
    }
    pairCounts.delete(best);
    pairWords.delete(best);
    for (const [k, c] of pairCounts) if (c <= 0) (pairCounts.delete(k), pairWords.delete(k));
  }
  if (options.padWithUnused)
    for (let k = 0; vocab.length < options.vocabSize; k++) if (!known.has(`<unused${k}>`)) vocab.push(`<unused${k}>`);
  return { ...buildFiles(vocab, merges, specials), merges: merges.length };
}

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

function buildFiles(vocab: string[], merges: [string, string][], specials: readonly string[]) {
  const vocabMap: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabMap[t] = i));
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: SPACE },
    pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<bos>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<bos>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<bos>': { id: '<bos>', ids: [vocabMap['<bos>']], tokens: ['<bos>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: SPACE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabMap,
      merges,
    },
  };
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<bos>',
    eos_token: '<end_of_turn>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    boi_token: '<start_of_image>',
    eoi_token: '<end_of_image>',
    image_token: '<image_soft_token>',
    padding_side: 'left',
    tokenizer_class: 'GemmaTokenizer',
    clean_up_tokenization_spaces: false,
    spaces_between_special_tokens: false,
    chat_template: GEMMA_STYLE_TEMPLATE,
  };
  return { tokenizerJson, tokenizerConfig };
}
