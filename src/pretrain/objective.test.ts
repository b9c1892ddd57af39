// Tests of the pretraining objective's batches: image-token naming targets sit after each example's
// next-token rows, and a target outside the sequence is refused. (Grounding attention: attend.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeBatch } from '../train/trainer.ts';
import { tinyExamples } from '../train/testing/fixtures.ts';
import { namingBatch } from './objective.ts';

test("own-token targets train a position on its own token's target, after the next-token rows", () => {
  const ex = tinyExamples(2);
  const own = { at: Int32Array.from([0, 2]), ids: Int32Array.from([7, 9]) };
  const plain = makeBatch(ex, 0);
  const { input, targets } = namingBatch([ex[0]!, { ...ex[1]!, own }], 0);
  const firstRows = ex[0]!.mask.reduce((a, m, t) => a + (m && t > 0 ? 1 : 0), 0);
  // Example 1's next-token rows come first, then its two own-token rows (row b·T + t, target as given).
  assert.deepEqual([...targets], [...plain.targets, 7, 9]);
  assert.deepEqual([...input.rows.subarray(plain.input.rows.length)], [input.length + 0, input.length + 2]);
  assert.ok(firstRows > 0);
  assert.throws(
    () => namingBatch([{ ...ex[0]!, own: { at: Int32Array.from([ex[0]!.ids.length]), ids: Int32Array.from([1]) } }], 0),
    /outside the sequence/,
  );
});
