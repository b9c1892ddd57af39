// Judging held-out answers: words loosely (normalised), lists strictly (one JSON value of the same
// shape, numbers and exact strings), and the well-formed share of list predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerMatches, listWellFormed } from './answers.ts';

test('word answers match after normalisation', () => {
  assert.ok(answerMatches(' Blue.', 'blue'));
  assert.ok(!answerMatches('left', 'right'));
  assert.equal(listWellFormed('blue', 'blue'), null);
});

test('number lists match only as the same list: value by value, nothing around it', () => {
  const want = '[4.2, -1.0, 3.0]';
  assert.ok(answerMatches('[4.2, -1.0, 3.0]', want));
  assert.ok(answerMatches(' [4.2,-1,3] ', want), 'the same numbers with other spacing');
  for (const bad of [
    '[4.2, -1.0, 3.0',
    '[4.2, -1.0, 3.0].',
    '[4.2, 1.0, 3.0]',
    '[4.2, -1.0]',
    '[4.2, -1.0, 3.0, 1]',
    '[[4.2, -1.0, 3.0]]',
    '4.2, -1.0, 3.0',
    '[4.2, -1.0, 3.0] cm',
    '[4.2, -1.0, 3.0][1]',
    '["4.2", "-1.0", "3.0"]',
    '[4,2, -1,0, 3,0]',
  ])
    assert.ok(!answerMatches(bad, want), bad);
  const moves = '[[3.0, 0.0, -2.5], [0.0, 1.5, 0.0]]';
  assert.ok(answerMatches('[[3.0, 0.0, -2.5], [0.0, 1.5, 0.0]]', moves));
  assert.ok(!answerMatches('[[3.0, 0.0, -2.5]]', moves));
  assert.ok(!answerMatches('[[3.0, 0.0, -2.5], [0.0, 1.5, 0.0], [0.0, 0.0, 0.0]]', moves));
});

test('string lists match exactly: case, order and quotes count', () => {
  const want = '["wash the apple","cut the apple"]';
  assert.ok(answerMatches('["wash the apple", "cut the apple"]', want));
  for (const bad of [
    '["Wash the apple","cut the apple"]',
    '["cut the apple","wash the apple"]',
    "['wash the apple','cut the apple']",
    '[wash the apple, cut the apple]',
    '["wash the apple","cut the apple"',
  ])
    assert.ok(!answerMatches(bad, want), bad);
  assert.ok(answerMatches('[]', '[]'));
  assert.ok(!answerMatches('[]', '["apple"]'));
});

test("well-formed: a list of the answer's shape, right or wrong", () => {
  assert.equal(listWellFormed('[1.0, 2.0, 3.0]', '[4.2, -1.0, 3.0]'), true);
  assert.equal(listWellFormed('[1.0, 2.0]', '[4.2, -1.0, 3.0]'), false);
  assert.equal(listWellFormed('[1.0, 2.0, 3.0', '[4.2, -1.0, 3.0]'), false);
  assert.equal(
    listWellFormed('[[1.0, 2.0, 3.0]]', '[[3.0, 0.0, -2.5], [0.0, 1.5, 0.0]]'),
    true,
    'a different number of moves is still well-formed',
  );
  assert.equal(listWellFormed('[[1.0, 2.0, 3.0], [1.0]]', '[[3.0, 0.0, -2.5], [0.0, 1.5, 0.0]]'), false);
  assert.equal(listWellFormed('["a", "b", "c"]', '["apple"]'), true);
  assert.equal(listWellFormed('["a", 2]', '["apple"]'), false);
  assert.equal(listWellFormed('[' + '1, '.repeat(5000) + '1]', '[1.0]'), false, 'too long to parse');
});
