// Task families, scene sampling, instructions (English for robot data; other languages, synonyms
// and semantic references for evaluation suites), and success predicates.
import type { Rng } from '../util/index.ts';
import { VlmError } from '../errors/index.ts';
import { CATALOGUE, getObject } from './catalogue.ts';
import type { CatalogueObject, Language } from './catalogue.ts';
import type { World } from './world.ts';
import { FOREIGN_LANGUAGES, foreignInstructions } from './language.ts';

import type { TaskFamily } from './families.ts';

export { TASK_FAMILIES } from './families.ts';
export type { TaskFamily } from './families.ts';
export type Suite = 'in-distribution' | 'multilingual' | 'unseen-objects' | 'semantic';
export const SUITES: readonly Suite[] = ['in-distribution', 'multilingual', 'unseen-objects', 'semantic'];

export interface Task {
  family: TaskFamily;
  object: string;
  target: string | null;
  /** Scene: object ids with table positions. */
  placements: { id: string; x: number; y: number; yaw: number }[];
  instruction: string;
  language: Language;
  suite: Suite;
}

/** "in" for bowls, pots and baskets, "on" for plates and towels. */
export function prepositionFor(target: string): 'in' | 'on' {
  return ['plate', 'towel'].includes(target) ? 'on' : 'in';
}

/** English instruction templates per family (the first is the canonical phrasing). */
export const EN: Record<TaskFamily, ((x: string, y: string, p: string) => string)[]> = {
  pick: [(x) => `pick up the ${x}`, (x) => `pick the ${x} up`, (x) => `grab the ${x}`],
  'pick-place': [
    (x, y, p) => `put the ${x} ${p} the ${y}`,
    (x, y, p) => `place the ${x} ${p} the ${y}`,
    (x, y, p) => `move the ${x} ${p === 'in' ? 'into' : 'onto'} the ${y}`,
  ],
  'pick-place-lift': [
    (x, y, p) => `pick up the ${x}, put it ${p} the ${y} and lift it`,
    (x, y, p) => `pick up the ${x} and place it ${p} the ${y}, then lift it`,
  ],
  'move-next-to': [(x, y) => `move the ${x} next to the ${y}`, (x, y) => `put the ${x} beside the ${y}`],
};

/** Places the objects at least 15 cm apart on the table. The first `required` must be placed (the
 *  whole scene is redrawn until they are); distractors that find no room are left out. */
export function sampleScene(rng: Rng, ids: string[], required: number): { id: string; x: number; y: number; yaw: number }[] {
  for (let scene = 0; scene < 100; scene++) {
    const out: { id: string; x: number; y: number; yaw: number }[] = [];
    for (const id of ids) {
      for (let attempt = 0; attempt < 200; attempt++) {
        const x = rng.uniform(0.22, 0.48);
        const y = rng.uniform(-0.22, 0.22);
        if (out.every((p) => Math.hypot(p.x - x, p.y - y) >= 0.15)) {
          out.push({ id, x, y, yaw: rng.uniform(-0.5, 0.5) });
          break;
        }
      }
    }
    if (ids.slice(0, required).every((id) => out.some((p) => p.id === id))) return out;
  }
  throw new VlmError('E_SIM_SCENE', `found no room for ${ids.slice(0, required).join(' and ')} on the table`, {
    field: 'placements',
    fix: 'report this as a bug (the table fits at least 6 objects 15 cm apart)',
  });
}

/** Samples a task of a family for a suite. Robot-data suites use English and training objects. */
export function sampleTask(family: TaskFamily, rng: Rng, suite: Suite = 'in-distribution'): Task {
  const pool = (o: CatalogueObject) => (suite === 'unseen-objects' ? o.heldOut : !o.heldOut);
  const movable = CATALOGUE.filter((o) => !o.container && pool(o) && o.id !== 'towel');
  const containers = CATALOGUE.filter((o) => o.container && !o.heldOut);
  const object = rng.pick(movable).id;
  let target: string | null = null;
  if (family === 'pick-place' || family === 'pick-place-lift') target = rng.pick(containers).id;
  if (family === 'move-next-to')
    target = rng.pick(
      CATALOGUE.filter((o) => !o.heldOut && o.id !== object && !o.container && o.category !== getObject(object).category),
    ).id;
  const distractors = rng
    .shuffle(
      CATALOGUE.filter(
        (o) => !o.heldOut && !o.container && o.id !== object && o.id !== target && o.category !== getObject(object).category,
      ),
    )
    .slice(0, rng.int(1, 2))
    .map((o) => o.id);
  const placements = sampleScene(rng, [object, ...(target ? [target] : []), ...distractors], target ? 2 : 1);
  let language: Language = 'en';
  const x = getObject(object);
  const y = target ? getObject(target) : null;
  let instruction = rng.pick(EN[family])(x.names.en, y?.names.en ?? '', target ? prepositionFor(target) : '');
  if (suite === 'multilingual') {
    const lang = rng.pick(FOREIGN_LANGUAGES);
    language = lang;
    instruction = rng.pick(foreignInstructions(lang, family, x, y, target ? prepositionFor(target) : 'in'));
  } else if (suite === 'semantic') {
    instruction = instruction.replace(`the ${x.names.en}`, semanticReference(x, placements, target, rng));
  }
  return { family, object, target, placements, instruction, language, suite };
}

/** "the thing you drink from" from "you drink from a cup": the affordance without the object. */
export function affordanceReference(o: CatalogueObject): string | null {
  const stripped = o.affordance.replace(new RegExp(`\\s*\\b(?:an?|the)\\s+${o.names.en}\\b`), '');
  if (stripped === o.affordance || !stripped.startsWith('you ')) return null;
  return `the thing ${stripped.trim()}`;
}

/** A reference that names the object without its name: its category (one object per category in a
 *  scene), its affordance, its place relative to another object when that place is unique, its
 *  colour when no other object in the scene has that colour name or a colour within RGB distance 60,
 *  or a synonym ("the mug"). */
export function semanticReference(o: CatalogueObject, placements: Task['placements'], target: string | null, rng: Rng): string {
  const kinds: (() => string | null)[] = [
    () => `the ${o.category}`,
    () => affordanceReference(o),
    () => {
      const me = placements.find((p) => p.id === o.id)!;
      for (const ref of rng.shuffle(placements.filter((p) => p.id !== o.id && p.id !== target))) {
        const left = placements.filter((p) => p.id !== ref.id && p.y > ref.y + 0.05);
        const right = placements.filter((p) => p.id !== ref.id && p.y < ref.y - 0.05);
        const name = getObject(ref.id).names.en;
        if (me.y > ref.y + 0.05 && left.length === 1) return `the object left of the ${name}`;
        if (me.y < ref.y - 0.05 && right.length === 1) return `the object right of the ${name}`;
      }
      return null;
    },
  ];
  kinds.push(() => `the ${rng.pick(o.synonyms)}`);
  kinds.push(() => {
    const others = placements.filter((p) => p.id !== o.id).map((p) => getObject(p.id));
    const close = (c: CatalogueObject) =>
      c.colour.name === o.colour.name || Math.hypot(...c.colour.rgb.map((v, k) => v - o.colour.rgb[k]!)) < 60;
    if (o.colour.name.includes(o.names.en) || o.names.en.includes(o.colour.name)) return null; // "the orange object"
    return others.some(close) ? null : `the ${o.colour.name} object`;
  });
  const order = rng.shuffle(kinds.map((_, i) => i));
  for (const k of order) {
    const r = kinds[k]!();
    if (r) return r;
  }
  return `the ${o.category}`;
}

/** Success predicates, evaluated on the final world (and, for pick-place-lift, whether the object
 *  was placed at some step: `placedOnce`). */
export function isSuccess(task: Task, world: World, placedOnce = false): boolean {
  const o = world.object(task.object);
  const rest = o.spec.size[2];
  switch (task.family) {
    case 'pick':
      return world.gripper.holding === o.id && o.z - rest >= 0.05;
    case 'pick-place':
      return o.support === task.target && world.gripper.holding === null;
    case 'pick-place-lift':
      return placedOnce && world.gripper.holding === o.id && o.z - rest >= 0.05;
    case 'move-next-to': {
      const t = world.object(task.target!);
      const d = Math.hypot(o.x - t.x, o.y - t.y);
      return o.support === null && world.gripper.holding === null && d >= 0.04 && d <= 0.15;
    }
  }
}
