// Grammar pieces the text codecs share: numbers, separators, the gripper digit.
import { alt, lit, opt, rep, seq, set, DIGITS } from '../grammar.ts';
import type { Node } from '../grammar.ts';

const NONZERO = '123456789';
/** (0|[1-9][0-9]{0,2})(\.[0-9]{1,2})? — magnitude below 1000, at most two decimals. */
export const UNSIGNED: Node = seq(alt(lit('0'), seq(set(NONZERO), rep(set(DIGITS), 0, 2))), opt(seq(lit('.'), rep(set(DIGITS), 1, 2))));
export const SIGNED: Node = seq(opt(lit('-')), UNSIGNED);
export const GRIPPER: Node = set('01');
/** "," followed by at most one space. */
export const COMMA: Node = seq(lit(','), opt(lit(' ')));

/** Numbers in a text the grammar has accepted, in order (safe: the grammar allows only the
 *  syntax above, so Number() sees only plain ASCII decimals). */
export function numbersIn(text: string): number[] {
  return (text.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
}
