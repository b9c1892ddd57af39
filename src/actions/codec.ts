// The action-codec contract and registry: a style name maps to a factory of codecs that turn
// action elements into text and back (strictly), with the grammar the text follows, and to the hint
// that names the format inside the chunk prompt.
import { ConfigError } from '../errors/index.ts';
import type { Grammar } from './grammar.ts';
import { ActionParseError } from './types.ts';
import type { ActionElement, ParseResult } from './types.ts';

export interface ActionCodec {
  readonly style: string;
  /** The largest error (cm) that encoding adds to one translation value. */
  readonly resolutionCm: number;
  readonly grammar: Grammar;
  encode(elements: readonly ActionElement[]): string;
  /** Total and strict: a value or a typed error with the position of the fault; never throws. */
  decode(text: string): ParseResult<ActionElement[]>;
}

export interface CodecOptions {
  /** tokens style: per-axis bin ranges and the vocabulary strings of the 256 bins. */
  tokens?: TokensCodecOptions;
}

export interface TokensCodecOptions {
  /** Lower and upper edges (cm) of the bins for dx, dy, dz (the dataset's q01 and q99). */
  low: readonly [number, number, number];
  high: readonly [number, number, number];
  /** 256 distinct vocabulary strings, none a prefix of another (least-used tokens of the model). */
  tokens: readonly string[];
}

type Factory = (options: CodecOptions) => ActionCodec;
const registry = new Map<string, { factory: Factory; promptHint: string }>();

/** Registers a style: its codec factory and how the chunk prompt names its format ("as a list of
 *  [dx, dy, dz, gripper]"), which training and inference must write identically. */
export function registerCodec(style: string, factory: Factory, promptHint: string): void {
  registry.set(style, { factory, promptHint });
}

export function listCodecs(): string[] {
  return [...registry.keys()];
}

function entry(style: string): { factory: Factory; promptHint: string } {
  const e = registry.get(style);
  if (!e) {
    throw new ConfigError('E_ACTION_STYLE', `unknown action style ${JSON.stringify(style)}`, {
      field: 'action-style',
      fix: `use one of ${listCodecs().join(', ')}`,
    });
  }
  return e;
}

export function getCodec(style: string, options: CodecOptions = {}): ActionCodec {
  return entry(style).factory(options);
}

/** How the chunk prompt names a style's format (an unknown style is a typed error). */
export function codecPromptHint(style: string): string {
  return entry(style).promptHint;
}

/** Longest action text any codec accepts; longer input is refused before parsing. */
export const MAX_ACTION_TEXT = 8192;
/** Most elements in one chunk. */
export const MAX_ELEMENTS = 32;

/** Runs the grammar over `text` and turns the first fault into an ActionParseError. */
export function checkSyntax(grammar: Grammar, text: string, style: string): ActionParseError | null {
  if (typeof text !== 'string') return new ActionParseError(0, `${style} action text must be a string`, style);
  if (text.length > MAX_ACTION_TEXT)
    return new ActionParseError(MAX_ACTION_TEXT, `${style} action text is longer than ${MAX_ACTION_TEXT} characters`, style);
  const at = grammar.firstError(text);
  if (at === -1) return null;
  const state = grammar.advance(grammar.start(), text.slice(0, at));
  const expected = state ? grammar.expected(state) : '';
  const shown = expected.length > 0 ? ` (expected one of ${JSON.stringify(expected)})` : '';
  const what = at >= text.length ? 'ends too early' : `has ${JSON.stringify(text[at])} at position ${at}`;
  return new ActionParseError(at, `${style} action text ${what}${shown}`, style);
}

export function ok<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function fail<T>(error: ActionParseError): ParseResult<T> {
  return { ok: false, error };
}
