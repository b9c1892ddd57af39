// Property tests of the action codecs: round trips, a malformed corpus rejected with positions, and
// the grammar engine against an independently written regular expression.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getCodec, listCodecs, codecPromptHint, makeTokensCodec, ActionParseError, MAX_ELEMENTS, BINS } from './index.ts';
import type { ActionElement } from './index.ts';

const value = fc.double({ min: -99, max: 99, noNaN: true });
const element = fc.record({
  dx: value,
  dy: value,
  dz: value,
  droll: value,
  dpitch: value,
  dyaw: value,
  gripper: fc.constantFrom(0 as const, 1 as const),
});
const chunk = fc.array(element, { minLength: 1, maxLength: MAX_ELEMENTS });

test('every registered style is listed', () => {
  assert.deepEqual(listCodecs().sort(), ['at', 'list', 'phrase', 'rot', 'tokens']);
});

for (const style of ['list', 'rot', 'phrase', 'at']) {
  test(`${style}: encode → decode round trip within the printed rounding`, () => {
    const codec = getCodec(style);
    fc.assert(
      fc.property(chunk, (elements) => {
        const text = codec.encode(elements);
        const back = codec.decode(text);
        assert.ok(back.ok, back.ok ? '' : back.error.message);
        assert.equal(back.value.length, elements.length);
        back.value.forEach((b, i) => {
          const e = elements[i]!;
          const keys = style === 'rot' ? (['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw'] as const) : (['dx', 'dy', 'dz'] as const);
          for (const k of keys) assert.ok(Math.abs(b[k] - e[k]) <= 0.05 + 1e-9, `${k}: ${b[k]} vs ${e[k]}`);
          assert.equal(b.gripper, e.gripper);
        });
        assert.equal(codec.encode(back.value), text, 'decoded values re-encode to the same text');
      }),
      { numRuns: 200, seed: 11 },
    );
  });
}

const MALFORMED_LIST = [
  '',
  '[',
  '[[',
  '[]',
  '[[]]',
  '[[1.0, 2.0, 3.0, 1]',
  '[[1.0, 2.0, 3.0]]',
  '[[1.0, 2.0, 3.0, 1, 1]]',
  '[[NaN, 0.0, 0.0, 1]]',
  '[[1e309, 0.0, 0.0, 1]]',
  '[[Infinity, 0.0, 0.0, 1]]',
  '[[1.0, 2.0, 3.0, 1]] trailing',
  '[[1.0, 2.0, 3.0, 1]]\n',
  ' [[1.0, 2.0, 3.0, 1]]',
  '[[1.0, 2.0, 3.0, 0.5]]',
  '[[1.0, 2.0, 3.0, open]]',
  '[[1.0, 2.0, 3.0, 2]]',
  '[[1,5, 2.0, 3.0, 1]]',
  '[[１.0, 2.0, 3.0, 1]]',
  '[[٣.0, 2.0, 3.0, 1]]',
  '[[+1.0, 2.0, 3.0, 1]]',
  '[[01.0, 2.0, 3.0, 1]]',
  '[[1., 2.0, 3.0, 1]]',
  '[[.5, 2.0, 3.0, 1]]',
  '[[-, 2.0, 3.0, 1]]',
  '[[1.000, 2.0, 3.0, 1]]',
  '[[1000.0, 2.0, 3.0, 1]]',
  '[[1.0 , 2.0, 3.0, 1]]',
  '[[1.0,  2.0, 3.0, 1]]',
  '[[1.0, 2.0, 3.0, 1]]]',
  '[[[1.0, 2.0, 3.0, 1]]]',
  '[[1.0, 2.0, 3.0, 1],, [1.0, 2.0, 3.0, 1]]',
  '[[0x10, 2.0, 3.0, 1]]',
  '[[1.0, 2.0, 3.0, 1]' + ', [1.0, 2.0, 3.0, 1]'.repeat(MAX_ELEMENTS) + ']',
  '['.repeat(9000),
];

test('list: every malformed string is a typed error with the position of the fault, never a throw', () => {
  const codec = getCodec('list');
  for (const text of MALFORMED_LIST) {
    const r = codec.decode(text);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(text)}`);
    if (r.ok) continue;
    assert.ok(r.error instanceof ActionParseError);
    assert.equal(r.error.code, 'E_ACTION_PARSE');
    assert.ok(r.error.position >= 0 && r.error.position <= text.length, `${JSON.stringify(text)} → ${r.error.position}`);
    assert.equal(codec.grammar.matches(text), false);
  }
  const r = codec.decode('[[1.0, 2.0, x.0, 1]]');
  assert.ok(!r.ok && r.error.position === 12 && /expected one of/.test(r.error.message), r.ok ? '' : r.error.message);
  // Non-strings from a confused caller are errors too.
  assert.equal(codec.decode(42 as unknown as string).ok, false);
});

/** The list syntax written independently as a JavaScript regex (the oracle for the grammar engine). */
const NUM = '-?(?:0|[1-9]\\d{0,2})(?:\\.\\d{1,2})?';
const EL = `\\[${NUM}, ?${NUM}, ?${NUM}, ?[01]\\]`;
const LIST_RE = new RegExp(`^\\[${EL}(?:, ?${EL}){0,${MAX_ELEMENTS - 1}}\\]$`);

test('list: the grammar accepts exactly what an independent regex accepts, on random mutations', () => {
  const codec = getCodec('list');
  const alphabet = '[], .-0123456789 1e+x';
  const mutated = fc
    .tuple(chunk, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('ins', 'del', 'rep')), { maxLength: 3 }))
    .map(([elements, edits]) => {
      let s = codec.encode(elements.slice(0, 4));
      for (const [pos, ch, op] of edits) {
        const i = pos % (s.length + 1);
        const c = alphabet[ch % alphabet.length]!;
        s =
          op === 'ins'
            ? s.slice(0, i) + c + s.slice(i)
            : op === 'del'
              ? s.slice(0, i) + s.slice(i + 1)
              : s.slice(0, i) + c + s.slice(i + 1);
      }
      return s;
    });
  let rejected = 0;
  fc.assert(
    fc.property(mutated, (s) => {
      const expected = LIST_RE.test(s);
      assert.equal(codec.decode(s).ok, expected, JSON.stringify(s));
      assert.equal(codec.grammar.matches(s), expected);
      if (!expected) rejected++;
    }),
    { numRuns: 1500, seed: 5 },
  );
  assert.ok(rejected > 300, `only ${rejected} mutations were invalid: the test does not probe rejection`);
});

test('phrase: malformed phrases are rejected; canonical phrasing parses', () => {
  const codec = getCodec('phrase');
  const good = codec.decode('move forward 4.2 cm, move down 1.5 cm, open gripper; close gripper');
  assert.ok(good.ok);
  assert.deepEqual(
    good.value.map((e) => [e.dx, e.dy, e.dz, e.gripper]),
    [
      [4.2, 0, -1.5, 1],
      [0, 0, 0, 0],
    ],
  );
  for (const bad of [
    '',
    'open gripper;',
    'move forward 4.2 cm',
    'move down 1.5 cm, move forward 4.2 cm, open gripper',
    'move forward 4.2 cm, move forward 1.0 cm, open gripper',
    'move forward -4.2 cm, open gripper',
    'move sideways 4.2 cm, open gripper',
    'move forward NaN cm, open gripper',
    'move forward 4,2 cm, open gripper',
    'Open gripper',
    'open gripper ',
    'open gripper;close gripper',
  ]) {
    const r = codec.decode(bad);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(bad)}`);
  }
});

const TOKENS = Array.from({ length: BINS }, (_, i) => `<unused${i}>`);
const RANGES = { low: [-5, -5, -5] as [number, number, number], high: [5, 5, 5] as [number, number, number] };

test('tokens: round trip within half a bin, four tokens per element, unknown tokens rejected', () => {
  const codec = makeTokensCodec({ ...RANGES, tokens: TOKENS });
  const inRange = fc.record({
    dx: fc.double({ min: -4.99, max: 4.99, noNaN: true }),
    dy: fc.double({ min: -4.99, max: 4.99, noNaN: true }),
    dz: fc.double({ min: -4.99, max: 4.99, noNaN: true }),
    gripper: fc.constantFrom(0 as const, 1 as const),
  });
  fc.assert(
    fc.property(fc.array(inRange, { minLength: 1, maxLength: 16 }), (raw) => {
      const elements: ActionElement[] = raw.map((e) => ({ ...e, droll: 0, dpitch: 0, dyaw: 0 }));
      const text = codec.encode(elements);
      assert.equal((text.match(/<unused\d+>/g) ?? []).length, 4 * elements.length);
      const back = codec.decode(text);
      assert.ok(back.ok);
      back.value.forEach((b, i) => {
        for (const k of ['dx', 'dy', 'dz'] as const) assert.ok(Math.abs(b[k] - elements[i]![k]) <= codec.resolutionCm + 1e-9);
        assert.equal(b.gripper, elements[i]!.gripper);
      });
    }),
    { numRuns: 100, seed: 3 },
  );
  for (const bad of ['', '<unused1><unused2>', '<unused1><unused2><unused3><unused7>', '<unused1><unused2><unused3><unused0>x', '<bos>']) {
    assert.equal(codec.decode(bad).ok, false, bad);
  }
  assert.throws(() => makeTokensCodec({ ...RANGES, tokens: TOKENS.slice(1) }), /needs 256/);
  assert.throws(() => makeTokensCodec({ ...RANGES, tokens: [...TOKENS.slice(0, 255), '<unused1'] }), /prefix-free/);
  assert.throws(() => makeTokensCodec({ low: [0, 0, 0], high: [0, 1, 1], tokens: TOKENS }), /bin range/);
  assert.throws(
    () => getCodec('tokens'),
    (e: unknown) => (e as { code?: string }).code === 'E_TOKENS_CODEC',
  );
  assert.throws(
    () => getCodec('morse'),
    (e: unknown) => (e as { code?: string }).code === 'E_ACTION_STYLE',
  );
});

test('every codec carries the hint that names its format in the chunk prompt; an unknown style is a typed error', () => {
  const hints = listCodecs().map((s) => codecPromptHint(s));
  assert.ok(
    hints.every((h) => /^as /.test(h)),
    hints.join(' | '),
  );
  assert.equal(new Set(hints).size, hints.length);
  assert.throws(
    () => codecPromptHint('morse'),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'E_ACTION_STYLE',
  );
});

test('at: the list text with every digit as its marker; the grammar and the strict decoder agree with list', () => {
  const at = getCodec('at');
  const list = getCodec('list');
  const elements = [{ dx: 4.2, dy: 0, dz: -1.5, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 as const }];
  assert.equal(at.encode(elements), '[[<d4>.<d2>, <d0>.<d0>, -<d1>.<d5>, <d1>]]');
  fc.assert(
    fc.property(
      fc.oneof(
        chunk.map((e) => list.encode(e)),
        fc.string(),
      ),
      (text) => {
        const marked = text.replace(/\d/g, (d) => `<d${d}>`);
        const a = at.decode(marked);
        const l = list.decode(text);
        assert.equal(a.ok, l.ok, text);
        if (a.ok && l.ok) assert.deepEqual(a.value, l.value);
        assert.equal(at.decode(text).ok, text.length > 0 && !/\d/.test(text) && l.ok, 'plain digits are not markers');
      },
    ),
    { numRuns: 300, seed: 12 },
  );
});
