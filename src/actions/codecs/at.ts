// Style `at` (the paper's -AT ablation): the `list` style with every digit of the action numbers
// written as a marker `<d0>` … `<d9>`, which training maps to ten of the base model's least-used
// vocabulary tokens — the same chunk, in a vocabulary the model never used for numbers:
// [[<d4>.<d2>, <d0>.<d0>, -<d1>.<d5>, <d1>]] is [[4.2, 0.0, -1.5, 1]].
import { Grammar, alt, lit, opt, rep, seq } from '../grammar.ts';
import type { Node } from '../grammar.ts';
import { checkSyntax, fail, registerCodec, MAX_ELEMENTS } from '../codec.ts';
import type { ActionCodec } from '../codec.ts';
import { getCodec } from '../codec.ts';
import './list.ts';

/** The ten digit markers: DIGIT_MARKERS[d] stands for the digit d. */
export const DIGIT_MARKERS: readonly string[] = Array.from({ length: 10 }, (_, d) => `<d${d}>`);

const digit = (from: number) => alt(...DIGIT_MARKERS.slice(from).map(lit));
/** The list style's number, (0|[1-9][0-9]{0,2})(\.[0-9]{1,2})? with an optional minus, in markers. */
const SIGNED: Node = seq(
  opt(lit('-')),
  alt(lit(DIGIT_MARKERS[0]!), seq(digit(1), rep(digit(0), 0, 2))),
  opt(seq(lit('.'), rep(digit(0), 1, 2))),
);
const COMMA: Node = seq(lit(','), opt(lit(' ')));
const ELEMENT: Node = seq(
  lit('['),
  SIGNED,
  COMMA,
  SIGNED,
  COMMA,
  SIGNED,
  COMMA,
  alt(lit(DIGIT_MARKERS[0]!), lit(DIGIT_MARKERS[1]!)),
  lit(']'),
);
const GRAMMAR = new Grammar(seq(lit('['), ELEMENT, rep(seq(COMMA, ELEMENT), 0, MAX_ELEMENTS - 1), lit(']')));

const toMarkers = (text: string) => text.replace(/\d/g, (d) => DIGIT_MARKERS[Number(d)]!);
const fromMarkers = (text: string) => text.replace(/<d(\d)>/g, '$1');

function makeAtCodec(): ActionCodec {
  const list = getCodec('list');
  return {
    style: 'at',
    resolutionCm: list.resolutionCm,
    grammar: GRAMMAR,
    encode: (elements) => toMarkers(list.encode(elements)),
    decode(text) {
      const error = checkSyntax(GRAMMAR, text, 'at');
      if (error) return fail(error);
      // Accepted text holds digits only as markers, so the plain text is a sentence of `list`.
      return list.decode(fromMarkers(text));
    },
  };
}

registerCodec('at', makeAtCodec, 'as a list of [dx, dy, dz, gripper] with every digit written as its action token');
