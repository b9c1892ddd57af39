// Style `list` (default): [[dx, dy, dz, gripper], …] in cm with one decimal; `rot` adds droll,
// dpitch, dyaw in degrees before the gripper: [[dx, dy, dz, droll, dpitch, dyaw, gripper], …].
import { Grammar, lit, rep, seq } from '../grammar.ts';
import type { Node } from '../grammar.ts';
import { checkSyntax, fail, ok, registerCodec, MAX_ELEMENTS } from '../codec.ts';
import type { ActionCodec } from '../codec.ts';
import { fixed1 } from '../types.ts';
import type { ActionElement } from '../types.ts';
import { COMMA, GRIPPER, SIGNED, numbersIn } from './syntax.ts';

function listGrammar(numbers: number): Grammar {
  const items: Node[] = [lit('[')];
  for (let i = 0; i < numbers; i++) items.push(SIGNED, COMMA);
  items.push(GRIPPER, lit(']'));
  const element = seq(...items);
  return new Grammar(seq(lit('['), element, rep(seq(COMMA, element), 0, MAX_ELEMENTS - 1), lit(']')));
}

function makeListCodec(style: 'list' | 'rot'): ActionCodec {
  const withRot = style === 'rot';
  const width = withRot ? 7 : 4;
  const grammar = listGrammar(width - 1);
  return {
    style,
    resolutionCm: 0.05,
    grammar,
    encode(elements) {
      const parts = elements.map((e) => {
        const values = withRot ? [e.dx, e.dy, e.dz, e.droll, e.dpitch, e.dyaw] : [e.dx, e.dy, e.dz];
        return `[${values.map(fixed1).join(', ')}, ${e.gripper}]`;
      });
      return `[${parts.join(', ')}]`;
    },
    decode(text) {
      const error = checkSyntax(grammar, text, style);
      if (error) return fail(error);
      const n = numbersIn(text);
      const out: ActionElement[] = [];
      for (let i = 0; i < n.length; i += width) {
        const v = n.slice(i, i + width);
        out.push(
          withRot
            ? { dx: v[0]!, dy: v[1]!, dz: v[2]!, droll: v[3]!, dpitch: v[4]!, dyaw: v[5]!, gripper: v[6]! as 0 | 1 }
            : { dx: v[0]!, dy: v[1]!, dz: v[2]!, droll: 0, dpitch: 0, dyaw: 0, gripper: v[3]! as 0 | 1 },
        );
      }
      return ok(out);
    },
  };
}

registerCodec('list', () => makeListCodec('list'), 'as a list of [dx, dy, dz, gripper]');
registerCodec('rot', () => makeListCodec('rot'), 'as a list of [dx, dy, dz, droll, dpitch, dyaw, gripper] with rotations in degrees');
