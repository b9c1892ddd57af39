// Instructions in Spanish, French, German and Chinese for the multilingual evaluation suite, with
// articles, contractions (al, du), elision (l'orange) and pronouns (lo/la, le/la, ihn/sie/es) that
// agree with each name's gender, and "in" vs "on" per target (dans/sur, in/auf, 放进/放在…上).
import type { CatalogueObject, Language } from './catalogue.ts';
import type { TaskFamily } from './families.ts';

export type Foreign = Exclude<Language, 'en'>;
export const FOREIGN_LANGUAGES: readonly Foreign[] = ['es', 'fr', 'de', 'zh'];

type Template = (x: CatalogueObject, y: CatalogueObject | null, prep: 'in' | 'on') => string;

// Spanish: el/la; "a el" and "de el" contract to "al" and "del".
const es = (o: CatalogueObject) => `${o.gender.es === 'f' ? 'la' : 'el'} ${o.names.es}`;
const esA = (o: CatalogueObject) => (o.gender.es === 'f' ? `a la ${o.names.es}` : `al ${o.names.es}`);
const esDe = (o: CatalogueObject) => (o.gender.es === 'f' ? `de la ${o.names.es}` : `del ${o.names.es}`);
const esLo = (o: CatalogueObject) => (o.gender.es === 'f' ? 'la' : 'lo');

// French: le/la, l' before a vowel; "de le" contracts to "du".
const vowel = (w: string) => /^[aeiouyàâéèêëîïôûh]/i.test(w);
const fr = (o: CatalogueObject) => (vowel(o.names.fr) ? `l'${o.names.fr}` : `${o.gender.fr === 'f' ? 'la' : 'le'} ${o.names.fr}`);
const frDe = (o: CatalogueObject) =>
  vowel(o.names.fr) ? `de l'${o.names.fr}` : o.gender.fr === 'f' ? `de la ${o.names.fr}` : `du ${o.names.fr}`;
const frLe = (o: CatalogueObject) => (o.gender.fr === 'f' ? 'la' : 'le');
const frIn = (p: 'in' | 'on') => (p === 'in' ? 'dans' : 'sur');

// German: accusative den/die/das (every template below takes the accusative), ihn/sie/es.
const de = (o: CatalogueObject) => `${{ m: 'den', f: 'die', n: 'das' }[o.gender.de]} ${o.names.de}`;
const deIhn = (o: CatalogueObject) => ({ m: 'ihn', f: 'sie', n: 'es' })[o.gender.de];
const deIn = (p: 'in' | 'on') => (p === 'in' ? 'in' : 'auf');

// Chinese: no articles; "in" is 放进Y, "on" is 放在Y上.
const zhPut = (y: CatalogueObject, p: 'in' | 'on') => (p === 'in' ? `放进${y.names.zh}` : `放在${y.names.zh}上`);

const TEMPLATES: Record<Foreign, Record<TaskFamily, Template[]>> = {
  es: {
    pick: [(x) => `recoge ${es(x)}`, (x) => `toma ${es(x)}`],
    'pick-place': [
      (x, y, p) => `pon ${es(x)} ${p === 'in' ? 'en' : 'sobre'} ${es(y!)}`,
      (x, y, p) => `coloca ${es(x)} ${p === 'in' ? `dentro ${esDe(y!)}` : `sobre ${es(y!)}`}`,
    ],
    'pick-place-lift': [(x, y, p) => `recoge ${es(x)}, pon${esLo(x)} ${p === 'in' ? 'en' : 'sobre'} ${es(y!)} y levánta${esLo(x)}`],
    'move-next-to': [(x, y) => `mueve ${es(x)} junto ${esA(y!)}`, (x, y) => `pon ${es(x)} al lado ${esDe(y!)}`],
  },
  fr: {
    pick: [(x) => `prends ${fr(x)}`, (x) => `ramasse ${fr(x)}`],
    'pick-place': [(x, y, p) => `mets ${fr(x)} ${frIn(p)} ${fr(y!)}`, (x, y, p) => `pose ${fr(x)} ${frIn(p)} ${fr(y!)}`],
    'pick-place-lift': [(x, y, p) => `prends ${fr(x)}, mets-${frLe(x)} ${frIn(p)} ${fr(y!)} et soulève-${frLe(x)}`],
    'move-next-to': [(x, y) => `déplace ${fr(x)} à côté ${frDe(y!)}`, (x, y) => `mets ${fr(x)} près ${frDe(y!)}`],
  },
  de: {
    pick: [(x) => `heb ${de(x)} auf`, (x) => `nimm ${de(x)}`],
    'pick-place': [
      (x, y, p) => `leg ${de(x)} ${deIn(p)} ${de(y!)}`,
      (x, y, p) => `${p === 'in' ? 'gib' : 'stell'} ${de(x)} ${deIn(p)} ${de(y!)}`,
    ],
    'pick-place-lift': [(x, y, p) => `nimm ${de(x)}, leg ${deIhn(x)} ${deIn(p)} ${de(y!)} und heb ${deIhn(x)} hoch`],
    'move-next-to': [(x, y) => `stell ${de(x)} neben ${de(y!)}`, (x, y) => `schieb ${de(x)} neben ${de(y!)}`],
  },
  zh: {
    pick: [(x) => `拿起${x.names.zh}`, (x) => `把${x.names.zh}拿起来`],
    'pick-place': [(x, y, p) => `把${x.names.zh}${zhPut(y!, p)}`],
    'pick-place-lift': [(x, y, p) => `拿起${x.names.zh}，${zhPut(y!, p)}，再举起来`],
    'move-next-to': [(x, y) => `把${x.names.zh}移到${y!.names.zh}旁边`, (x, y) => `把${x.names.zh}放在${y!.names.zh}旁边`],
  },
};

/** The phrasings of a family's instruction in a language (object x, target y, "in" or "on"). */
export function foreignInstructions(
  lang: Foreign,
  family: TaskFamily,
  x: CatalogueObject,
  y: CatalogueObject | null,
  prep: 'in' | 'on',
): string[] {
  return TEMPLATES[lang][family].map((t) => t(x, y, prep));
}
