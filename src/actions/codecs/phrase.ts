// Style `phrase`: each element as clauses in a fixed order — x, then y, then z, then the gripper —
// `move forward 4.2 cm, move down 1.5 cm, open gripper`; elements joined by "; ". Axes that round
// to 0.0 are left out; the gripper clause is always present (it is a state, not a change).
import { Grammar, alt, lit, opt, rep, seq } from '../grammar.ts';
import { checkSyntax, fail, ok, registerCodec, MAX_ELEMENTS } from '../codec.ts';
import type { ActionCodec } from '../codec.ts';
import { fixed1 } from '../types.ts';
import type { ActionElement } from '../types.ts';
import { UNSIGNED } from './syntax.ts';

const AXES = [
  { key: 'dx', pos: 'forward', neg: 'backward' },
  { key: 'dy', pos: 'left', neg: 'right' },
  { key: 'dz', pos: 'up', neg: 'down' },
] as const;

const clause = (pos: string, neg: string) => seq(lit('move '), alt(lit(pos), lit(neg)), lit(' '), UNSIGNED, lit(' cm, '));
const element = seq(...AXES.map((a) => opt(clause(a.pos, a.neg))), alt(lit('open'), lit('close')), lit(' gripper'));
const grammar = new Grammar(seq(element, rep(seq(lit('; '), element), 0, MAX_ELEMENTS - 1)));

const CLAUSE = /^move (forward|backward|left|right|up|down) (\d+(?:\.\d+)?) cm$/;

const phraseCodec: ActionCodec = {
  style: 'phrase',
  resolutionCm: 0.05,
  grammar,
  encode(elements) {
    return elements
      .map((e) => {
        const parts: string[] = [];
        for (const a of AXES) {
          const v = e[a.key];
          const mag = fixed1(Math.abs(v));
          if (mag !== '0.0') parts.push(`move ${v > 0 ? a.pos : a.neg} ${mag} cm`);
        }
        parts.push(e.gripper === 1 ? 'open gripper' : 'close gripper');
        return parts.join(', ');
      })
      .join('; ');
  },
  decode(text) {
    const error = checkSyntax(grammar, text, 'phrase');
    if (error) return fail(error);
    const out: ActionElement[] = [];
    for (const part of text.split('; ')) {
      const e: ActionElement = { dx: 0, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 };
      for (const c of part.split(', ')) {
        if (c === 'open gripper' || c === 'close gripper') {
          e.gripper = c === 'open gripper' ? 1 : 0;
          continue;
        }
        const m = CLAUSE.exec(c)!;
        const axis = AXES.find((a) => a.pos === m[1] || a.neg === m[1])!;
        e[axis.key] = (axis.pos === m[1] ? 1 : -1) * Number(m[2]);
      }
      out.push(e);
    }
    return ok(out);
  },
};

registerCodec(
  'phrase',
  () => phraseCodec,
  'as phrases such as "move forward 4.2 cm, open gripper", one group per step, separated by semicolons',
);
