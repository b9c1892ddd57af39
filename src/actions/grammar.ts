// Grammars as data: a tiny regular-expression algebra (literals, character sets, sequences,
// alternatives, bounded repetition) compiled to an NFA and run as sets of states. Codecs build their
// syntax with it, so the strict decoder and the constrained decoder follow one definition.
// A Grammar is also the character-level automaton that decode/ walks token by token.

export type Node =
  | { kind: 'lit'; text: string }
  | { kind: 'set'; chars: string }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; items: Node[] }
  | { kind: 'rep'; item: Node; min: number; max: number };

export const lit = (text: string): Node => ({ kind: 'lit', text });
export const set = (chars: string): Node => ({ kind: 'set', chars });
export const seq = (...items: Node[]): Node => ({ kind: 'seq', items });
export const alt = (...items: Node[]): Node => ({ kind: 'alt', items });
export const rep = (item: Node, min: number, max: number): Node => ({ kind: 'rep', item, min, max });
export const opt = (item: Node): Node => rep(item, 0, 1);
export const DIGITS = '0123456789';

/** Immutable parser state: the sorted set of live NFA positions. */
export interface GrammarState {
  readonly key: string;
  readonly nodes: readonly number[];
}

interface Nfa {
  /** chars[i]: the characters that move position i to i+1's target, or null for an epsilon node. */
  chars: (string | null)[];
  /** Target of a consuming node. */
  next: number[];
  /** Epsilon successors of an epsilon node. */
  eps: number[][];
  start: number;
  accept: number;
}

function compile(root: Node): Nfa {
  const chars: (string | null)[] = [];
  const next: number[] = [];
  const eps: number[][] = [];
  const node = (c: string | null): number => {
    chars.push(c);
    next.push(-1);
    eps.push([]);
    return chars.length - 1;
  };
  // Builds a fragment from `from`; returns its exit node (an epsilon node).
  const build = (n: Node, from: number): number => {
    switch (n.kind) {
      case 'lit': {
        let cur = from;
        for (const ch of n.text) {
          const c = node(ch);
          eps[cur]!.push(c);
          const out = node(null);
          next[c] = out;
          cur = out;
        }
        return cur;
      }
      case 'set': {
        const c = node(n.chars);
        eps[from]!.push(c);
        const out = node(null);
        next[c] = out;
        return out;
      }
      case 'seq': {
        let cur = from;
        for (const item of n.items) cur = build(item, cur);
        return cur;
      }
      case 'alt': {
        const out = node(null);
        for (const item of n.items) {
          const s = node(null);
          eps[from]!.push(s);
          eps[build(item, s)]!.push(out);
        }
        return out;
      }
      case 'rep': {
        const out = node(null);
        let cur = from;
        for (let i = 0; i < n.max; i++) {
          if (i >= n.min) eps[cur]!.push(out);
          const s = node(null);
          eps[cur]!.push(s);
          cur = build(n.item, s);
        }
        eps[cur]!.push(out);
        return out;
      }
    }
  };
  const start = node(null);
  const accept = build(root, start);
  return { chars, next, eps, start, accept };
}

export class Grammar {
  readonly #nfa: Nfa;
  readonly #initial: GrammarState;
  readonly #cache = new Map<string, GrammarState | null>();
  readonly #states = new Map<string, GrammarState>();

  constructor(readonly root: Node) {
    this.#nfa = compile(root);
    this.#initial = this.#close([this.#nfa.start]);
  }

  /** Epsilon closure, keeping only consuming nodes and the accept node (the canonical state). */
  #close(seeds: number[]): GrammarState {
    const { chars, eps, accept } = this.#nfa;
    const seen = new Set<number>();
    const keep: number[] = [];
    const stack = [...seeds];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (seen.has(i)) continue;
      seen.add(i);
      if (chars[i] !== null || i === accept) keep.push(i);
      for (const j of eps[i]!) stack.push(j);
    }
    keep.sort((a, b) => a - b);
    const key = keep.join(',');
    let state = this.#states.get(key);
    if (!state) this.#states.set(key, (state = Object.freeze({ key, nodes: Object.freeze(keep) })));
    return state;
  }

  start(): GrammarState {
    return this.#initial;
  }

  /** The state after one character, or null if the character cannot come next. */
  step(state: GrammarState, ch: string): GrammarState | null {
    const memo = `${state.key}|${ch}`;
    const cached = this.#cache.get(memo);
    if (cached !== undefined) return cached;
    const { chars, next } = this.#nfa;
    const seeds: number[] = [];
    for (const i of state.nodes) {
      const c = chars[i];
      if (c !== null && c !== undefined && c.includes(ch)) seeds.push(next[i]!);
    }
    const result = seeds.length === 0 ? null : this.#close(seeds);
    if (this.#cache.size < 1_000_000) this.#cache.set(memo, result);
    return result;
  }

  /** The state after `text`, or null at the first character that cannot follow. */
  advance(state: GrammarState, text: string): GrammarState | null {
    let s: GrammarState | null = state;
    for (const ch of text) {
      s = this.step(s, ch);
      if (s === null) return null;
    }
    return s;
  }

  accepts(state: GrammarState): boolean {
    return state.nodes.includes(this.#nfa.accept);
  }

  /** The characters that may come next (for error messages and documentation). */
  expected(state: GrammarState): string {
    const out = new Set<string>();
    for (const i of state.nodes) {
      const c = this.#nfa.chars[i];
      if (c) for (const ch of c) out.add(ch);
    }
    return [...out].sort().join('');
  }

  /** Runs the whole text: -1 if it is a sentence of the grammar, else the index (in UTF-16 units)
   *  of the first character that cannot follow, or text.length if the text ends too early. */
  firstError(text: string): number {
    let s: GrammarState | null = this.#initial;
    let index = 0;
    for (const ch of text) {
      const n = this.step(s, ch);
      if (n === null) return index;
      s = n;
      index += ch.length;
    }
    return this.accepts(s) ? -1 : text.length;
  }

  matches(text: string): boolean {
    return this.firstError(text) === -1;
  }
}
