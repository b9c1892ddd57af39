// Grammar-constrained decoding: given a character-level grammar (actions/ grammars implement it) and
// the surface text of every vocabulary token, computes which tokens may come next by walking a trie
// of token texts alongside the grammar, so the cost follows the grammar's reachable prefixes rather
// than the vocabulary size; then masks logits and advances the grammar as tokens are chosen.
import { UsageError } from '../errors/index.ts';

/** A grammar as a character automaton. `advance` returns null when `text` cannot follow. States
 *  must be immutable values (the walk shares them between branches). */
export interface CharGrammar<S> {
  start(): S;
  advance(state: S, text: string): S | null;
  accepts(state: S): boolean;
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Tokens whose whole text ends here. */
  ids: number[];
}

/** A trie over token texts, keyed by Unicode code points. */
export class TokenTrie {
  readonly root: TrieNode = { children: new Map(), ids: [] };
  readonly size: number;

  /** `texts[id]` is the surface text of token id, or null for tokens never allowed (specials,
   *  partial UTF-8 bytes, empty). */
  constructor(texts: readonly (string | null)[]) {
    this.size = texts.length;
    texts.forEach((text, id) => {
      if (text === null || text.length === 0) return;
      let node = this.root;
      for (const ch of text) {
        let next = node.children.get(ch);
        if (!next) node.children.set(ch, (next = { children: new Map(), ids: [] }));
        node = next;
      }
      node.ids.push(id);
    });
  }
}

/** Marks in `mask` (1 = allowed) every token whose text the grammar can take from `state`;
 *  returns how many. */
export function allowedTokens<S>(trie: TokenTrie, grammar: CharGrammar<S>, state: S, mask: Uint8Array): number {
  mask.fill(0);
  let count = 0;
  const stack: [TrieNode, S][] = [[trie.root, state]];
  while (stack.length > 0) {
    const [node, s] = stack.pop()!;
    for (const [ch, child] of node.children) {
      const next = grammar.advance(s, ch);
      if (next === null) continue;
      for (const id of child.ids) {
        mask[id] = 1;
        count++;
      }
      if (child.children.size > 0) stack.push([child, next]);
    }
  }
  return count;
}

/** Surface text of each token for constrained decoding: added/special tokens and partial UTF-8
 *  byte tokens are never allowed inside constrained text. */
export function tokenSurfaceTexts(tok: {
  vocabSize: number;
  specialTokens: ReadonlyMap<string, number>;
  decode(ids: readonly number[]): string;
}): (string | null)[] {
  const special = new Set(tok.specialTokens.values());
  const out: (string | null)[] = new Array(tok.vocabSize).fill(null);
  for (let id = 0; id < tok.vocabSize; id++) {
    if (special.has(id)) continue;
    const text = tok.decode([id]);
    out[id] = text.includes('\uFFFD') ? null : text;
  }
  return out;
}

/** Allowed token ids per grammar state, for grammars whose states carry a `key` (the action
 *  grammars' do): a state's mask is computed by one trie walk and then reused by every generation
 *  with the same trie and grammar — the same few states recur in every chunk. */
const allowedCache = new WeakMap<TokenTrie, WeakMap<object, Map<string, Int32Array>>>();
const MAX_CACHED_STATES = 4096;

function stateKey(state: unknown): string | null {
  return state !== null && typeof state === 'object' && typeof (state as { key?: unknown }).key === 'string'
    ? (state as { key: string }).key
    : null;
}

/** Follows one constrained generation: mask logits, then accept the chosen token. */
export class GrammarConstraint<S> {
  #state: S;
  readonly #mask: Uint8Array;
  readonly #cache: Map<string, Int32Array> | null;

  constructor(
    readonly grammar: CharGrammar<S>,
    readonly trie: TokenTrie,
    readonly texts: readonly (string | null)[],
    /** Tokens that end generation; allowed only where the grammar accepts. */
    readonly stopIds: readonly number[],
  ) {
    this.#state = grammar.start();
    this.#mask = new Uint8Array(trie.size);
    let byGrammar = allowedCache.get(trie);
    if (!byGrammar) allowedCache.set(trie, (byGrammar = new WeakMap()));
    let cache = byGrammar.get(grammar as object) ?? null;
    if (!cache && stateKey(this.#state) !== null) byGrammar.set(grammar as object, (cache = new Map()));
    this.#cache = cache;
  }

  /** The ids the grammar allows from the current state (stop ids not included). */
  #allowed(): Int32Array {
    const key = this.#cache ? stateKey(this.#state) : null;
    const hit = key !== null ? this.#cache!.get(key) : undefined;
    if (hit) return hit;
    const n = allowedTokens(this.trie, this.grammar, this.#state, this.#mask);
    const ids = new Int32Array(n);
    for (let i = 0, k = 0; i < this.#mask.length; i++) if (this.#mask[i] === 1) ids[k++] = i;
    if (key !== null && this.#cache!.size < MAX_CACHED_STATES) this.#cache!.set(key, ids);
    return ids;
  }

  get state(): S {
    return this.#state;
  }

  /** True when the text so far is a complete sentence of the grammar. */
  get complete(): boolean {
    return this.grammar.accepts(this.#state);
  }

  /** Sets every disallowed logit to -Infinity; returns the number of allowed tokens. A grammar
   *  dead end (nothing allowed, not complete) is a bug in the grammar and throws. */
  apply(logits: Float32Array): number {
    if (logits.length < this.trie.size) throw new UsageError(`logits have ${logits.length} entries, the vocabulary ${this.trie.size}`);
    const allowed = this.#allowed();
    const stops = this.complete ? this.stopIds : [];
    const count = allowed.length + stops.length;
    if (count === 0)
      throw new UsageError(
        'the grammar allows no next token and is not complete',
        'the grammar has a dead end; test it with its own corpus',
      );
    // Keep the allowed logits, set every other to -Infinity.
    const kept = new Float32Array(count);
    allowed.forEach((id, k) => (kept[k] = logits[id]!));
    stops.forEach((id, k) => (kept[allowed.length + k] = logits[id]!));
    logits.fill(-Infinity);
    allowed.forEach((id, k) => (logits[id] = kept[k]!));
    stops.forEach((id, k) => (logits[id] = kept[allowed.length + k]!));
    return count;
  }

  /** Advances past a chosen token; returns false (state unchanged) when it was not allowed. */
  accept(id: number): boolean {
    if (this.stopIds.includes(id)) return this.complete;
    const text = this.texts[id];
    if (text === null || text === undefined) return false;
    const next = this.grammar.advance(this.#state, text);
    if (next === null) return false;
    this.#state = next;
    return true;
  }
}
