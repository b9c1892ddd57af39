// Action elements as text codecs see them, and the typed error of a failed parse.
// Units: dx, dy, dz in centimetres (+x forward, +y left, +z up); droll, dpitch, dyaw in degrees;
// gripper 1 = open, 0 = closed (DESIGN.md §3).
import { VlmError } from '../errors/index.ts';

export interface ActionElement {
  dx: number;
  dy: number;
  dz: number;
  droll: number;
  dpitch: number;
  dyaw: number;
  gripper: 0 | 1;
}

/** An element made from a trajectory: it covers steps [start, end). */
export interface ChunkElement extends ActionElement {
  start: number;
  end: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ActionParseError };

/** A model's action text that is not a sentence of its codec. `position` is the index of the first
 *  character that cannot be read (the text length when the text ends too early). */
export class ActionParseError extends VlmError {
  constructor(
    readonly position: number,
    message: string,
    readonly style: string,
  ) {
    super('E_ACTION_PARSE', message, {
      field: `${style}@${position}`,
      fix: 'regenerate the action chunk (constrained decoding prevents this)',
    });
  }
}

/** Formats a value with one decimal, never "-0.0". */
export function fixed1(v: number): string {
  const s = (Math.round(v * 10) / 10).toFixed(1);
  return s === '-0.0' ? '0.0' : s;
}
