// Evaluation suites: multilingual instructions use the object's name in that language; unseen-object
// tasks use held-out objects; semantic references (category, affordance, relative place) name the
// object without its name (or by a synonym) and identify it uniquely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/index.ts';
import { sampleTask, TASK_FAMILIES, affordanceReference } from './tasks.ts';
import { getObject } from './catalogue.ts';

test('suites: languages, held-out objects and semantic references', () => {
  assert.equal(affordanceReference(getObject('cup')), 'the thing you drink from');
  assert.equal(affordanceReference(getObject('knife')), 'the thing you cut bread with');
  const kinds = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const fam = TASK_FAMILIES[i % 4]!;
    const ml = sampleTask(fam, new Rng(i), 'multilingual');
    assert.notEqual(ml.language, 'en');
    assert.ok(ml.instruction.includes(getObject(ml.object).names[ml.language]), ml.instruction);
    assert.ok(getObject(sampleTask(fam, new Rng(i), 'unseen-objects').object).heldOut);
    const sem = sampleTask(fam, new Rng(i), 'semantic');
    const o = getObject(sem.object);
    const synonym = o.synonyms.some((syn) => sem.instruction.includes(`the ${syn}`));
    if (!synonym)
      assert.ok(
        !sem.instruction.includes(` ${o.names.en}`) || (sem.target !== null && getObject(sem.target).names.en.includes(o.names.en)),
        sem.instruction,
      );
    if (synonym) kinds.add('synonym');
    else if (sem.instruction.includes(`the ${o.category}`)) {
      kinds.add('category');
      assert.equal(
        sem.placements.filter((p) => getObject(p.id).category === o.category && !getObject(p.id).container).length,
        1,
        'the category names one object',
      );
    } else if (sem.instruction.includes('the thing you')) kinds.add('affordance');
    else if (sem.instruction.includes(`the ${o.colour.name} object`)) {
      kinds.add('colour');
      const same = sem.placements.filter((p) => getObject(p.id).colour.name === o.colour.name);
      assert.deepEqual(
        same.map((p) => p.id),
        [sem.object],
        `the colour names one object: ${sem.instruction}`,
      );
    } else if (/the object (left|right) of the/.test(sem.instruction)) {
      kinds.add('place');
      const dir = /the object (left|right) of/.exec(sem.instruction)![1];
      const ref = sem.placements.find((p) => sem.instruction.includes(`the object ${dir} of the ${getObject(p.id).names.en}`))!;
      assert.ok(ref, sem.instruction);
      const side = sem.placements.filter((p) => p.id !== ref.id && (dir === 'left' ? p.y > ref.y + 0.05 : p.y < ref.y - 0.05));
      assert.deepEqual(
        side.map((p) => p.id),
        [sem.object],
        sem.instruction,
      );
    }
  }
  assert.deepEqual([...kinds].sort(), ['affordance', 'category', 'colour', 'place', 'synonym']);
});
