// The object catalogue of the tabletop world: names in five languages, synonyms, category, colour,
// shape, size and an affordance sentence per object, and whether robot data may use it (held-out
// objects appear only in pretraining and in evaluation suites).

import { VlmError } from '../errors/index.ts';

export type Category = 'fruit' | 'vegetable' | 'utensil' | 'container' | 'toy' | 'tool';
export type Shape = 'sphere' | 'box' | 'cylinder' | 'ellipsoid';
export type Language = 'en' | 'es' | 'fr' | 'de' | 'zh';
export const LANGUAGES: readonly Language[] = ['en', 'es', 'fr', 'de', 'zh'];

export interface CatalogueObject {
  id: string;
  /** English name, then its names in the other languages. */
  names: Record<Language, string>;
  synonyms: readonly string[];
  category: Category;
  colour: { name: string; rgb: readonly [number, number, number] };
  shape: Shape;
  /** Half extents in metres along x, y, z (a sphere uses x for its radius). */
  size: readonly [number, number, number];
  affordance: string;
  /** Containers hold other objects (bowl, pot, plate, towel, basket). */
  container: boolean;
  /** Held out: never in robot training data. */
  heldOut: boolean;
  /** Grammatical gender of the name in Spanish, French and German (articles and pronouns). */
  gender: { es: 'm' | 'f'; fr: 'm' | 'f'; de: 'm' | 'f' | 'n' };
}

/** Genders of the Spanish, French and German names, in that order (m, f, n). */
// prettier-ignore
const GENDERS: Record<string, string> = {
  apple: 'ffm', banana: 'mff', orange: 'fff', lemon: 'mmf', pear: 'fff', carrot: 'fff', tomato: 'mff',
  eggplant: 'fff', corn: 'mmm', pepper: 'mmf', spoon: 'fff', fork: 'mff', knife: 'mmn', cup: 'fff',
  spatula: 'ffm', bowl: 'mmf', pot: 'ffm', plate: 'mfm', towel: 'ffn', basket: 'fmm', ball: 'ffm',
  block: 'mmm', duck: 'mmf', car: 'mfn', hammer: 'mmm', screwdriver: 'mmm', brush: 'mff', sponge: 'ffm',
};

function genderOf(id: string): CatalogueObject['gender'] {
  const g = GENDERS[id];
  if (!g || !/^[mf][mf][mfn]$/.test(g))
    throw new VlmError('E_SIM_OBJECT', `catalogue object "${id}" has no es/fr/de genders`, {
      field: 'gender',
      fix: 'add it to GENDERS in src/sim/catalogue.ts',
    });
  return { es: g[0] as 'm' | 'f', fr: g[1] as 'm' | 'f', de: g[2] as 'm' | 'f' | 'n' };
}

type Row = [
  id: string,
  en: string,
  es: string,
  fr: string,
  de: string,
  zh: string,
  synonyms: string[],
  category: Category,
  colour: string,
  rgb: [number, number, number],
  shape: Shape,
  size: [number, number, number],
  affordance: string,
  container: boolean,
  heldOut: boolean,
];

// prettier-ignore
const ROWS: Row[] = [
  ['apple', 'apple', 'manzana', 'pomme', 'Apfel', '苹果', ['red fruit', 'pome'], 'fruit', 'red', [170, 15, 35], 'sphere', [0.035, 0.035, 0.035], 'you eat an apple', false, false],
  ['banana', 'banana', 'plátano', 'banane', 'Banane', '香蕉', ['yellow fruit', 'plantain'], 'fruit', 'yellow', [235, 205, 40], 'ellipsoid', [0.07, 0.018, 0.018], 'you peel a banana before eating it', false, false],
  ['orange', 'orange', 'naranja', 'orange', 'Orange', '橙子', ['citrus', 'tangerine'], 'fruit', 'orange', [245, 140, 20], 'sphere', [0.036, 0.036, 0.036], 'you squeeze an orange for juice', false, false],
  ['lemon', 'lemon', 'limón', 'citron', 'Zitrone', '柠檬', ['citrus fruit', 'sour fruit'], 'fruit', 'yellow', [225, 235, 110], 'ellipsoid', [0.035, 0.026, 0.026], 'you squeeze a lemon over fish', false, true],
  ['pear', 'pear', 'pera', 'poire', 'Birne', '梨', ['green fruit', 'juicy fruit'], 'fruit', 'green', [150, 200, 60], 'ellipsoid', [0.03, 0.03, 0.042], 'you eat a pear when it is ripe', false, true],
  ['carrot', 'carrot', 'zanahoria', 'carotte', 'Karotte', '胡萝卜', ['root vegetable', 'veggie'], 'vegetable', 'orange', [240, 110, 20], 'ellipsoid', [0.075, 0.016, 0.016], 'you cut a carrot for soup', false, false],
  ['tomato', 'tomato', 'tomate', 'tomate', 'Tomate', '西红柿', ['red vegetable', 'love apple'], 'vegetable', 'red', [235, 70, 35], 'ellipsoid', [0.033, 0.033, 0.024], 'you slice a tomato for a salad', false, false],
  ['eggplant', 'eggplant', 'berenjena', 'aubergine', 'Aubergine', '茄子', ['aubergine', 'purple vegetable'], 'vegetable', 'purple', [100, 40, 120], 'ellipsoid', [0.07, 0.03, 0.03], 'you grill an eggplant', false, false],
  ['corn', 'corn', 'maíz', 'maïs', 'Mais', '玉米', ['maize', 'corn cob'], 'vegetable', 'yellow', [240, 215, 90], 'cylinder', [0.02, 0.02, 0.07], 'you boil corn and eat it from the cob', false, true],
  ['pepper', 'pepper', 'pimiento', 'poivron', 'Paprika', '辣椒', ['bell pepper', 'capsicum'], 'vegetable', 'green', [40, 150, 50], 'box', [0.03, 0.03, 0.035], 'you cook a pepper in a pan', false, false],
  ['spoon', 'spoon', 'cuchara', 'cuillère', 'Löffel', '勺子', ['teaspoon', 'soup spoon'], 'utensil', 'silver', [185, 185, 195], 'box', [0.075, 0.012, 0.006], 'you eat soup with a spoon', false, false],
  ['fork', 'fork', 'tenedor', 'fourchette', 'Gabel', '叉子', ['dinner fork', 'table fork'], 'utensil', 'grey', [150, 150, 160], 'box', [0.08, 0.012, 0.006], 'you eat pasta with a fork', false, false],
  ['knife', 'knife', 'cuchillo', 'couteau', 'Messer', '刀', ['blade', 'table knife'], 'utensil', 'black', [40, 40, 45], 'box', [0.09, 0.01, 0.006], 'you cut bread with a knife', false, true],
  ['cup', 'cup', 'taza', 'tasse', 'Tasse', '杯子', ['mug', 'teacup'], 'utensil', 'white', [235, 235, 230], 'cylinder', [0.035, 0.035, 0.045], 'you drink from a cup', false, false],
  ['spatula', 'spatula', 'espátula', 'spatule', 'Pfannenwender', '锅铲', ['turner', 'flipper'], 'utensil', 'blue', [40, 90, 200], 'box', [0.09, 0.025, 0.006], 'you flip a pancake with a spatula', false, false],
  ['bowl', 'bowl', 'cuenco', 'bol', 'Schüssel', '碗', ['dish', 'basin'], 'container', 'blue', [50, 110, 210], 'cylinder', [0.07, 0.07, 0.035], 'you serve soup in a bowl', true, false],
  ['pot', 'pot', 'olla', 'casserole', 'Topf', '锅', ['cooking pot', 'saucepan'], 'container', 'grey', [120, 120, 130], 'cylinder', [0.08, 0.08, 0.05], 'you boil water in a pot', true, false],
  ['plate', 'plate', 'plato', 'assiette', 'Teller', '盘子', ['dinner plate', 'platter'], 'container', 'white', [240, 240, 240], 'cylinder', [0.09, 0.09, 0.008], 'you put food on a plate', true, false],
  ['towel', 'towel', 'toalla', 'serviette', 'Handtuch', '毛巾', ['cloth', 'rag'], 'container', 'pink', [235, 140, 170], 'box', [0.09, 0.07, 0.004], 'you dry your hands with a towel', true, false],
  ['basket', 'basket', 'cesta', 'panier', 'Korb', '篮子', ['hamper', 'wicker basket'], 'container', 'brown', [150, 100, 50], 'box', [0.08, 0.06, 0.04], 'you carry fruit in a basket', true, true],
  ['ball', 'ball', 'pelota', 'balle', 'Ball', '球', ['toy ball', 'rubber ball'], 'toy', 'light blue', [70, 170, 235], 'sphere', [0.03, 0.03, 0.03], 'you throw a ball to play', false, false],
  ['block', 'block', 'bloque', 'cube', 'Klotz', '积木', ['toy block', 'cube'], 'toy', 'teal', [0, 150, 150], 'box', [0.025, 0.025, 0.025], 'you build a tower with a block', false, false],
  ['duck', 'rubber duck', 'patito de goma', 'canard en caoutchouc', 'Quietscheente', '橡皮鸭', ['toy duck', 'bath duck'], 'toy', 'yellow', [250, 215, 20], 'ellipsoid', [0.045, 0.035, 0.035], 'you float a rubber duck in the bath', false, false],
  ['car', 'toy car', 'coche de juguete', 'petite voiture', 'Spielzeugauto', '玩具车', ['model car', 'toy vehicle'], 'toy', 'red', [190, 30, 30], 'box', [0.05, 0.025, 0.02], 'you push a toy car across the floor', false, true],
  ['hammer', 'hammer', 'martillo', 'marteau', 'Hammer', '锤子', ['mallet', 'claw hammer'], 'tool', 'brown', [120, 75, 40], 'box', [0.09, 0.02, 0.015], 'you drive a nail with a hammer', false, false],
  ['screwdriver', 'screwdriver', 'destornillador', 'tournevis', 'Schraubenzieher', '螺丝刀', ['driver', 'turnscrew'], 'tool', 'orange', [230, 120, 30], 'cylinder', [0.012, 0.012, 0.08], 'you turn a screw with a screwdriver', false, false],
  ['brush', 'brush', 'cepillo', 'brosse', 'Bürste', '刷子', ['scrub brush', 'scrubber'], 'tool', 'purple', [130, 60, 170], 'box', [0.07, 0.025, 0.02], 'you scrub a pan with a brush', false, false],
  ['sponge', 'sponge', 'esponja', 'éponge', 'Schwamm', '海绵', ['scrubber pad', 'dish sponge'], 'tool', 'yellow', [240, 230, 90], 'box', [0.045, 0.03, 0.015], 'you wash dishes with a sponge', false, true],
];

export const CATALOGUE: readonly CatalogueObject[] = ROWS.map(
  ([id, en, es, fr, de, zh, synonyms, category, colour, rgb, shape, size, affordance, container, heldOut]) => ({
    id,
    names: { en, es, fr, de, zh },
    synonyms,
    category,
    colour: { name: colour, rgb },
    shape,
    size,
    affordance,
    container,
    heldOut,
    gender: genderOf(id),
  }),
);

const BY_ID = new Map(CATALOGUE.map((o) => [o.id, o]));

export function getObject(id: string): CatalogueObject {
  const o = BY_ID.get(id);
  if (!o)
    throw new VlmError('E_SIM_OBJECT', `unknown catalogue object "${id}"`, {
      field: 'id',
      fix: `use one of ${CATALOGUE.map((c) => c.id).join(', ')}`,
    });
  return o;
}

/** Objects robot data may contain (not held out). */
export function trainObjects(): CatalogueObject[] {
  return CATALOGUE.filter((o) => !o.heldOut);
}
