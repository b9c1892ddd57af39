// A fast encoder for BPE tokenizer.json files of the Gemma/SentencePiece shape (Replace normaliser, string Split,
// byte fallback, added tokens): O(n log n) per word — a heap of candidate merges over a linked list in typed arrays —
// returning the same ids as the @lenml/tokenizers reference, which stays as the slow path for every other shape.
//
// Gemma's pipeline never splits ordinary text into words (spaces become "▁" before the split), so BPE runs over
// whole paragraphs. Two things keep that linear: a merge costs O(log n) whatever the paragraph's length, and a
// paragraph is cut between two characters that no merge result contains side by side (no merge can ever join them,
// so both sides encode independently); the pieces are short and repeat, and a bounded cache keeps their ids.

/** What the encoder needs from the reference implementation, so both read one vocabulary. */
export interface ReferenceVocabulary {
  /** Every vocabulary and added-token string → id, as the reference looks tokens up. */
  tokensToIds: ReadonlyMap<string, number>;
  /** The model's unknown-token id (the reference's fallback for strings outside the vocabulary). */
  unkId: number | undefined;
}

/** Either the parts of an encoder (cheap: built into tables on first use), or why this file needs the reference. */
export type FastEncoderPlan = { parts: EncoderParts; unsupported?: undefined } | { parts?: undefined; unsupported: string };

interface AddedTokenSpec {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  end: string | null;
}

const NO_RANK = -1;

/**
 * Checks that every component of the tokenizer is one the fast encoder reproduces and collects its parts, or says
 * which component needs the reference. Building the tables (a second or two for Gemma 3) is left to `new FastBpeEncoder`.
 */
export function planFastEncoder(
  json: Record<string, unknown>,
  config: Record<string, unknown>,
  vocab: ReferenceVocabulary,
): FastEncoderPlan {
  const cls = typeof config.tokenizer_class === 'string' ? config.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  if (cls !== 'GemmaTokenizer' && cls !== 'PreTrainedTokenizer') return { unsupported: `tokenizer_class ${cls}` };
  if (config.remove_space === true || Boolean(config.do_lowercase_and_remove_accent))
    return { unsupported: 'remove_space / do_lowercase_and_remove_accent' };

  const model = json.model as Record<string, unknown>;
  if (model.type !== 'BPE') return { unsupported: `model type ${String(model.type)}` };
  if (model.end_of_word_suffix || (model.continuing_subword_suffix ?? null) !== null) return { unsupported: 'BPE word suffixes' };
  if (!Array.isArray(model.merges)) return { unsupported: 'no merges' };
  const unkToken = model.unk_token;
  if (vocab.unkId === undefined || typeof unkToken !== 'string' || vocab.tokensToIds.get(unkToken) !== vocab.unkId) {
    return { unsupported: 'no unknown token in the vocabulary' };
  }

  const replace = literalReplace(json.normalizer);
  if (replace === undefined) return { unsupported: 'normalizer' };
  const split = literalSplit(json.pre_tokenizer);
  if (split === undefined) return { unsupported: 'pre_tokenizer' };
  const prefix = templatePrefix(json.post_processor);
  if (prefix === undefined) return { unsupported: 'post_processor' };

  const added = ((json.added_tokens as { content: string; lstrip?: boolean; rstrip?: boolean }[] | undefined) ?? []).map(
    (t): AddedTokenSpec => ({ content: t.content, lstrip: t.lstrip ?? false, rstrip: t.rstrip ?? false }),
  );
  return {
    parts: {
      merges: model.merges as unknown[],
      vocab,
      byteFallback: Boolean(model.byte_fallback ?? false),
      fuseUnk: Boolean(model.fuse_unk ?? false),
      ignoreMerges: Boolean(model.ignore_merges ?? false),
      replace,
      split,
      prefix: prefix.map((t) => vocab.tokensToIds.get(t) ?? vocab.unkId!),
      added,
    },
  };
}

/** `null` (no normaliser), a literal Replace, or undefined (unsupported). */
function literalReplace(n: unknown): { from: string; to: string } | null | undefined {
  if (n === null || n === undefined) return null;
  const r = n as { type?: unknown; pattern?: { String?: unknown }; content?: unknown };
  if (r.type !== 'Replace' || typeof r.pattern?.String !== 'string' || typeof r.content !== 'string') return undefined;
  if (!isWellFormedLiteral(r.pattern.String) || r.content.includes('$')) return undefined;
  return { from: r.pattern.String, to: r.content };
}

/**
 * `null` (no pre-tokenizer), a literal Split's delimiter, or undefined (unsupported). The reference keeps each
 * delimiter as a word of its own whatever the `behavior` (its "removed" splits on a capturing group), and so do we.
 */
function literalSplit(p: unknown): string | null | undefined {
  if (p === null || p === undefined) return null;
  const s = p as { type?: unknown; pattern?: { String?: unknown }; invert?: unknown };
  if (s.type !== 'Split' || typeof s.pattern?.String !== 'string' || Boolean(s.invert)) return undefined;
  return isWellFormedLiteral(s.pattern.String) ? s.pattern.String : undefined;
}

/** Token strings a TemplateProcessing adds before a single sequence; `[]` without post-processor; undefined if unsupported. */
function templatePrefix(p: unknown): string[] | undefined {
  if (p === null || p === undefined) return [];
  const t = p as { type?: unknown; single?: unknown };
  if (t.type !== 'TemplateProcessing' || !Array.isArray(t.single)) return undefined;
  const prefix: string[] = [];
  let sawSequence = false;
  for (const item of t.single as Record<string, { id?: unknown }>[]) {
    if (item.SpecialToken !== undefined && !sawSequence && typeof item.SpecialToken.id === 'string') prefix.push(item.SpecialToken.id);
    else if (item.Sequence !== undefined && item.Sequence.id === 'A' && !sawSequence) sawSequence = true;
    else return undefined;
  }
  return sawSequence ? prefix : undefined;
}

/** A non-empty literal without lone surrogates (so JavaScript's Unicode regex and indexOf agree on it). */
function isWellFormedLiteral(s: string): boolean {
  return s.length > 0 && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

export interface EncoderParts {
  merges: unknown[];
  vocab: ReferenceVocabulary;
  byteFallback: boolean;
  fuseUnk: boolean;
  ignoreMerges: boolean;
  replace: { from: string; to: string } | null;
  split: string | null;
  prefix: number[];
  added: AddedTokenSpec[];
}

const CACHE_MAX_CHARS = 64;
const CACHE_ENTRIES = 1 << 15;
/** Bits of the filter of code-unit pairs that occur side by side inside some merge result (false hits only cut less). */
const JOIN_BITS = 22;

/**
 * Symbols are interned strings: every vocabulary token and merge part, and each merge result once that merge
 * applies. A merge is found by its pair of symbols in an open-addressing table; its rank is its last index in
 * `merges` (later duplicates win, as in the reference). Characters outside the table are negative symbols
 * `-(codePoint + 1)`: no merge touches them.
 */
export class FastBpeEncoder {
  readonly #tokensToIds: ReadonlyMap<string, number>;
  readonly #unkId: number;
  readonly #byteFallback: boolean;
  readonly #fuseUnk: boolean;
  readonly #ignoreMerges: boolean;
  readonly #replace: { from: string; to: string } | null;
  readonly #split: string | null;
  readonly #prefix: number[];
  readonly #added: Map<string, AddedTokenSpec>;
  readonly #trie: TrieNode;
  /** Code units that begin some added token (the splitter's fast rejection). */
  readonly #addedStart = new Uint8Array(65536);

  /** Symbol → token id (-1: the string is not in the vocabulary), and symbol → string (for byte fallback). */
  #symId: Int32Array;
  #symText: string[];
  #intern: Map<string, number>;
  /** BMP code unit → symbol of that one-character string (-1: none); astral code points in a map. */
  #charSym = new Int32Array(65536).fill(-1);
  #astralSym = new Map<number, number>();
  /** Merge table: slots of [left, right, rank] (left -1: empty); rank → its parts and its result symbol (-1 until a
   *  merge first applies: concatenating and interning all 500k results of Gemma 3 took most of the build). */
  #mask: number;
  #table: Int32Array;
  #mergeLeft: Int32Array;
  #mergeRight: Int32Array;
  #mergeResult: Int32Array;
  #byteIds = new Int32Array(256).fill(-1);
  /** Filter of code-unit pairs (a, b) some merge result contains as "…ab…": elsewhere a word can be cut. */
  #joins = new Uint8Array(1 << (JOIN_BITS - 3));
  /** Ids of short pieces already encoded: a direct-mapped cache keyed by a hash of the piece's code units. The
   *  units are copied into a slab (CACHE_MAX_CHARS per entry) rather than kept as strings: a slice of the caller's
   *  text would keep the whole text alive for as long as the entry lives. */
  #cacheUnits = new Uint16Array(CACHE_ENTRIES * CACHE_MAX_CHARS);
  #cacheLength = new Int32Array(CACHE_ENTRIES);
  #cacheIds: number[][] = new Array<number[]>(CACHE_ENTRIES).fill([]);

  /** Scratch arrays reused across calls (grown on demand): per code point of a word, its symbol and its end offset. */
  #wordSym = new Int32Array(0);
  #wordEnd = new Int32Array(0);
  /** Per node of the piece being merged: symbol, next, prev, current rank; the heap. */
  #sym = new Int32Array(0);
  #next = new Int32Array(0);
  #prev = new Int32Array(0);
  #rank = new Int32Array(0);
  #heap = new Float64Array(0);

  constructor(parts: EncoderParts) {
    this.#tokensToIds = parts.vocab.tokensToIds;
    this.#unkId = parts.vocab.unkId!;
    this.#byteFallback = parts.byteFallback;
    this.#fuseUnk = parts.fuseUnk;
    this.#ignoreMerges = parts.ignoreMerges;
    this.#replace = parts.replace;
    this.#split = parts.split;
    this.#prefix = parts.prefix;
    this.#added = new Map(parts.added.map((t) => [t.content, t]));
    this.#trie = { children: new Map(), end: null };
    for (const t of parts.added) this.#addToTrie(t.content);
    for (let b = 0; b < 256; b++) this.#byteIds[b] = this.#tokensToIds.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1;

    const intern = (this.#intern = new Map<string, number>());
    const texts: string[] = [];
    const symOf = (s: string): number => {
      let sym = intern.get(s);
      if (sym === undefined) {
        sym = texts.length;
        intern.set(s, sym);
        texts.push(s);
      }
      return sym;
    };
    // Every vocabulary string is interned first, so symbols below `vocabularySymbols` are exactly its strings.
    const ids: number[] = [];
    for (const [token, id] of this.#tokensToIds) ids[symOf(token)] = id;
    const vocabularySymbols = texts.length;
    // The reference keys merges by JSON.stringify([a, b]) and keeps the last index of a repeated pair. Only the
    // junction of a merge is recorded as a join: a symbol is a single code point or a merge result, so every pair of
    // neighbouring code points inside a symbol is the junction of some merge that built it.
    const count = parts.merges.length;
    const left = (this.#mergeLeft = new Int32Array(count).fill(-1));
    const right = (this.#mergeRight = new Int32Array(count));
    this.#mergeResult = new Int32Array(count).fill(-1);
    for (let i = 0; i < count; i++) {
      const m = parts.merges[i];
      const pair = Array.isArray(m) ? m : typeof m === 'string' ? m.split(' ', 2) : null;
      if (pair === null || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') continue;
      const [a, b] = pair as [string, string];
      if (a.length === 0 || b.length === 0) continue;
      left[i] = symOf(a);
      right[i] = symOf(b);
      const bit = joinHash(a.charCodeAt(a.length - 1), b.charCodeAt(0));
      this.#joins[bit >>> 3]! |= 1 << (bit & 7);
    }
    this.#symText = texts;
    this.#symId = new Int32Array(texts.length);
    for (let i = 0; i < texts.length; i++) this.#symId[i] = i < vocabularySymbols ? ids[i]! : -1;
    for (const [i, s] of texts.entries()) {
      const cp = s.codePointAt(0)!;
      if (s.length === 1) this.#charSym[s.charCodeAt(0)] = i;
      else if (s.length === 2 && cp > 0xffff) this.#astralSym.set(cp, i);
    }

    let size = 1024;
    while (size < count * 2) size *= 2;
    this.#mask = size - 1;
    const table = (this.#table = new Int32Array(3 * size).fill(-1));
    for (let rank = 0; rank < count; rank++) {
      const a = left[rank]!;
      const b = right[rank]!;
      if (a === -1) continue;
      let slot = pairHash(a, b) & this.#mask;
      while (table[3 * slot] !== -1 && (table[3 * slot] !== a || table[3 * slot + 1] !== b)) slot = (slot + 1) & this.#mask;
      table[3 * slot] = a;
      table[3 * slot + 1] = b;
      table[3 * slot + 2] = rank;
    }
  }

  /** Token ids of `text`; `addSpecial` prepends what the post-processor's single template adds. */
  encode(text: string, addSpecial: boolean): number[] {
    const out: number[] = addSpecial ? [...this.#prefix] : [];
    const sections = this.#splitAdded(text);
    for (let i = 0; i < sections.length; i++) {
      const spec = this.#added.get(sections[i]!);
      if (spec === undefined) continue;
      if (spec.lstrip && i > 0) sections[i - 1] = sections[i - 1]!.trimEnd();
      if (spec.rstrip && i < sections.length - 1) sections[i + 1] = sections[i + 1]!.trimStart();
    }
    for (const section of sections) {
      if (section.length === 0) continue;
      if (this.#added.has(section)) {
        out.push(this.#tokensToIds.get(section) ?? this.#unkId);
        continue;
      }
      const normalized = this.#replace === null ? section : section.replaceAll(this.#replace.from, this.#replace.to);
      if (normalized.length === 0) continue;
      const start = out.length;
      for (const word of this.#words(normalized)) this.#encodeWord(word, out);
      if (this.#fuseUnk) fuseUnknown(out, start, this.#unkId);
    }
    return out;
  }

  /** The reference's added-token splitter: at each position the longest added token wins, scanning left to right. */
  #splitAdded(text: string): string[] {
    const sections: string[] = [];
    let emitted = 0;
    let i = 0;
    while (i < text.length) {
      let match: string | null = null;
      if (this.#addedStart[text.charCodeAt(i)] === 1) {
        let node: TrieNode | undefined = this.#trie;
        for (let u = i; u < text.length; u++) {
          node = node.children.get(text.charCodeAt(u));
          if (node === undefined) break;
          if (node.end !== null) match = node.end;
        }
      }
      if (match !== null) {
        if (i > emitted) sections.push(text.slice(emitted, i));
        sections.push(match);
        i += match.length;
        emitted = i;
      } else {
        i++;
      }
    }
    if (emitted < text.length) sections.push(text.slice(emitted));
    return sections;
  }

  #addToTrie(content: string): void {
    if (content.length === 0) return;
    this.#addedStart[content.charCodeAt(0)] = 1;
    let node = this.#trie;
    for (let i = 0; i < content.length; i++) {
      const c = content.charCodeAt(i);
      let child = node.children.get(c);
      if (child === undefined) {
        child = { children: new Map(), end: null };
        node.children.set(c, child);
      }
      node = child;
    }
    node.end = content;
  }

  /** The pre-tokenizer's words: the text between delimiters, and each delimiter. */
  #words(text: string): string[] {
    const on = this.#split;
    if (on === null || !text.includes(on)) return [text];
    const words: string[] = [];
    let from = 0;
    for (let at = text.indexOf(on); at !== -1; at = text.indexOf(on, from)) {
      if (at > from) words.push(text.slice(from, at));
      words.push(on);
      from = at + on.length;
    }
    if (from < text.length) words.push(text.slice(from));
    return words;
  }

  #encodeWord(word: string, out: number[]): void {
    if (this.#ignoreMerges) {
      const id = this.#tokensToIds.get(word);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    const points = this.#loadWord(word);
    const wordSym = this.#wordSym;
    const wordEnd = this.#wordEnd;
    const joins = this.#joins;
    const cuttable = !this.#ignoreMerges;
    let first = 0;
    for (let k = 1; k <= points; k++) {
      if (k < points) {
        if (!cuttable) continue;
        const at = wordEnd[k - 1]!;
        const bit = joinHash(word.charCodeAt(at - 1), word.charCodeAt(at));
        if ((joins[bit >>> 3]! & (1 << (bit & 7))) !== 0) continue;
      }
      const from = first === 0 ? 0 : wordEnd[first - 1]!;
      const to = wordEnd[k - 1]!;
      const s = wordSym[first]!;
      if (k - first === 1 && s >= 0 && this.#symId[s]! >= 0) {
        out.push(this.#symId[s]!);
      } else if (to - from <= CACHE_MAX_CHARS) {
        let h = 0;
        for (let u = from; u < to; u++) h = Math.imul(h ^ word.charCodeAt(u), 0x01000193);
        h = (h ^ (h >>> 15)) & (CACHE_ENTRIES - 1);
        const units = this.#cacheUnits;
        const at = h * CACHE_MAX_CHARS;
        let hit = this.#cacheLength[h] === to - from;
        for (let u = from; hit && u < to; u++) hit = units[at + u - from] === word.charCodeAt(u);
        if (!hit) {
          const ids: number[] = [];
          this.#encodePiece(wordSym, first, k, ids);
          for (let u = from; u < to; u++) units[at + u - from] = word.charCodeAt(u);
          this.#cacheLength[h] = to - from;
          this.#cacheIds[h] = ids;
        }
        for (const id of this.#cacheIds[h]!) out.push(id);
      } else {
        this.#encodePiece(wordSym, first, k, out);
      }
      first = k;
    }
  }

  /** BPE over the code points [first, end) of the loaded word. */
  #encodePiece(wordSym: Int32Array, first: number, end: number, out: number[]): void {
    const n = end - first;
    const sym = this.#sym;
    const next = this.#next;
    const prev = this.#prev;
    for (let i = 0; i < n; i++) {
      sym[i] = wordSym[first + i]!;
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    next[n - 1] = -1;
    if (n > 1) this.#merge(n);
    for (let i = 0; i !== -1; i = next[i]!) {
      const s = sym[i]!;
      const id = s >= 0 ? this.#symId[s]! : -1;
      if (id >= 0) out.push(id);
      else this.#fallback(s >= 0 ? this.#symText[s]! : String.fromCodePoint(-s - 1), out);
    }
  }

  /**
   * Fills wordSym with one symbol per code point of `word` (lone surrogates are code points, as in Array.from) and
   * wordEnd with the code-unit offset after each; returns the number of code points.
   */
  #loadWord(word: string): number {
    if (this.#wordSym.length < word.length) this.#grow(word.length);
    const sym = this.#wordSym;
    const end = this.#wordEnd;
    let n = 0;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
        const d = word.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          sym[n] = this.#astralSym.get(cp) ?? -(cp + 1);
          end[n++] = i + 2;
          i++;
          continue;
        }
      }
      const s = this.#charSym[c]!;
      sym[n] = s >= 0 ? s : -(c + 1);
      end[n++] = i + 1;
    }
    return n;
  }

  /** Applies merges lowest rank first, leftmost first among equal ranks, until none applies. */
  #merge(n: number): void {
    const sym = this.#sym;
    const next = this.#next;
    const prev = this.#prev;
    const rank = this.#rank;
    const heap = this.#heap;
    let size = 0;
    const push = (key: number): void => {
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]! <= key) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap[--size]!;
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
        if (heap[child]! >= last) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
      return top;
    };
    // Heap keys are rank * n + position: exact in a double while rank * n < 2^53.
    const consider = (i: number): void => {
      const j = next[i]!;
      const r = j === -1 ? NO_RANK : this.#rankOf(sym[i]!, sym[j]!);
      rank[i] = r;
      if (r !== NO_RANK) push(r * n + i);
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    rank[n - 1] = NO_RANK;
    while (size > 0) {
      const key = pop();
      const r = Math.floor(key / n);
      const i = key - r * n;
      if (rank[i] !== r) continue;
      const j = next[i]!;
      const merged = this.#mergeResult[r]!;
      sym[i] = merged >= 0 ? merged : this.#resolve(r);
      const k = next[j]!;
      next[i] = k;
      if (k !== -1) prev[k] = i;
      rank[j] = NO_RANK;
      consider(i);
      if (prev[i]! !== -1) consider(prev[i]!);
    }
  }

  /** Interns the result of merge `r` the first time it applies. */
  #resolve(r: number): number {
    const text = this.#symText[this.#mergeLeft[r]!]! + this.#symText[this.#mergeRight[r]!]!;
    let sym = this.#intern.get(text);
    if (sym === undefined) {
      // Every vocabulary string was interned when the tables were built: this one is not in the vocabulary.
      sym = this.#symText.length;
      this.#intern.set(text, sym);
      this.#symText.push(text);
      if (this.#symId.length <= sym) {
        const grown = new Int32Array(2 * this.#symId.length + 16);
        grown.set(this.#symId);
        this.#symId = grown;
      }
      this.#symId[sym] = -1;
    }
    this.#mergeResult[r] = sym;
    return sym;
  }

  #rankOf(a: number, b: number): number {
    if (a < 0 || b < 0) return NO_RANK;
    const mask = this.#mask;
    const table = this.#table;
    for (let slot = pairHash(a, b) & mask; ; slot = (slot + 1) & mask) {
      const left = table[3 * slot]!;
      if (left === -1) return NO_RANK;
      if (left === a && table[3 * slot + 1] === b) return table[3 * slot + 2]!;
    }
  }

  /** A token outside the vocabulary: its UTF-8 bytes as `<0xXX>` tokens if all exist, else the unknown token. */
  #fallback(text: string, out: number[]): void {
    if (this.#byteFallback) {
      const bytes = Buffer.from(text, 'utf8');
      const ids = Array.from(bytes, (b) => this.#byteIds[b]!);
      if (ids.every((id) => id >= 0)) {
        for (const id of ids) out.push(id);
        return;
      }
    }
    out.push(this.#unkId);
  }

  #grow(length: number): void {
    const n = Math.max(length, 2 * this.#sym.length, 1024);
    this.#wordSym = new Int32Array(n);
    this.#wordEnd = new Int32Array(n);
    this.#sym = new Int32Array(n);
    this.#next = new Int32Array(n);
    this.#prev = new Int32Array(n);
    this.#rank = new Int32Array(n);
    this.#heap = new Float64Array(3 * n);
  }
}

/** Collapses each run of unknown ids in `out[start..]` into one, as the model's fuse_unk does. */
function fuseUnknown(out: number[], start: number, unkId: number): void {
  let w = start;
  for (let r = start; r < out.length; r++) {
    if (out[r] === unkId && w > start && out[w - 1] === unkId) continue;
    out[w++] = out[r]!;
  }
  out.length = w;
}

function joinHash(a: number, b: number): number {
  return Math.imul((a << 16) ^ b, 0x9e3779b1) >>> (32 - JOIN_BITS);
}

function pairHash(a: number, b: number): number {
  return Math.imul(Math.imul(a, 0x9e3779b1) ^ b, 0x85ebca6b) ^ (a >>> 7);
}
