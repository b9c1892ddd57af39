// A Hugging Face `tokenizer.json` tokenizer (any model type the maintained @lenml/tokenizers port of
// transformers.js supports), loaded with strict validation and wrapped in a small typed interface; Gemma-shaped
// BPE files encode through the fast path in fast-bpe.ts, with @lenml as the slow reference.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { FormatError } from '../errors/index.ts';
import { vetRegexes } from './vet.ts';
import { FastBpeEncoder, planFastEncoder, type EncoderParts } from './fast-bpe.ts';

/** Largest tokenizer.json we read (Gemma 3's is ~33 MB). */
export const MAX_TOKENIZER_JSON_BYTES = 128 * 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Longest text `encode` accepts, in UTF-16 code units (4 Mi: under 1 s, and at most ≈ 200 MB of scratch on the fast path). */
export const MAX_ENCODE_CHARS = 4 * 1024 * 1024;

export interface TokenizerFiles {
  /** Parsed `tokenizer.json`. */
  tokenizerJson: Record<string, unknown>;
  /** Parsed `tokenizer_config.json` (may be `{}`). */
  tokenizerConfig: Record<string, unknown>;
  /** Where they came from, for error messages. */
  source: string;
}

/** The subset of @lenml's PreTrainedTokenizer that we call. */
interface LenmlTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
  decode(ids: number[], opts: { skip_special_tokens: boolean }): string;
  model: { tokens_to_ids: Map<string, number>; vocab: string[]; unk_token_id: number | undefined };
}

export class Tokenizer {
  readonly source: string;
  readonly config: Record<string, unknown>;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Every special/added token string → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly vocabSize: number;
  /** Why `encode` uses the slow reference path for this file, or null when it uses the fast path. */
  readonly slowPathReason: string | null;
  readonly #impl: LenmlTokenizer;
  /** The fast encoder's parts until the first `encode` builds its tables (so loading costs no more than before). */
  #fastParts: EncoderParts | null;
  #fast: FastBpeEncoder | null = null;

  constructor(files: TokenizerFiles) {
    validateTokenizerJson(files.tokenizerJson, files.source);
    vetRegexes(files.tokenizerJson, files.source);
    this.source = files.source;
    this.config = files.tokenizerConfig;
    try {
      this.#impl = TokenizerLoader.fromPreTrained({
        tokenizerJSON: files.tokenizerJson as never,
        tokenizerConfig: files.tokenizerConfig as never,
      }) as unknown as LenmlTokenizer;
    } catch (cause) {
      throw new FormatError('E_TOKENIZER_JSON', `cannot build a tokenizer: ${(cause as Error).message}`, {
        file: files.source,
        fix: 'check that tokenizer.json was saved by Hugging Face tokenizers (model, normalizer, pre_tokenizer, decoder)',
        cause,
      });
    }
    const added = (files.tokenizerJson.added_tokens as { id: number; content: string }[] | undefined) ?? [];
    const special = new Map<string, number>();
    for (const t of added) special.set(t.content, t.id);
    this.specialTokens = special;
    let maxId = -1;
    for (const id of this.#impl.model.tokens_to_ids.values()) if (id > maxId) maxId = id;
    for (const id of special.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.bosId = this.#configTokenId('bos_token');
    this.eosId = this.#configTokenId('eos_token');
    this.padId = this.#configTokenId('pad_token');
    const plan = planFastEncoder(files.tokenizerJson, files.tokenizerConfig, {
      tokensToIds: this.#impl.model.tokens_to_ids,
      unkId: this.#impl.model.unk_token_id,
    });
    this.#fastParts = plan.parts ?? null;
    this.slowPathReason = plan.unsupported ?? null;
  }

  /** Loads `tokenizer.json` and `tokenizer_config.json` (optional) from a model folder. */
  static fromDir(dir: string): Tokenizer {
    const tokenizerJson = readJsonFile(join(dir, 'tokenizer.json'), MAX_TOKENIZER_JSON_BYTES, true)!;
    const tokenizerConfig = readJsonFile(join(dir, 'tokenizer_config.json'), MAX_CONFIG_BYTES, false) ?? {};
    return new Tokenizer({ tokenizerJson, tokenizerConfig, source: join(dir, 'tokenizer.json') });
  }

  /**
   * Token ids of `text` (at most MAX_ENCODE_CHARS code units). `addSpecial` adds what the post-processor adds
   * (Gemma: `<bos>`).
   */
  encode(text: string, { addSpecial = false }: { addSpecial?: boolean } = {}): number[] {
    if (text.length === 0) return addSpecial && this.bosId !== null && this.#addsBos() ? [this.bosId] : [];
    this.#checkLength(text);
    if (this.#fast === null && this.#fastParts !== null) {
      this.#fast = new FastBpeEncoder(this.#fastParts);
      this.#fastParts = null;
    }
    return this.#fast !== null ? this.#fast.encode(text, addSpecial) : this.#impl.encode(text, { add_special_tokens: addSpecial });
  }

  /** `encode` through the @lenml reference implementation (slow: the yardstick for the fast path's tests and bench). */
  encodeReference(text: string, { addSpecial = false }: { addSpecial?: boolean } = {}): number[] {
    if (text.length === 0) return addSpecial && this.bosId !== null && this.#addsBos() ? [this.bosId] : [];
    this.#checkLength(text);
    return this.#impl.encode(text, { add_special_tokens: addSpecial });
  }

  #checkLength(text: string): void {
    if (text.length > MAX_ENCODE_CHARS) {
      throw new FormatError('E_TEXT_TOO_LONG', `cannot encode ${text.length} characters at once; the limit is ${MAX_ENCODE_CHARS}`, {
        file: this.source,
        field: 'text',
        fix: 'split the text at line or paragraph boundaries and encode the parts',
      });
    }
  }

  decode(ids: readonly number[], { skipSpecial = false }: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new FormatError('E_TOKEN_ID', `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`, {
          file: this.source,
          fix: 'decode only ids produced by this tokenizer or by a model with the same vocabulary',
        });
      }
    }
    return this.#impl.decode([...ids], { skip_special_tokens: skipSpecial });
  }

  /** The id of an exact token string (vocabulary or added token), or null. */
  tokenToId(token: string): number | null {
    return this.specialTokens.get(token) ?? this.#impl.model.tokens_to_ids.get(token) ?? null;
  }

  /** The token string of an id (vocabulary or added token), or null. */
  idToToken(id: number): string | null {
    return this.#impl.model.vocab[id] ?? null;
  }

  #addsBos(): boolean {
    return this.config.add_bos_token !== false;
  }

  #configTokenId(key: string): number | null {
    const value = this.config[key];
    const text = typeof value === 'string' ? value : (value as { content?: unknown } | undefined)?.content;
    if (typeof text !== 'string') return null;
    return this.tokenToId(text);
  }
}

/** Reads and parses a JSON file with a size cap; typed errors name the file. */
export function readJsonFile(path: string, maxBytes: number, required: boolean): Record<string, unknown> | null {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    if (!required) return null;
    throw new FormatError('E_TOKENIZER_MISSING', `${path} does not exist`, {
      file: path,
      fix: 'point at a Hugging Face model folder that contains tokenizer.json',
    });
  }
  if (size > maxBytes) {
    throw new FormatError('E_TOKENIZER_TOO_LARGE', `${path} is ${size} bytes, more than the limit of ${maxBytes}`, {
      file: path,
      fix: 'this is not a tokenizer file, or it is corrupt',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new FormatError('E_TOKENIZER_JSON', `${path} is not valid JSON: ${(cause as Error).message}`, {
      file: path,
      fix: 'restore the file from the model repository',
      cause,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FormatError('E_TOKENIZER_JSON', `${path} must hold a JSON object`, {
      file: path,
      fix: 'restore the file from the model repository',
    });
  }
  return parsed as Record<string, unknown>;
}

/** Structural checks the library does not do (it would build a broken tokenizer silently). */
export function validateTokenizerJson(json: Record<string, unknown>, file: string): void {
  const fail = (field: string, message: string): never => {
    throw new FormatError('E_TOKENIZER_JSON', message, { file, field, fix: 'restore tokenizer.json from the model repository' });
  };
  const model = json.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object') fail('model', 'tokenizer.json has no "model" object');
  const m = model as Record<string, unknown>;
  if (typeof m.type !== 'string' && m.vocab === undefined) fail('model.type', 'tokenizer.json model has no "type"');
  const vocab = m.vocab;
  if (vocab === undefined || vocab === null || typeof vocab !== 'object') fail('model.vocab', 'tokenizer.json model has no vocabulary');
  if (!Array.isArray(vocab)) {
    const seen = new Set<number>();
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        fail(
          `model.vocab[${JSON.stringify(token)}]`,
          `token ${JSON.stringify(token)} has id ${String(id)}, expected a non-negative integer`,
        );
      if (seen.has(id as number)) fail(`model.vocab[${JSON.stringify(token)}]`, `token id ${String(id)} is used twice`);
      seen.add(id as number);
    }
  }
  if (m.merges !== undefined && !Array.isArray(m.merges)) fail('model.merges', 'model.merges must be a list');
  // Replace and Split steps need a {"String": …} or {"Regex": …} pattern; @lenml reads it only when
  // the step first runs (a Replace decoder on the first decode), where its absence is a TypeError.
  const checkPatterns = (node: unknown, field: string): void => {
    if (Array.isArray(node)) node.forEach((n, i) => checkPatterns(n, `${field}[${i}]`));
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    const o = node as Record<string, unknown>;
    if (o.type === 'Replace' || o.type === 'Split') {
      const pattern = o.pattern as Record<string, unknown> | null | undefined;
      if (pattern === null || typeof pattern !== 'object' || (typeof pattern.String !== 'string' && typeof pattern.Regex !== 'string')) {
        fail(`${field}.pattern`, `the ${o.type} step at ${field} has no {"String": …} or {"Regex": …} pattern`);
      }
    }
    for (const [k, v] of Object.entries(o)) if (typeof v === 'object') checkPatterns(v, `${field}.${k}`);
  };
  for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) checkPatterns(json[part], part);
  const added = json.added_tokens;
  if (added !== undefined) {
    if (!Array.isArray(added)) fail('added_tokens', 'added_tokens must be a list');
    for (const [i, t] of (added as unknown[]).entries()) {
      const tok = t as { id?: unknown; content?: unknown };
      if (typeof tok?.content !== 'string' || typeof tok.id !== 'number' || !Number.isInteger(tok.id) || tok.id < 0) {
        fail(`added_tokens[${i}]`, `added_tokens[${i}] needs an integer "id" and a string "content"`);
      }
    }
  }
}
