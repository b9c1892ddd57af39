// Tests of the catalogue: size, completeness, unique names per language, held-out objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE, LANGUAGES } from './catalogue.ts';

test('the catalogue has ≥ 24 complete objects with unique names in every language and a held-out split', () => {
  assert.ok(CATALOGUE.length >= 24);
  for (const lang of LANGUAGES) {
    const names = CATALOGUE.map((o) => o.names[lang]);
    assert.equal(new Set(names).size, names.length, `duplicate ${lang} name`);
    for (const n of names) assert.ok(n.trim().length > 0);
  }
  assert.equal(new Set(CATALOGUE.map((o) => o.id)).size, CATALOGUE.length);
  for (const o of CATALOGUE) {
    assert.ok(o.synonyms.length >= 2, `${o.id} needs 2+ synonyms`);
    assert.ok(o.affordance.startsWith('you '), `${o.id}: affordances read "you …"`);
    assert.ok(
      ['m', 'f'].includes(o.gender.es) && ['m', 'f'].includes(o.gender.fr) && ['m', 'f', 'n'].includes(o.gender.de),
      `${o.id}: genders`,
    );
    assert.ok(o.colour.name.length > 0 && ['sphere', 'box', 'cylinder', 'ellipsoid'].includes(o.shape));
    assert.ok(o.affordance.includes(o.names.en.split(' ').pop()!), `${o.id}: the affordance names the object`);
    assert.ok(o.size.every((s) => s > 0 && s < 0.2));
    assert.ok(o.colour.rgb.every((c) => Number.isInteger(c) && c >= 0 && c <= 255));
  }
  for (const c of ['fruit', 'vegetable', 'utensil', 'container', 'toy', 'tool'] as const) {
    const inCat = CATALOGUE.filter((o) => o.category === c);
    assert.ok(inCat.length >= 4, `${c} has ${inCat.length} objects`);
    assert.ok(inCat.some((o) => o.heldOut) && inCat.some((o) => !o.heldOut), `${c} needs held-out and training objects`);
  }
  const english = new Map<string, string>();
  for (const o of CATALOGUE) {
    for (const n of [o.names.en, ...o.synonyms]) {
      const owner = english.get(n.toLowerCase());
      assert.ok(owner === undefined || owner === o.id, `"${n}" names both ${owner} and ${o.id}`);
      english.set(n.toLowerCase(), o.id);
    }
  }
  for (const id of ['bowl', 'pot', 'plate', 'towel']) assert.ok(CATALOGUE.find((o) => o.id === id)?.container);
});

test('objects that can share a scene look different: shape, size or colour', () => {
  // Scenes mix categories, so two objects of different categories must differ in shape, in size
  // (≥ 30% along some axis) or in colour (RGB distance ≥ 60).
  const extents = (o: (typeof CATALOGUE)[number]) => (o.shape === 'sphere' ? [o.size[0], o.size[0], o.size[0]] : [...o.size]);
  for (const a of CATALOGUE) {
    for (const b of CATALOGUE) {
      if (a.id >= b.id || a.category === b.category) continue;
      const colour = Math.hypot(...a.colour.rgb.map((v, k) => v - b.colour.rgb[k]!));
      const ea = extents(a);
      const eb = extents(b);
      const size = Math.max(...ea.map((v, k) => Math.abs(v - eb[k]!) / Math.max(v, eb[k]!)));
      assert.ok(
        a.shape !== b.shape || size >= 0.3 || colour >= 60,
        `${a.id} and ${b.id} look alike (colour distance ${colour.toFixed(0)}, size difference ${(size * 100).toFixed(0)}%)`,
      );
    }
  }
});
