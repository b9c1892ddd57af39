// Strict parsing of numbers typed by people (flags, key=value settings): ASCII decimal only, so
// `0x10`, `0b1`, `1_000`, `Infinity`, `1,5` and the empty string are refused instead of being read
// by JavaScript's Number() as 16, 1, NaN-or-something, Infinity, NaN and 0.

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;

/** The finite number `text` spells in plain decimal (optionally with an exponent), else null. */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
