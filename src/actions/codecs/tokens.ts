// Style `tokens`, the discrete baseline (OpenVLA/RT-2 style): each of dx, dy, dz is cut into 256
// uniform bins between the dataset's 1st and 99th percentiles and written as one vocabulary token
// per bin, the gripper as bin 0 (closed) or 255 (open): four tokens per element, no separators.
import { ConfigError } from '../../errors/index.ts';
import { Grammar, alt, lit, rep, seq } from '../grammar.ts';
import { checkSyntax, fail, ok, registerCodec, MAX_ELEMENTS } from '../codec.ts';
import type { ActionCodec, TokensCodecOptions } from '../codec.ts';
import type { ActionElement } from '../types.ts';

export const BINS = 256;

/** The bin tokens of datasets built with style `tokens`: `<a000>` … `<a255>` (fixed width, so
 *  prefix-free). Training maps each to one of the model's least-used vocabulary tokens; generation maps
 *  back (src/actions/action-tokens.ts), so a dataset does not depend on one tokenizer. */
export const ACTION_MARKERS: readonly string[] = Array.from({ length: BINS }, (_, i) => `<a${String(i).padStart(3, '0')}>`);

/** Bin ranges from a dataset's action elements (cm): the 1st and 99th percentile of dx, dy, dz (as
 *  OpenVLA does), widened to at least ±0.5 cm around their middle so a constant axis still has bins. */
export function tokenBinRanges(elements: Iterable<{ dx: number; dy: number; dz: number }>): {
  low: [number, number, number];
  high: [number, number, number];
} {
  const axes: number[][] = [[], [], []];
  for (const e of elements) {
    axes[0]!.push(e.dx);
    axes[1]!.push(e.dy);
    axes[2]!.push(e.dz);
  }
  const low: [number, number, number] = [0, 0, 0];
  const high: [number, number, number] = [0, 0, 0];
  axes.forEach((v, a) => {
    const finite = v.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
    const q = (p: number) =>
      finite.length === 0 ? 0 : finite[Math.min(finite.length - 1, Math.max(0, Math.round(p * (finite.length - 1))))]!;
    let lo = q(0.01);
    let hi = q(0.99);
    if (hi - lo < 1) {
      const mid = (lo + hi) / 2;
      lo = mid - 0.5;
      hi = mid + 0.5;
    }
    low[a] = lo;
    high[a] = hi;
  });
  return { low, high };
}
/** Fewer elements than the text codecs: the grammar is 256-way per token. */
const MAX_TOKEN_ELEMENTS = Math.min(MAX_ELEMENTS, 16);

function validate(o: TokensCodecOptions | undefined): TokensCodecOptions {
  const fix = 'compute q01/q99 from the dataset statistics and pick 256 least-used tokens';
  if (!o) throw new ConfigError('E_TOKENS_CODEC', 'the tokens style needs bin ranges and 256 token strings', { field: 'tokens', fix });
  if (o.tokens.length !== BINS)
    throw new ConfigError('E_TOKENS_CODEC', `tokens style needs ${BINS} token strings, got ${o.tokens.length}`, { field: 'tokens', fix });
  const sorted = [...o.tokens].sort();
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.length === 0) throw new ConfigError('E_TOKENS_CODEC', 'a bin token is the empty string', { field: 'tokens', fix });
    if (i > 0 && sorted[i]!.startsWith(sorted[i - 1]!)) {
      throw new ConfigError(
        'E_TOKENS_CODEC',
        `bin tokens ${JSON.stringify(sorted[i - 1])} and ${JSON.stringify(sorted[i])} are not prefix-free`,
        { field: 'tokens', fix: 'choose tokens none of which starts another' },
      );
    }
  }
  for (let a = 0; a < 3; a++) {
    if (!(Number.isFinite(o.low[a]!) && Number.isFinite(o.high[a]!) && o.high[a]! > o.low[a]!)) {
      throw new ConfigError('E_TOKENS_CODEC', `bin range of axis ${a} is [${o.low[a]}, ${o.high[a]}]`, { field: `low/high[${a}]`, fix });
    }
  }
  return o;
}

export function makeTokensCodec(options: TokensCodecOptions | undefined): ActionCodec {
  const o = validate(options);
  const index = new Map(o.tokens.map((t, i) => [t, i]));
  const anyToken = alt(...o.tokens.map(lit));
  const grammar = new Grammar(
    rep(seq(anyToken, anyToken, anyToken, alt(lit(o.tokens[0]!), lit(o.tokens[BINS - 1]!))), 1, MAX_TOKEN_ELEMENTS),
  );
  const width = [0, 1, 2].map((a) => (o.high[a]! - o.low[a]!) / BINS);
  const bin = (v: number, a: number) => Math.min(BINS - 1, Math.max(0, Math.floor((v - o.low[a]!) / width[a]!)));
  const centre = (b: number, a: number) => o.low[a]! + (b + 0.5) * width[a]!;
  return {
    style: 'tokens',
    resolutionCm: Math.max(...width) / 2,
    grammar,
    encode(elements) {
      return elements
        .map((e) => [bin(e.dx, 0), bin(e.dy, 1), bin(e.dz, 2)].map((b) => o.tokens[b]).join('') + o.tokens[e.gripper === 1 ? BINS - 1 : 0])
        .join('');
    },
    decode(text) {
      const error = checkSyntax(grammar, text, 'tokens');
      if (error) return fail(error);
      // The grammar accepted the text and the tokens are prefix-free, so greedy matching is exact.
      const bins: number[] = [];
      let at = 0;
      while (at < text.length) {
        let found = -1;
        let len = 0;
        for (const [t, i] of index) {
          if (text.startsWith(t, at)) {
            found = i;
            len = t.length;
            break;
          }
        }
        bins.push(found);
        at += len;
      }
      const out: ActionElement[] = [];
      for (let i = 0; i < bins.length; i += 4) {
        out.push({
          dx: centre(bins[i]!, 0),
          dy: centre(bins[i + 1]!, 1),
          dz: centre(bins[i + 2]!, 2),
          droll: 0,
          dpitch: 0,
          dyaw: 0,
          gripper: bins[i + 3] === BINS - 1 ? 1 : 0,
        });
      }
      return ok(out);
    },
  };
}

registerCodec('tokens', (options) => makeTokensCodec(options.tokens), 'as action tokens');
