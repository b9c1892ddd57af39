// Scoring answers to the held-out VQA set: exact match after normalisation per category, well-formed
// lists, retention ratios against a baseline, and the Markdown table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldOutVqa } from './corpus.ts';
import { VQA_CATEGORIES } from './conversation.ts';
import { retention, scoreVqa, vqaTable } from './vqa-score.ts';

test('scoring: exact match after normalisation, per category and overall', () => {
  const items = heldOutVqa(1, 2);
  // Right: the answer upper-cased with a full stop (words), or spaced out (lists, judged strictly).
  const predictions = items.map((x, i) =>
    i % 2 === 1 ? `${x.answer} and more` : x.answer.startsWith('[') ? ` ${x.answer} ` : ` ${x.answer.toUpperCase()}.`,
  );
  const s = scoreVqa(items, predictions);
  for (const c of VQA_CATEGORIES) assert.deepEqual([s.categories[c].correct, s.categories[c].total], [1, 2], c);
  // The list categories also count well-formed lists (the right one; "… and more" is not a list).
  assert.equal(s.categories.lists.wellFormed, 1);
  assert.equal(s.categories.json.wellFormed, 1);
  assert.equal(s.categories.colour.wellFormed, undefined);
  assert.ok(
    !scoreVqa(
      items,
      items.map((x) => (x.answer.startsWith('[') ? `${x.answer}.` : x.answer)),
    ).predictions.some((p) => p.answer.startsWith('[') && p.correct),
    'a list with a full stop after it is not a list',
  );
  assert.equal(s.overall, 0.5);
  assert.equal(s.predictions.filter((p) => p.correct).length, items.length / 2);
  const base = scoreVqa(
    items,
    items.map((x) => x.answer),
  );
  const r = retention({ seed: 1, perCategory: 2, seconds: 0, ...s }, { seed: 1, perCategory: 2, seconds: 0, ...base });
  assert.equal(r.overall, 0.5);
  assert.equal(r.colour, 0.5);
  const zero = scoreVqa(
    items,
    items.map(() => 'nothing'),
  );
  assert.equal(retention({ seed: 1, perCategory: 2, seconds: 0, ...s }, { seed: 1, perCategory: 2, seconds: 0, ...zero }).colour, null);
  assert.match(
    vqaTable({ seed: 1, perCategory: 2, seconds: 0, ...s }, { seed: 1, perCategory: 2, seconds: 0, ...base }),
    /\| colour \| 2 \| 50\.0% \| 100\.0% \| 0\.500 \|/,
  );
});
