// The grammars of the policy's text stages and their strict decoders: subtasks (a JSON list of
// strings), motion plans (direction words, DESIGN.md §3), the verifier's yes/no, the auxiliary
// direction answer (left/right/none); plus every grammar
// (the action codecs' too) exported as GBNF for llama.cpp servers and as a regular expression for
// vLLM's structured outputs. The strict decoders accept exactly the sentences of their grammars.
import { Grammar, alt, lit, opt, rep, seq, set } from '../actions/index.ts';
import type { GrammarNode } from '../actions/index.ts';
import { planDirections } from '../actions/index.ts';
import type { PlanPhase } from '../actions/index.ts';

/** Most subtasks one task may have, and the longest subtask (characters). */
export const MAX_SUBTASKS = 8;
export const MAX_SUBTASK_CHARS = 80;

/** Characters a subtask may hold: ASCII letters, digits, space and light punctuation (robot data
 *  instructions are English; a subtask never needs quotes or backslashes, so no JSON escapes). */
const SUBTASK_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ',-";
const STRING = seq(lit('"'), rep(set(SUBTASK_CHARS), 1, MAX_SUBTASK_CHARS), lit('"'));
const LIST_COMMA = seq(lit(','), opt(lit(' ')));
export const SUBTASKS_GRAMMAR = new Grammar(seq(lit('['), STRING, rep(seq(LIST_COMMA, STRING), 0, MAX_SUBTASKS - 1), lit(']')));

const DIRECTIONS = ['forward', 'backward', 'left', 'right', 'up', 'down'] as const;
const AXIS_OF: Record<(typeof DIRECTIONS)[number], number> = { forward: 0, backward: 0, left: 1, right: 1, up: 2, down: 2 };
const word = (d: string): GrammarNode => seq(opt(alt(lit('slightly '), lit('far '))), lit(d));

/** One phase: one to three directions on distinct axes, joined by " and " (every order). */
function phaseNode(): GrammarNode {
  const phrases: GrammarNode[] = [];
  const extend = (used: number[], items: GrammarNode[]) => {
    if (items.length > 0) phrases.push(seq(...items));
    if (used.length === 3) return;
    for (const d of DIRECTIONS) {
      if (used.includes(AXIS_OF[d])) continue;
      extend([...used, AXIS_OF[d]], items.length === 0 ? [word(d)] : [...items, lit(' and '), word(d)]);
    }
  };
  extend([], []);
  return alt(...phrases);
}
/** Most phases a plan has (motionPlan writes at most 3). */
export const MAX_PLAN_PHASES = 3;
const PHASE = phaseNode();
export const PLAN_GRAMMAR = new Grammar(
  alt(lit('stay in place'), seq(lit('move '), PHASE, rep(seq(lit(', then '), PHASE), 0, MAX_PLAN_PHASES - 1))),
);

export const VERIFY_GRAMMAR = new Grammar(alt(lit('yes'), lit('no')));

/** The auxiliary direction stage's answers (src/sft/examples.ts writes them). */
export const DIRECTIONS_SAID = ['left', 'right', 'none'] as const;
export const DIRECTION_GRAMMAR = new Grammar(alt(...DIRECTIONS_SAID.map(lit)));

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

/** The subtasks of a stage-1 answer; total, never throws. */
export function parseSubtasks(text: string): Decoded<string[]> {
  if (typeof text !== 'string' || !SUBTASKS_GRAMMAR.matches(text))
    return { ok: false, error: `not a JSON list of 1-${MAX_SUBTASKS} plain strings: ${JSON.stringify(String(text).slice(0, 120))}` };
  // The grammar allows no quote, backslash or control character inside a string, so JSON.parse
  // of an accepted text cannot fail and yields exactly the strings between the quotes.
  return { ok: true, value: JSON.parse(text) as string[] };
}

/** The per-axis directions of a stage-2 plan; total, never throws. */
export function parsePlan(text: string): Decoded<PlanPhase[]> {
  if (typeof text !== 'string' || !PLAN_GRAMMAR.matches(text))
    return { ok: false, error: `not a motion plan: ${JSON.stringify(String(text).slice(0, 120))}` };
  const phases = planDirections(text);
  if (!phases) return { ok: false, error: `not a motion plan: ${JSON.stringify(text.slice(0, 120))}` };
  return { ok: true, value: phases };
}

/** The verifier's answer; total, never throws. */
export function parseVerify(text: string): Decoded<boolean> {
  if (text === 'yes') return { ok: true, value: true };
  if (text === 'no') return { ok: true, value: false };
  return { ok: false, error: `the verifier answers yes or no, got ${JSON.stringify(String(text).slice(0, 40))}` };
}

/** The direction stage's answer; total, never throws. */
export function parseDirection(text: string): Decoded<(typeof DIRECTIONS_SAID)[number]> {
  const found = DIRECTIONS_SAID.find((d) => d === text);
  return found
    ? { ok: true, value: found }
    : { ok: false, error: `the direction is left, right or none, got ${JSON.stringify(String(text).slice(0, 40))}` };
}

const gbnfString = (s: string) => JSON.stringify(s);
const gbnfClass = (chars: string) =>
  `[${[...chars].map((c) => (c === ']' || c === '\\' || c === '-' || c === '^' ? `\\${c}` : c === '\n' ? '\\n' : c)).join('')}]`;

/** The grammar in llama.cpp's GBNF (one `root` rule; bounded repetition as {m,n}). */
export function toGbnf(grammar: Grammar): string {
  const go = (n: GrammarNode): string => {
    switch (n.kind) {
      case 'lit':
        return gbnfString(n.text);
      case 'set':
        return gbnfClass(n.chars);
      case 'seq':
        return n.items.length === 1 ? go(n.items[0]!) : `(${n.items.map(go).join(' ')})`;
      case 'alt':
        return `(${n.items.map(go).join(' | ')})`;
      case 'rep':
        return n.min === 0 && n.max === 1 ? `${go(n.item)}?` : `${go(n.item)}{${n.min},${n.max}}`;
    }
  };
  return `root ::= ${go(grammar.root)}\n`;
}

const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const regexClass = (chars: string) => `[${[...chars].map((c) => (/[\]\\^-]/.test(c) ? `\\${c}` : c)).join('')}]`;

/** The grammar as an anchored-free regular expression source (vLLM `guided_regex` / `regex`). */
export function toRegex(grammar: Grammar): string {
  const go = (n: GrammarNode): string => {
    switch (n.kind) {
      case 'lit':
        return regexEscape(n.text);
      case 'set':
        return regexClass(n.chars);
      case 'seq':
        return n.items.map(go).join('');
      case 'alt':
        return `(?:${n.items.map(go).join('|')})`;
      case 'rep': {
        const inner = go(n.item);
        const atom = n.item.kind === 'set' || (n.item.kind === 'lit' && [...n.item.text].length === 1) ? inner : `(?:${inner})`;
        return n.min === 0 && n.max === 1 ? `${atom}?` : `${atom}{${n.min},${n.max}}`;
      }
    }
  };
  return go(grammar.root);
}
