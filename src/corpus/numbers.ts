// The corpus's language of numbers, lists and motions — the three levels of the action language as
// ordinary talk about the world, never robot data: displacements between things in cm as phrases
// ("4.2 cm forward, 1.0 cm right and 3.0 cm up") and as lists ([4.2, -1.0, 3.0], lists of such
// lists), motions in the direction words of motion plans (src/actions/motion.ts), JSON lists of
// strings (the steps of a described activity, objects of a kind, names in another language, the
// objects on the table), and arithmetic on numbers and lists. Lists are written as the action codecs
// and the subtask lists write them: numbers with one decimal after ", ", strings with JSON.stringify.
import { fixed1, motionPlan } from '../actions/index.ts';
import type { ChunkElement } from '../actions/index.ts';
import { CATALOGUE, FOREIGN_LANGUAGES, getObject } from '../sim/index.ts';
import type { CatalogueObject, Category, Foreign } from '../sim/index.ts';
import { prepositionFor } from '../sim/tasks.ts';
import type { Rng } from '../util/index.ts';
import type { CorpusKind, QA, Scene } from './conversation.ts';

type TextQuestion = (rng: Rng) => QA | null;
type SceneQuestion = (s: Scene, rng: Rng) => QA | null;

const qa = (question: string, answer: string, kind: CorpusKind, refs?: number[]): QA => ({
  question,
  answer,
  kind,
  language: 'en',
  ...(refs ? { refs } : {}),
});

const PLURAL: Record<Category, string> = {
  fruit: 'fruits',
  vegetable: 'vegetables',
  utensil: 'utensils',
  container: 'containers',
  toy: 'toys',
  tool: 'tools',
};
const LANGUAGE_NAMES: Record<Foreign, string> = { es: 'Spanish', fr: 'French', de: 'German', zh: 'Chinese' };
const AXIS_WORDS = [
  ['forward', 'backward'],
  ['left', 'right'],
  ['up', 'down'],
] as const;

/** A displacement [forward, left, up] in tenths of a cm (integers, so sums are exact). */
type Tenths = [number, number, number];

const cm = (tenths: number) => fixed1(tenths / 10);
/** "[4.2, -1.0, 3.0]" — the action list style's numbers. */
export const listText = (v: readonly number[]) => `[${v.map(cm).join(', ')}]`;
const listsText = (vs: readonly (readonly number[])[]) => `[${vs.map(listText).join(', ')}]`;

/** One axis of a displacement: 0 three times in ten, else up to 5 cm (like one step of a motion) or up
 *  to 25 cm (like the distance between two things on a table). */
function axisTenths(rng: Rng): number {
  if (rng.next() < 0.3) return 0;
  const most = rng.next() < 0.6 ? 50 : 250;
  return (rng.next() < 0.5 ? -1 : 1) * rng.int(1, most);
}

function displacement(rng: Rng): Tenths {
  for (;;) {
    const v: Tenths = [axisTenths(rng), axisTenths(rng), axisTenths(rng)];
    if (v.some((t) => t !== 0)) return v;
  }
}

/** "4.2 cm forward, 1.0 cm right and 3.0 cm up": the axes that move, in x, y, z order. */
export function displacementPhrase(v: readonly number[]): string {
  const parts = v.flatMap((t, i) => (t === 0 ? [] : [`${cm(Math.abs(t))} cm ${AXIS_WORDS[i]![t > 0 ? 0 : 1]}`]));
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/** The direction words of a sequence of moves, worded as motion plans are (`motionPlan`). */
export function motionWords(moves: readonly (readonly number[])[]): string {
  const elements: ChunkElement[] = moves.map((v, i) => ({
    dx: v[0]! / 10,
    dy: v[1]! / 10,
    dz: v[2]! / 10,
    droll: 0,
    dpitch: 0,
    dyaw: 0,
    gripper: 1,
    start: i,
    end: i + 1,
  }));
  return motionPlan(elements);
}

const thing = (rng: Rng) => rng.pick(CATALOGUE).names.en;
const twoThings = (rng: Rng): [string, string] => {
  const [a, b] = rng.shuffle([...CATALOGUE]) as [CatalogueObject, CatalogueObject];
  return [a.names.en, b.names.en];
};
const moves = (rng: Rng) => Array.from({ length: rng.int(2, 3) }, () => displacement(rng));
const FRAME = '[forward, left, up] in cm';

// ---------------------------------------------------------------------------------------------------
// Lists of positions and displacements (the held-out `lists` category asks the first two).

export const LISTS: TextQuestion[] = [
  (rng) => {
    const [a, b] = twoThings(rng);
    const v = displacement(rng);
    return rng.next() < 0.5
      ? qa(`From the ${a} to the ${b} is ${displacementPhrase(v)}. Write this as ${FRAME}.`, listText(v), 'lists')
      : qa(`The ${b} is ${displacementPhrase(v)} from the ${a}. Where is it relative to the ${a}, as ${FRAME}?`, listText(v), 'lists');
  },
  (rng) => {
    const m = moves(rng);
    return qa(
      `The ${thing(rng)} moves ${m.map(displacementPhrase).join(', then ')}. Write its moves as a list of ${FRAME}.`,
      listsText(m),
      'lists',
    );
  },
];

const DISPLACEMENT: TextQuestion[] = [
  (rng) => {
    const v = displacement(rng);
    return qa(`The ${thing(rng)} moves by ${listText(v)} (${FRAME}). Say it in words.`, displacementPhrase(v), 'displacement');
  },
  (rng) => {
    const m = moves(rng);
    return qa(
      `Say the moves ${listsText(m)} (each ${FRAME}) in words, one after the other.`,
      m.map(displacementPhrase).join(', then '),
      'displacement',
    );
  },
];

const MOTION: TextQuestion[] = [
  (rng) => {
    const m = rng.next() < 0.4 ? [displacement(rng)] : moves(rng);
    return qa(
      `The ${thing(rng)} moves ${m.map(displacementPhrase).join(', then ')}. Which way does it go, in direction words?`,
      motionWords(m),
      'motion',
    );
  },
  (rng) => {
    const m = rng.next() < 0.4 ? [displacement(rng)] : moves(rng);
    return qa(
      `Which way is ${m.length === 1 ? listText(m[0]!) : listsText(m)} (${m.length === 1 ? '' : 'moves of '}${FRAME}), in direction words?`,
      motionWords(m),
      'motion',
    );
  },
];

// ---------------------------------------------------------------------------------------------------
// Numbers and arithmetic.

const tenths = (rng: Rng, most: number) => rng.int(0, most);

const ARITHMETIC: TextQuestion[] = [
  (rng) => {
    const [a, b] = [tenths(rng, 300), tenths(rng, 300)];
    return rng.next() < 0.5
      ? qa(`What is ${cm(a)} plus ${cm(b)}?`, cm(a + b), 'arithmetic')
      : qa(`What is ${cm(a)} minus ${cm(b)}?`, cm(a - b), 'arithmetic');
  },
  (rng) => {
    const t = rng.int(1, 600);
    return rng.next() < 0.5
      ? qa(`How many cm are ${(t / 1000).toFixed(3)} m?`, cm(t), 'arithmetic')
      : qa(`How many metres are ${cm(t)} cm?`, String(Number((t / 1000).toFixed(3))), 'arithmetic');
  },
  (rng) => {
    const v = Array.from({ length: rng.int(2, 3) }, () => axisTenths(rng));
    return qa(`What is the sum of ${listText(v)}?`, cm(v.reduce((a, b) => a + b, 0)), 'arithmetic');
  },
  (rng) => {
    const a = rng.int(-300, 300);
    const b = rng.int(-300, 300);
    return a === b ? null : qa(`Which is larger, ${cm(a)} or ${cm(b)}?`, cm(Math.max(a, b)), 'arithmetic');
  },
  (rng) => {
    const [p, q] = [displacement(rng), displacement(rng)];
    return qa(
      `The ${thing(rng)} moves by ${listText(p)} and then by ${listText(q)}. Where does it end up relative to where it started, as ${FRAME}?`,
      listText(p.map((t, i) => t + q[i]!)),
      'arithmetic',
    );
  },
  (rng) => {
    const [a, b] = twoThings(rng);
    const [p, q] = [displacement(rng), displacement(rng)];
    return qa(
      `The ${a} is at ${listText(p)} and the ${b} at ${listText(q)}, in cm from the middle of the table (forward, left, up). Where is the ${b} relative to the ${a}, as ${FRAME}?`,
      listText(q.map((t, i) => t - p[i]!)),
      'arithmetic',
    );
  },
  (rng) => {
    const names = rng.shuffle(CATALOGUE.map((o) => o.names.en)).slice(0, rng.int(1, 6));
    return qa(`How many things are in the list ${JSON.stringify(names)}?`, String(names.length), 'arithmetic');
  },
];

// ---------------------------------------------------------------------------------------------------
// JSON lists of strings (the held-out `json` category asks these three).

const PEOPLE = ['Anna', 'Ben', 'Carla', 'David', 'Emma', 'Felix', 'Grace', 'Hugo', 'Ines', 'Jonas'];

interface Step {
  /** "wash the apple" (as a step) and "washes the apple" (as the story tells it). */
  say: (o: CatalogueObject, other: CatalogueObject) => [string, string];
  fits: (o: CatalogueObject, other: CatalogueObject) => boolean;
}

const simple = (base: string, third: string, fits: (o: CatalogueObject) => boolean = () => true): Step => ({
  say: (o) => [`${base} the ${o.names.en}`, `${third} the ${o.names.en}`],
  fits: (o) => fits(o),
});
const food = (o: CatalogueObject) => o.category === 'fruit' || o.category === 'vegetable';

const STEPS: Step[] = [
  simple('pick up', 'picks up'),
  simple('wash', 'washes'),
  simple('dry', 'dries'),
  simple('look at', 'looks at'),
  simple('put down', 'puts down'),
  simple('cut', 'cuts', food),
  simple('peel', 'peels', (o) => ['banana', 'orange', 'carrot'].includes(o.id)),
  simple('squeeze', 'squeezes', (o) => ['orange', 'lemon', 'sponge'].includes(o.id)),
  simple('eat', 'eats', (o) => o.category === 'fruit'),
  simple('throw', 'throws', (o) => o.id === 'ball'),
  simple('push', 'pushes', (o) => o.id === 'car' || o.id === 'block'),
  {
    say: (o, c) => {
      const p = prepositionFor(c.id);
      return [`put the ${o.names.en} ${p} the ${c.names.en}`, `puts the ${o.names.en} ${p} the ${c.names.en}`];
    },
    fits: (o, c) => !o.container && c.container,
  },
  {
    say: (o, c) => [`move the ${o.names.en} next to the ${c.names.en}`, `moves the ${o.names.en} next to the ${c.names.en}`],
    fits: (o, c) => o.id !== c.id,
  },
];

export const JSON_LISTS: TextQuestion[] = [
  (rng) => {
    const n = rng.int(2, 4);
    const [o, other] = rng.shuffle([...CATALOGUE]) as [CatalogueObject, CatalogueObject];
    const steps = rng
      .shuffle(STEPS.filter((s) => s.fits(o, other)))
      .slice(0, n)
      .map((s) => s.say(o, other));
    if (steps.length < 2) return null;
    const story =
      rng.next() < 0.5
        ? `${rng.pick(PEOPLE)} ${steps.map((s) => s[1]).join(', then ')}.`
        : `First ${rng.pick(PEOPLE)} ${steps
            .slice(0, -1)
            .map((s) => s[1])
            .join(', then ')}, and finally ${steps.at(-1)![1]}.`;
    return qa(`${story} What are the steps? Answer with a JSON list of strings.`, JSON.stringify(steps.map((s) => s[0])), 'json');
  },
  (rng) => {
    const names = rng.shuffle([...CATALOGUE]).slice(0, rng.int(3, 5));
    const c = rng.next() < 0.7 ? rng.pick(names).category : rng.pick(Object.keys(PLURAL) as Category[]);
    const list = names.map((o) => o.names.en);
    return qa(
      `Which of these are ${PLURAL[c]}: ${list.slice(0, -1).join(', ')} and ${list.at(-1)}? Answer with a JSON list of strings.`,
      JSON.stringify(names.filter((o) => o.category === c).map((o) => o.names.en)),
      'json',
    );
  },
  (rng) => {
    const names = rng.shuffle([...CATALOGUE]).slice(0, rng.int(2, 3));
    const l = rng.pick(FOREIGN_LANGUAGES);
    const list = names.map((o) => o.names.en);
    return qa(
      `Write ${list.slice(0, -1).join(', ')} and ${list.at(-1)} in ${LANGUAGE_NAMES[l]}, as a JSON list of strings.`,
      JSON.stringify(names.map((o) => o.names[l])),
      'json',
    );
  },
];

/** Text conversations about numbers, lists and motions (`CorpusMix.numberShare`). */
export const NUMBER_TEXT: TextQuestion[] = [
  ...LISTS,
  ...LISTS,
  ...DISPLACEMENT,
  ...MOTION,
  ...MOTION,
  ...ARITHMETIC,
  ...JSON_LISTS,
  ...JSON_LISTS,
];

// ---------------------------------------------------------------------------------------------------
// Scene questions answered as lists (`CorpusMix.listShare`).

export const SCENE_LISTS: SceneQuestion[] = [
  (s, rng) => {
    const k = rng.int(0, s.placements.length - 1);
    const p = s.placements[k]!;
    const o = getObject(p.id);
    const g = s.gripper;
    // Whole cm, as the phrase form of the same question ("Where is the X relative to the gripper?").
    const v = [p.x - g.x, p.y - g.y, o.size[2] * 2 - g.z].map((m) => Math.round(m * 100) * 10);
    return qa(`Where is the ${o.names.en} relative to the gripper, as ${FRAME}?`, listText(v), 'lists', [k]);
  },
  (s) => {
    const names = [...s.placements].sort((a, b) => b.y - a.y).map((p) => getObject(p.id).names.en);
    return qa('Which objects are on the table, from left to right? Answer with a JSON list of strings.', JSON.stringify(names), 'json');
  },
];
