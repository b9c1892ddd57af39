// Strict decimal parsing: what people type as numbers, with JavaScript's surprises refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDecimal } from './numbers.ts';

test('plain decimals and exponents parse; hex, binary, underscores, commas, blanks and infinities do not', () => {
  for (const [text, value] of [
    ['16', 16],
    ['-3', -3],
    ['+0.5', 0.5],
    ['.25', 0.25],
    ['2.', 2],
    ['2e-4', 2e-4],
    ['1E3', 1000],
    ['1e12', 1e12],
  ] as const)
    assert.equal(parseDecimal(text), value, text);
  for (const text of [
    '0x10',
    '0b1',
    '0o7',
    '1_000',
    '1,5',
    '',
    ' ',
    ' 3',
    '3 ',
    'Infinity',
    '-Infinity',
    'NaN',
    '1e999',
    '1e',
    'e5',
    '--1',
    '٣',
  ])
    assert.equal(parseDecimal(text), null, JSON.stringify(text));
});
