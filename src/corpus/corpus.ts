// The synthetic pretraining corpus of the embedded base VLM, generated from the world's catalogue and
// renderer (DESIGN.md §4): questions about rendered tabletop scenes (colour, identity, category,
// counting, left/right/front/behind relations, positions in cm relative to the gripper, captions),
// world-knowledge text (affordances, synonyms, categories, translations of object names), and
// questions asked in Spanish, French, German and Chinese, and (src/corpus/numbers.ts) the language of
// numbers, lists and motions. Every object of the catalogue appears, held-out ones included (they are
// held out of robot data only).
//
// The corpus is a pure function of (seed, index): `corpusConversation(seed, i)` always gives the same
// conversation, so the trainer can index it like an array, shuffle it and resume exactly without
// storing it. The held-out VQA set draws single questions from the same generators with a seed of its
// own (new scenes, new question draws; the facts of the world are the same — that is what a model
// must retain).
import { CATALOGUE, FOREIGN_LANGUAGES, World, render, getObject } from '../sim/index.ts';
import type { CatalogueObject, Category, Foreign, Language } from '../sim/index.ts';
import { EN, TASK_FAMILIES, prepositionFor, sampleScene } from '../sim/tasks.ts';
import { foreignInstructions } from '../sim/language.ts';
import type { RgbImage } from '../data/image.ts';
import type { ChatMessage } from '../tokenizer/index.ts';
import { Rng } from '../util/index.ts';
import { UsageError } from '../errors/index.ts';
import { JSON_LISTS, LISTS, NUMBER_TEXT, SCENE_LISTS } from './numbers.ts';
import { VQA_CATEGORIES } from './conversation.ts';
import type { CorpusConversation, CorpusKind, Placement, QA, Scene, VqaCategory } from './conversation.ts';

// ---------------------------------------------------------------------------------------------------
// Words of the five languages.

const COLOURS: Record<string, Record<Foreign, string>> = {
  red: { es: 'rojo', fr: 'rouge', de: 'rot', zh: '红色' },
  yellow: { es: 'amarillo', fr: 'jaune', de: 'gelb', zh: '黄色' },
  orange: { es: 'naranja', fr: 'orange', de: 'orange', zh: '橙色' },
  green: { es: 'verde', fr: 'vert', de: 'grün', zh: '绿色' },
  purple: { es: 'morado', fr: 'violet', de: 'lila', zh: '紫色' },
  silver: { es: 'plateado', fr: 'argenté', de: 'silbern', zh: '银色' },
  grey: { es: 'gris', fr: 'gris', de: 'grau', zh: '灰色' },
  black: { es: 'negro', fr: 'noir', de: 'schwarz', zh: '黑色' },
  white: { es: 'blanco', fr: 'blanc', de: 'weiß', zh: '白色' },
  blue: { es: 'azul', fr: 'bleu', de: 'blau', zh: '蓝色' },
  pink: { es: 'rosa', fr: 'rose', de: 'rosa', zh: '粉色' },
  brown: { es: 'marrón', fr: 'marron', de: 'braun', zh: '棕色' },
  'light blue': { es: 'azul claro', fr: 'bleu clair', de: 'hellblau', zh: '浅蓝色' },
  teal: { es: 'turquesa', fr: 'turquoise', de: 'türkis', zh: '蓝绿色' },
};

const CATEGORY_NAMES: Record<Category, Record<Language, string>> = {
  fruit: { en: 'fruit', es: 'fruta', fr: 'fruit', de: 'Obst', zh: '水果' },
  vegetable: { en: 'vegetable', es: 'verdura', fr: 'légume', de: 'Gemüse', zh: '蔬菜' },
  utensil: { en: 'utensil', es: 'utensilio', fr: 'ustensile', de: 'Besteck', zh: '餐具' },
  container: { en: 'container', es: 'recipiente', fr: 'récipient', de: 'Behälter', zh: '容器' },
  toy: { en: 'toy', es: 'juguete', fr: 'jouet', de: 'Spielzeug', zh: '玩具' },
  tool: { en: 'tool', es: 'herramienta', fr: 'outil', de: 'Werkzeug', zh: '工具' },
};
const PLURAL: Record<Category, string> = {
  fruit: 'fruits',
  vegetable: 'vegetables',
  utensil: 'utensils',
  container: 'containers',
  toy: 'toys',
  tool: 'tools',
};
const LANGUAGE_NAMES: Record<Foreign, string> = { es: 'Spanish', fr: 'French', de: 'German', zh: 'Chinese' };

/** "a" or "an" before a word: by its first letter, except a long u ("a utensil"); our nouns have no
 *  silent h. */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) && !/^u(ten|ni|s[ae])/i.test(word) ? 'an' : 'a';
}

const withArticle = (word: string) => `${article(word)} ${word}`;

function colourIn(o: CatalogueObject, lang: Language): string {
  return lang === 'en' ? o.colour.name : COLOURS[o.colour.name]![lang];
}

/** "the apple" in each language, nominative. */
function theName(o: CatalogueObject, lang: Language): string {
  const n = o.names[lang];
  switch (lang) {
    case 'en':
      return `the ${n}`;
    case 'es':
      return `${o.gender.es === 'f' ? 'la' : 'el'} ${n}`;
    case 'fr':
      return /^[aeiouyàâéèêëîïôûh]/i.test(n) ? `l'${n}` : `${o.gender.fr === 'f' ? 'la' : 'le'} ${n}`;
    case 'de':
      return `${{ m: 'der', f: 'die', n: 'das' }[o.gender.de]} ${n}`;
    case 'zh':
      return n;
  }
}

// ---------------------------------------------------------------------------------------------------
// Scenes.

export function sampleCorpusScene(rng: Rng, maxObjects = 5): Scene {
  const n = rng.int(1, maxObjects);
  const ids = rng.shuffle(CATALOGUE.map((o) => o.id)).slice(0, n);
  const placements = sampleScene(rng, ids, 1);
  return { placements, gripper: { x: rng.uniform(0.2, 0.5), y: rng.uniform(-0.2, 0.2), z: rng.uniform(0.12, 0.3) } };
}

export function sceneWorld(scene: Scene): World {
  return new World(scene.placements, { x: scene.gripper.x, y: scene.gripper.y, z: scene.gripper.z });
}

export function renderScene(scene: Scene, size: number): RgbImage {
  return render(sceneWorld(scene), size, size);
}

// Left = +y, front (closer to the camera and the robot) = -x.
const leftmost = (s: Scene) => s.placements.reduce((a, b) => (b.y > a.y ? b : a));
const rightmost = (s: Scene) => s.placements.reduce((a, b) => (b.y < a.y ? b : a));
const nearest = (s: Scene) => s.placements.reduce((a, b) => (b.x < a.x ? b : a));
const farthest = (s: Scene) => s.placements.reduce((a, b) => (b.x > a.x ? b : a));
const obj = (p: Placement) => getObject(p.id);

type SceneQuestion = (s: Scene, rng: Rng) => QA | null;
type TextQuestion = (rng: Rng) => QA | null;

const qa = (question: string, answer: string, kind: CorpusKind, language: Language = 'en', refs?: number[]): QA => ({
  question,
  answer,
  kind,
  language,
  ...(refs ? { refs } : {}),
});

/** Where a placement is in its scene (for `QA.refs`). */
const at = (s: Scene, p: Placement): number => s.placements.indexOf(p);

// ---------------------------------------------------------------------------------------------------
// Questions about a scene, English.

const EXTREMES: { en: string; es: string; fr: string; de: string; zh: string; pick: (s: Scene) => Placement }[] = [
  { en: 'furthest to the left', es: 'más a la izquierda', fr: 'le plus à gauche', de: 'am weitesten links', zh: '最左边', pick: leftmost },
  { en: 'furthest to the right', es: 'más a la derecha', fr: 'le plus à droite', de: 'am weitesten rechts', zh: '最右边', pick: rightmost },
  {
    en: 'closest to the camera',
    es: 'más cerca de la cámara',
    fr: 'le plus près de la caméra',
    de: 'am nächsten zur Kamera',
    zh: '离相机最近',
    pick: nearest,
  },
  {
    en: 'furthest from the camera',
    es: 'más lejos de la cámara',
    fr: 'le plus loin de la caméra',
    de: 'am weitesten von der Kamera',
    zh: '离相机最远',
    pick: farthest,
  },
];

/** An extreme whose object is unambiguous (its runner-up is at least 6 cm less extreme). */
function clearExtreme(s: Scene, rng: Rng): (typeof EXTREMES)[number] | null {
  if (s.placements.length < 2) return null;
  const e = rng.pick(EXTREMES);
  const p = e.pick(s);
  const axis = e === EXTREMES[0] || e === EXTREMES[1] ? 'y' : 'x';
  const sign = e === EXTREMES[0] || e === EXTREMES[3] ? 1 : -1;
  const gap = Math.min(...s.placements.filter((q) => q !== p).map((q) => sign * (p[axis] - q[axis])));
  return gap >= 0.06 ? e : null;
}

/** Where an object stands on the table: front or back (closer to or further from the camera than 35 cm
 *  ahead of the robot), and left, middle or right (7 cm either side of the centre line); null within
 *  1.5 cm of a border, where the answer would be a guess. */
export function tableLocation(p: { x: number; y: number }): string | null {
  if (Math.abs(p.x - 0.35) < 0.015 || Math.abs(Math.abs(p.y) - 0.07) < 0.015) return null;
  return `${p.x < 0.35 ? 'front' : 'back'} ${p.y > 0.07 ? 'left' : p.y < -0.07 ? 'right' : 'middle'}`;
}

export const EN_SCENE: Record<
  Exclude<VqaCategory, 'knowledge' | Foreign | 'lists' | 'json'> | 'position' | 'location' | 'caption',
  SceneQuestion[]
> = {
  colour: [
    (s, rng) => {
      const p = rng.pick(s.placements);
      const o = obj(p);
      return qa(`What colour is the ${o.names.en}?`, o.colour.name, 'colour', 'en', [at(s, p)]);
    },
    (s, rng) => {
      const e = clearExtreme(s, rng);
      return e ? qa(`What colour is the object ${e.en}?`, obj(e.pick(s)).colour.name, 'colour') : null;
    },
  ],
  identity: [
    (s, rng) => {
      const e = clearExtreme(s, rng);
      return e ? qa(`Which object is ${e.en}?`, obj(e.pick(s)).names.en, 'identity') : null;
    },
    (s, rng) => {
      const o = obj(rng.pick(s.placements));
      const same = s.placements.filter((p) => obj(p).colour.name === o.colour.name);
      return same.length === 1 ? qa(`What is the ${o.colour.name} object?`, o.names.en, 'identity') : null;
    },
    (s, rng) => {
      const present = rng.next() < 0.5;
      const pool = CATALOGUE.filter((o) => s.placements.some((p) => p.id === o.id) === present);
      if (pool.length === 0) return null;
      const o = rng.pick(pool);
      return qa(
        `Is there ${withArticle(o.names.en)} on the table?`,
        present ? 'yes' : 'no',
        'identity',
        'en',
        present ? [s.placements.findIndex((p) => p.id === o.id)] : undefined,
      );
    },
  ],
  category: [
    (s, rng) => {
      const p = rng.pick(s.placements);
      const o = obj(p);
      return qa(`What kind of object is the ${o.names.en}?`, o.category, 'category', 'en', [at(s, p)]);
    },
    (s, rng) => {
      const o = obj(rng.pick(s.placements));
      const same = s.placements.filter((p) => obj(p).category === o.category);
      return same.length === 1 ? qa(`Which object on the table is ${withArticle(o.category)}?`, o.names.en, 'category') : null;
    },
  ],
  counting: [
    (s) => qa('How many objects are on the table?', String(s.placements.length), 'counting'),
    (s, rng) => {
      const c = rng.pick(Object.keys(PLURAL) as Category[]);
      return qa(`How many ${PLURAL[c]} are on the table?`, String(s.placements.filter((p) => obj(p).category === c).length), 'counting');
    },
  ],
  spatial: [
    (s, rng) => {
      if (s.placements.length < 2) return null;
      const [a, b] = rng.shuffle([...s.placements]) as [Placement, Placement];
      if (Math.abs(a.y - b.y) < 0.05) return null;
      return qa(`Is the ${obj(a).names.en} left or right of the ${obj(b).names.en}?`, a.y > b.y ? 'left' : 'right', 'spatial', 'en', [
        at(s, a),
        at(s, b),
      ]);
    },
    (s, rng) => {
      if (s.placements.length < 2) return null;
      const [a, b] = rng.shuffle([...s.placements]) as [Placement, Placement];
      if (Math.abs(a.x - b.x) < 0.05) return null;
      return qa(
        `Is the ${obj(a).names.en} in front of or behind the ${obj(b).names.en}?`,
        a.x < b.x ? 'in front' : 'behind',
        'spatial',
        'en',
        [at(s, a), at(s, b)],
      );
    },
  ],
  position: [
    (s, rng) => {
      const p = rng.pick(s.placements);
      const o = obj(p);
      const g = s.gripper;
      const d = (v: number) => Math.round(Math.abs(v) * 100);
      const dx = p.x - g.x;
      const dy = p.y - g.y;
      const dz = o.size[2] * 2 - g.z; // top of the object
      const answer = `${d(dx)} cm ${dx >= 0 ? 'forward' : 'back'}, ${d(dy)} cm ${dy >= 0 ? 'left' : 'right'}, ${d(dz)} cm ${dz >= 0 ? 'up' : 'down'}`;
      return qa(`Where is the ${o.names.en} relative to the gripper?`, answer, 'position', 'en', [at(s, p)]);
    },
  ],
  location: [
    (s, rng) => {
      const p = rng.pick(s.placements);
      const where = tableLocation(p);
      return where ? qa(`Where on the table is the ${obj(p).names.en}?`, where, 'location', 'en', [at(s, p)]) : null;
    },
  ],
  caption: [
    (s, rng) => {
      const sorted = [...s.placements].sort((a, b) => b.y - a.y).map((p) => withArticle(`${obj(p).colour.name} ${obj(p).names.en}`));
      const list = sorted.length === 1 ? sorted[0]! : `${sorted.slice(0, -1).join(', ')} and ${sorted.at(-1)}`;
      return qa(rng.pick(['Describe the scene.', 'What is on the table, from left to right?']), list, 'caption');
    },
  ],
};

/** The forms that name an object and need to find it in the image (`CorpusMix.groundingShare`). */
const GROUNDING: SceneQuestion[] = [EN_SCENE.identity[2]!, ...EN_SCENE.spatial];

// ---------------------------------------------------------------------------------------------------
// Questions about a scene in Spanish, French, German and Chinese (answers in the same language).

const HOW_MANY: Record<Foreign, string> = {
  es: '¿Cuántos objetos hay en la mesa?',
  fr: "Combien d'objets y a-t-il sur la table ?",
  de: 'Wie viele Gegenstände liegen auf dem Tisch?',
  zh: '桌子上有几个物体？',
};

function foreignScene(lang: Foreign): SceneQuestion[] {
  return [
    (s, rng) => {
      const p = rng.pick(s.placements);
      const o = obj(p);
      const n = theName(o, lang);
      const q = { es: `¿De qué color es ${n}?`, fr: `De quelle couleur est ${n} ?`, de: `Welche Farbe hat ${n}?`, zh: `${n}是什么颜色？` }[
        lang
      ];
      return qa(q, colourIn(o, lang), lang, lang, [at(s, p)]);
    },
    (s, rng) => {
      const p = rng.pick(s.placements);
      const o = obj(p);
      const n = theName(o, lang);
      const q = {
        es: `¿Qué tipo de objeto es ${n}?`,
        fr: `Quel type d'objet est ${n} ?`,
        de: `Was für ein Gegenstand ist ${n}?`,
        zh: `${n}是哪一类东西？`,
      }[lang];
      return qa(q, CATEGORY_NAMES[o.category][lang], lang, lang, [at(s, p)]);
    },
    (s) => qa(HOW_MANY[lang], String(s.placements.length), lang, lang),
    (s, rng) => {
      const e = clearExtreme(s, rng);
      if (!e) return null;
      const q = {
        es: `¿Qué objeto está ${e.es}?`,
        fr: `Quel objet est ${e.fr} ?`,
        de: `Welcher Gegenstand ist ${e.de}?`,
        zh: `${e.zh}的物体是什么？`,
      }[lang];
      return qa(q, obj(e.pick(s)).names[lang], lang, lang);
    },
  ];
}

const FOREIGN_SCENE: Record<Foreign, SceneQuestion[]> = {
  es: foreignScene('es'),
  fr: foreignScene('fr'),
  de: foreignScene('de'),
  zh: foreignScene('zh'),
};

// ---------------------------------------------------------------------------------------------------
// World knowledge (text only).

/** Synonyms that name exactly one object and are not another object's English name. */
const SYNONYMS: [string, CatalogueObject][] = (() => {
  const owners = new Map<string, Set<string>>();
  for (const o of CATALOGUE) for (const s of o.synonyms) owners.set(s, (owners.get(s) ?? new Set()).add(o.id));
  const names = new Set(CATALOGUE.map((o) => o.names.en));
  return [...owners]
    .filter(([s, ids]) => ids.size === 1 && !names.has(s))
    .map(([s, ids]) => [s, getObject([...ids][0]!)] as [string, CatalogueObject]);
})();

/** Foreign names that translate to exactly one English name. */
const FOREIGN_WORDS: [string, Foreign, CatalogueObject][] = (() => {
  const owners = new Map<string, Set<string>>();
  for (const o of CATALOGUE) for (const l of FOREIGN_LANGUAGES) owners.set(o.names[l], (owners.get(o.names[l]) ?? new Set()).add(o.id));
  const out: [string, Foreign, CatalogueObject][] = [];
  for (const o of CATALOGUE)
    for (const l of FOREIGN_LANGUAGES) if (owners.get(o.names[l])!.size === 1 && o.names[l] !== o.names.en) out.push([o.names[l], l, o]);
  return out;
})();

const KNOWLEDGE: TextQuestion[] = [
  (rng) => {
    const o = rng.pick(CATALOGUE);
    return qa(`What do you do with ${withArticle(o.names.en)}?`, o.affordance, 'knowledge');
  },
  (rng) => {
    const [s, o] = rng.pick(SYNONYMS);
    return qa(`What is another word for ${s}?`, o.names.en, 'knowledge');
  },
  (rng) => {
    const [w, l, o] = rng.pick(FOREIGN_WORDS);
    return qa(`What does the ${LANGUAGE_NAMES[l]} word ${w} mean?`, o.names.en, 'knowledge');
  },
  (rng) => {
    const o = rng.pick(CATALOGUE);
    const l = rng.pick(FOREIGN_LANGUAGES);
    return qa(`How do you say ${o.names.en} in ${LANGUAGE_NAMES[l]}?`, o.names[l], 'knowledge');
  },
  (rng) => {
    const o = rng.pick(CATALOGUE);
    const c = rng.next() < 0.5 ? o.category : rng.pick(Object.keys(PLURAL) as Category[]);
    return qa(`Is ${withArticle(o.names.en)} ${withArticle(c)}?`, c === o.category ? 'yes' : 'no', 'knowledge');
  },
  (rng) => {
    const o = rng.pick(CATALOGUE);
    return qa(`What colour is ${withArticle(o.names.en)}?`, o.colour.name, 'knowledge');
  },
];

/** Robot instructions translated between English and another language, both ways (training only).
 *  The target side is always the canonical (first) phrasing, so every question has one answer. */
const TRANSLATION: TextQuestion[] = [
  (rng) => {
    const family = rng.pick(TASK_FAMILIES);
    const x = rng.pick(CATALOGUE.filter((o) => !o.container));
    let y: CatalogueObject | null = null;
    if (family === 'pick-place' || family === 'pick-place-lift') y = rng.pick(CATALOGUE.filter((o) => o.container));
    else if (family === 'move-next-to') y = rng.pick(CATALOGUE.filter((o) => !o.container && o.id !== x.id));
    const prep = y ? prepositionFor(y.id) : 'in';
    const lang = rng.pick(FOREIGN_LANGUAGES);
    const en = EN[family].map((t) => t(x.names.en, y?.names.en ?? '', prep));
    const foreign = foreignInstructions(lang, family, x, y, prep);
    return rng.next() < 0.5
      ? qa(`Translate into ${LANGUAGE_NAMES[lang]}: ${rng.pick(en)}`, foreign[0]!, 'translation')
      : qa(`Translate into English: ${rng.pick(foreign)}`, en[0]!, 'translation');
  },
];

// ---------------------------------------------------------------------------------------------------
// Conversations and the held-out set.

/** A 32-bit seed for item `index` of stream `stream` (FNV-1a over the three numbers). */
function itemSeed(seed: number, stream: number, index: number): number {
  let h = 0x811c9dc5;
  for (const v of [seed, stream, index]) {
    for (let k = 0; k < 4; k++) {
      h ^= (v >>> (8 * k)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}

const TRAIN_STREAM = 1;
const EVAL_STREAM = 2;
const VISION_STREAM = 3;

/** Scene `index` of the vision stage of pretraining (a stream of its own; 1–5 objects and the
 *  gripper, drawn like the corpus's scenes). */
export function visionScene(seed: number, index: number): Scene {
  return sampleCorpusScene(new Rng(itemSeed(seed, VISION_STREAM, index)));
}

/** A question from `gens` that this scene can answer unambiguously, or null after 20 tries. */
function drawScene(s: Scene, gens: SceneQuestion[], rng: Rng): QA | null {
  for (let tries = 0; tries < 20; tries++) {
    const q = rng.pick(gens)(s, rng);
    if (q) return q;
  }
  return null;
}

function drawText(gens: TextQuestion[], rng: Rng): QA {
  for (;;) {
    const q = rng.pick(gens)(rng);
    if (q) return q;
  }
}

/** The make-up of the training corpus. */
export interface CorpusMix {
  /** Share of conversations without an image (world knowledge and translations). */
  textShare: number;
  /** Questions asked about each scene. */
  questionsPerScene: number;
  /** Share of scene questions asked in Spanish, French, German or Chinese. */
  foreignShare: number;
  /** Shares of scene questions asking for positions relative to the gripper, and for captions. */
  positionShare: number;
  captionShare: number;
  /** Share of scene questions asking where on the table an object stands ("front left", "back
   *  middle"; default 0). */
  locationShare?: number;
  /** Share of scene questions that name an object and need to find it in the image: "Is there an X on
   *  the table?" and the left/right and front/behind relations (default 0; they also come up among the
   *  identity and spatial questions of the rest). */
  groundingShare?: number;
  /** Objects per scene: 1 to this (at most 5). */
  maxObjects?: number;
  /** Share of scene questions answered as lists: where an object is relative to the gripper as
   *  [forward, left, up] in cm, and the objects on the table as a JSON list (default 0). */
  listShare?: number;
  /** Share of text conversations about numbers, lists and motions (src/corpus/numbers.ts) instead of
   *  world knowledge and translations (default 0). */
  numberShare?: number;
}

/** The default mix (the tiny preset's; the base preset has its own): 3 in 4 conversations show a scene with 4
 *  questions, 30% of them in another language. */
export const DEFAULT_CORPUS_MIX: CorpusMix = {
  textShare: 0.25,
  questionsPerScene: 4,
  foreignShare: 0.3,
  positionShare: 0.06,
  captionShare: 0.04,
};

/** Throws a UsageError naming the first bad field of a mix. */
export function checkCorpusMix(mix: CorpusMix): void {
  const share = (v: number, name: string) => {
    if (!(v >= 0 && v <= 1)) throw new UsageError(`corpus mix: ${name} must be between 0 and 1, got ${v}`);
  };
  share(mix.textShare, 'textShare');
  share(mix.foreignShare, 'foreignShare');
  share(mix.positionShare, 'positionShare');
  share(mix.captionShare, 'captionShare');
  share(mix.locationShare ?? 0, 'locationShare');
  share(mix.groundingShare ?? 0, 'groundingShare');
  share(mix.listShare ?? 0, 'listShare');
  share(mix.numberShare ?? 0, 'numberShare');
  if (
    mix.foreignShare + mix.positionShare + mix.captionShare + (mix.locationShare ?? 0) + (mix.groundingShare ?? 0) + (mix.listShare ?? 0) >
    1 + 1e-9
  )
    throw new UsageError(
      'corpus mix: foreignShare + positionShare + captionShare + locationShare + groundingShare + listShare must be at most 1',
    );
  if (!(Number.isInteger(mix.questionsPerScene) && mix.questionsPerScene >= 1))
    throw new UsageError(`corpus mix: questionsPerScene must be a positive integer, got ${mix.questionsPerScene}`);
  if (mix.maxObjects !== undefined && !(Number.isInteger(mix.maxObjects) && mix.maxObjects >= 1 && mix.maxObjects <= 5))
    throw new UsageError(`corpus mix: maxObjects must be an integer from 1 to 5, got ${mix.maxObjects}`);
}

/** Conversation `index` of the training corpus: a scene with `questionsPerScene` questions about it
 *  (some in other languages), or (`textShare` of them) 5 text questions without image (world
 *  knowledge and about 30% instruction translations; or, `numberShare` of them, 3 questions about
 *  numbers, lists and motions). A share of 0 draws nothing from the RNG, so a mix without the newer fields gives exactly
 *  the conversations it gave before they existed. */
export function corpusConversation(seed: number, index: number, mix: CorpusMix = DEFAULT_CORPUS_MIX): CorpusConversation {
  const rng = new Rng(itemSeed(seed, TRAIN_STREAM, index));
  if (rng.next() < mix.textShare) {
    // Three questions, not five: lists are long, and a batch is padded to its longest conversation.
    if ((mix.numberShare ?? 0) > 0 && rng.next() < mix.numberShare!)
      return { scene: null, qa: Array.from({ length: 3 }, () => drawText(NUMBER_TEXT, rng)) };
    return { scene: null, qa: Array.from({ length: 5 }, () => drawText(rng.next() < 0.3 ? TRANSLATION : KNOWLEDGE, rng)) };
  }
  const scene = sampleCorpusScene(rng, mix.maxObjects);
  const out: QA[] = [];
  for (let k = 0; k < mix.questionsPerScene; k++) {
    const r = rng.next();
    let gens: SceneQuestion[];
    if (r < mix.foreignShare) gens = FOREIGN_SCENE[rng.pick(FOREIGN_LANGUAGES)];
    else if (r < mix.foreignShare + mix.positionShare) gens = EN_SCENE.position;
    else if (r < mix.foreignShare + mix.positionShare + mix.captionShare) gens = EN_SCENE.caption;
    else if (r < mix.foreignShare + mix.positionShare + mix.captionShare + (mix.locationShare ?? 0)) gens = EN_SCENE.location;
    else if (r < mix.foreignShare + mix.positionShare + mix.captionShare + (mix.locationShare ?? 0) + (mix.groundingShare ?? 0))
      gens = GROUNDING;
    else if (
      r <
      mix.foreignShare + mix.positionShare + mix.captionShare + (mix.locationShare ?? 0) + (mix.groundingShare ?? 0) + (mix.listShare ?? 0)
    )
      gens = SCENE_LISTS;
    else gens = EN_SCENE[rng.pick(['colour', 'identity', 'category', 'counting', 'spatial'] as const)];
    out.push(drawScene(scene, gens, rng) ?? EN_SCENE.counting[0]!(scene, rng)!);
  }
  return { scene, qa: out };
}

export interface VqaItem {
  category: VqaCategory;
  scene: Scene | null;
  question: string;
  answer: string;
}

/** Text questions of the held-out categories without an image. */
const HELD_OUT_TEXT: Partial<Record<VqaCategory, TextQuestion[]>> = { knowledge: KNOWLEDGE, lists: LISTS, json: JSON_LISTS };

/** The held-out VQA set: `perCategory` single questions of each category (of `categories`, default
 *  all), from scenes and draws of a stream the training corpus never uses. A category's items do not
 *  depend on which other categories are asked. */
export function heldOutVqa(seed: number, perCategory: number, categories: readonly VqaCategory[] = VQA_CATEGORIES): VqaItem[] {
  const items: VqaItem[] = [];
  VQA_CATEGORIES.forEach((category, c) => {
    if (!categories.includes(category)) return;
    for (let i = 0; i < perCategory; i++) {
      const rng = new Rng(itemSeed(seed, EVAL_STREAM, c * 1_000_003 + i));
      const text = HELD_OUT_TEXT[category];
      if (text) {
        const q = drawText(text, rng);
        items.push({ category, scene: null, question: q.question, answer: q.answer });
        continue;
      }
      const gens =
        category === 'es' || category === 'fr' || category === 'de' || category === 'zh'
          ? FOREIGN_SCENE[category]
          : EN_SCENE[category as keyof typeof EN_SCENE];
      // A new scene until one answers a question of this category (e.g. spatial needs two objects).
      for (;;) {
        const scene = sampleCorpusScene(rng);
        const q = drawScene(scene, gens, rng);
        if (!q) continue;
        items.push({ category, scene, question: q.question, answer: q.answer });
        break;
      }
    }
  });
  return items;
}

/** Chat messages of a conversation: the image goes with the first user turn. */
export function conversationMessages(conv: CorpusConversation): ChatMessage[] {
  const messages: ChatMessage[] = [];
  conv.qa.forEach((q, k) => {
    const content: ChatMessage['content'] =
      k === 0 && conv.scene ? [{ type: 'image' }, { type: 'text', text: q.question }] : [{ type: 'text', text: q.question }];
    messages.push({ role: 'user', content });
    messages.push({ role: 'assistant', content: [{ type: 'text', text: q.answer }] });
  });
  return messages;
}

/** Texts for training the tokenizer: questions and answers of the first `n` conversations. */
export function* corpusTexts(seed: number, n: number, mix: CorpusMix = DEFAULT_CORPUS_MIX): Generator<string> {
  for (let i = 0; i < n; i++) for (const q of corpusConversation(seed, i, mix).qa) (yield q.question, yield q.answer);
}

/** Exact-match normalisation: Unicode NFKC, lower case, no surrounding punctuation or spaces. */
export function normaliseAnswer(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[\s"'“”«»]+|[\s.。!！?？"'“”«»]+$/gu, '');
}
