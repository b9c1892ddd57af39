// Multilingual instructions: articles, contractions, elision and pronouns agree with the genders of
// the names; "in" and "on" targets get their own prepositions; every phrasing names both objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getObject, CATALOGUE } from './catalogue.ts';
import { foreignInstructions, FOREIGN_LANGUAGES } from './language.ts';
import { TASK_FAMILIES, prepositionFor } from './tasks.ts';

const o = getObject;

test('articles, contractions, elision and pronouns follow the genders', () => {
  assert.equal(foreignInstructions('es', 'pick-place', o('apple'), o('bowl'), 'in')[0], 'pon la manzana en el cuenco');
  assert.equal(foreignInstructions('es', 'pick-place', o('fork'), o('pot'), 'in')[1], 'coloca el tenedor dentro de la olla');
  assert.equal(foreignInstructions('es', 'move-next-to', o('fork'), o('cup'), 'in')[0], 'mueve el tenedor junto a la taza');
  assert.equal(foreignInstructions('es', 'move-next-to', o('cup'), o('hammer'), 'in')[0], 'mueve la taza junto al martillo');
  assert.equal(
    foreignInstructions('es', 'pick-place-lift', o('banana'), o('plate'), 'on')[0],
    'recoge el plátano, ponlo sobre el plato y levántalo',
  );
  assert.equal(foreignInstructions('fr', 'pick-place', o('orange'), o('plate'), 'on')[0], "mets l'orange sur l'assiette");
  assert.equal(foreignInstructions('fr', 'move-next-to', o('ball'), o('hammer'), 'in')[0], 'déplace la balle à côté du marteau');
  assert.equal(foreignInstructions('fr', 'move-next-to', o('ball'), o('sponge'), 'in')[0], "déplace la balle à côté de l'éponge");
  assert.equal(
    foreignInstructions('fr', 'pick-place-lift', o('carrot'), o('pot'), 'in')[0],
    'prends la carotte, mets-la dans la casserole et soulève-la',
  );
  assert.equal(foreignInstructions('de', 'pick', o('knife'), null, 'in')[0], 'heb das Messer auf');
  assert.equal(foreignInstructions('de', 'pick-place', o('knife'), o('towel'), 'on')[0], 'leg das Messer auf das Handtuch');
  assert.equal(
    foreignInstructions('de', 'pick-place-lift', o('apple'), o('bowl'), 'in')[0],
    'nimm den Apfel, leg ihn in die Schüssel und heb ihn hoch',
  );
  assert.equal(foreignInstructions('zh', 'pick-place', o('apple'), o('plate'), 'on')[0], '把苹果放在盘子上');
  assert.equal(foreignInstructions('zh', 'pick-place', o('apple'), o('bowl'), 'in')[0], '把苹果放进碗');
});

test('every phrasing in every language names the object and the target', () => {
  const movable = CATALOGUE.filter((c) => !c.container);
  const containers = CATALOGUE.filter((c) => c.container);
  for (const lang of FOREIGN_LANGUAGES) {
    for (const family of TASK_FAMILIES) {
      for (const x of movable) {
        const y =
          family === 'pick'
            ? null
            : family === 'move-next-to'
              ? movable.find((m) => m.id !== x.id)!
              : containers[x.id.length % containers.length]!;
        for (const text of foreignInstructions(lang, family, x, y, y && y.container ? prepositionFor(y.id) : 'in')) {
          assert.ok(text.includes(x.names[lang]), `${lang}: ${text}`);
          if (y) assert.ok(text.includes(y.names[lang]), `${lang}: ${text}`);
          if (lang === 'es') assert.ok(!/\b(de|a) el\b/.test(text), `no contraction: ${text}`);
          if (lang === 'fr') assert.ok(!/\b(de le|(le|la) [aeiouyàâéèêh])/i.test(text), `no elision or contraction: ${text}`);
        }
      }
    }
  }
});
