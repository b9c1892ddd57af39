// The discrete-token action mode (the OpenVLA/RT-2 baseline of the paper's comparison): datasets built
// with `--action-style tokens` write each action bin as a marker `<a000>` … `<a255>`; training maps the
// markers to 256 of the model's least-used vocabulary tokens, whose embeddings (and tied output rows)
// are then retrained — in full mode with every other weight, in LoRA mode as PEFT trainable tokens next
// to the adapter. Generation maps those ids back to markers for the tokens codec. Datasets of the `at`
// style (the -AT ablation) write digits as `<d0>` … `<d9>` the same way, on ten least-used tokens.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError } from '../errors/index.ts';
import { ACTION_MARKERS, BINS } from './codecs/tokens.ts';
import { DIGIT_MARKERS } from './codecs/at.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { writeFileAtomic } from '../util/index.ts';

export const ACTION_TOKENS_FILE = 'action_tokens.json';
const MARKER = /<a\d{3}>|<d\d>/g;

export interface ActionTokens {
  /** ids[i] is the vocabulary id that stands for marker `<a{i}>` (bin i). */
  ids: number[];
  /** Bin ranges (cm) of dx, dy, dz, from the dataset's build_info.json. */
  low: [number, number, number];
  high: [number, number, number];
}

/** Style `at`: ids[d] is the vocabulary id that stands for the digit marker `<d{d}>`. */
export interface DigitTokens {
  kind: 'digits';
  ids: number[];
}

/** What a run's action_tokens.json holds: bin tokens (style `tokens`) or digit tokens (style `at`). */
export type MarkerTokens = ActionTokens | DigitTokens;

export const isDigitTokens = (t: MarkerTokens): t is DigitTokens => (t as DigitTokens).kind === 'digits';

/** The markers whose vocabulary ids `t` holds, in order. */
export const tokenMarkers = (t: MarkerTokens): readonly string[] => (isDigitTokens(t) ? DIGIT_MARKERS : ACTION_MARKERS);

const isByteToken = (s: string) => /^<0x[0-9A-Fa-f]{2}>$/.test(s);

/** The `n` vocabulary tokens used least in `texts` (unused first, then rarest; ties to the highest id,
 *  as BPE ids grow with rarity). Special, added and byte-fallback tokens are never chosen. */
export function leastUsedTokens(tokenizer: Tokenizer, texts: Iterable<string>, n = BINS): number[] {
  const counts = new Float64Array(tokenizer.vocabSize);
  for (const text of texts) for (const id of tokenizer.encode(text)) counts[id]!++;
  const specials = new Set(tokenizer.specialTokens.values());
  const candidates: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const s = tokenizer.idToToken(id);
    if (s === null || specials.has(id) || isByteToken(s)) continue;
    candidates.push(id);
  }
  if (candidates.length < n)
    throw new UsageError(
      `the tokenizer has ${candidates.length} ordinary tokens, fewer than the ${n} action bins`,
      'use a model with a larger vocabulary for the tokens action style',
    );
  candidates.sort((a, b) => counts[a]! - counts[b]! || b - a);
  return candidates.slice(0, n);
}

/** Marker → id, for the SFT encoder. */
export function markerMap(t: MarkerTokens): Map<string, number> {
  const markers = tokenMarkers(t);
  return new Map(t.ids.map((id, i) => [markers[i]!, id]));
}

/** Text of generated ids with action ids written as their markers (what the tokens codec parses). */
export function actionIdsToText(ids: readonly number[], t: MarkerTokens, tokenizer: Tokenizer): string {
  const markers = tokenMarkers(t);
  const bin = new Map(t.ids.map((id, i) => [id, i]));
  let out = '';
  let run: number[] = [];
  const flush = () => {
    if (run.length > 0) out += tokenizer.decode(run, { skipSpecial: true });
    run = [];
  };
  for (const id of ids) {
    const b = bin.get(id);
    if (b === undefined) run.push(id);
    else {
      flush();
      out += markers[b];
    }
  }
  flush();
  return out;
}

/** Splits text into plain pieces and markers: the encoder tokenizes the pieces and maps the markers. */
export function splitMarkers(text: string): { text: string; marker: boolean }[] {
  const out: { text: string; marker: boolean }[] = [];
  let at = 0;
  for (const m of text.matchAll(MARKER)) {
    if (m.index! > at) out.push({ text: text.slice(at, m.index), marker: false });
    out.push({ text: m[0], marker: true });
    at = m.index! + m[0].length;
  }
  if (at < text.length) out.push({ text: text.slice(at), marker: false });
  return out;
}

/** Removes markers (the text whose token use decides which tokens are least used). */
export const stripMarkers = (text: string) => text.replace(MARKER, ' ');

export function saveActionTokens(dir: string, t: MarkerTokens): void {
  const body = isDigitTokens(t) ? { schema: 'vlm2vla.action_tokens/1', ...t } : { schema: 'vlm2vla.action_tokens/1', bins: BINS, ...t };
  writeFileAtomic(join(dir, ACTION_TOKENS_FILE), `${JSON.stringify(body, null, 2)}\n`);
}

export function loadActionTokens(dir: string): MarkerTokens | null {
  const file = join(dir, ACTION_TOKENS_FILE);
  if (!existsSync(file)) return null;
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError('E_ACTION_TOKENS', `${file} is not valid JSON: ${(cause as Error).message}`, {
      file,
      fix: 'restore it from the training run',
    });
  }
  const bad = (field: string, why: string): never => {
    throw new FormatError('E_ACTION_TOKENS', `${file}: ${field} ${why}`, { file, field, fix: 'restore it from the training run' });
  };
  const ids = j.ids;
  if (j.kind === 'digits') {
    if (
      !Array.isArray(ids) ||
      ids.length !== DIGIT_MARKERS.length ||
      !ids.every((v) => Number.isInteger(v) && v >= 0) ||
      new Set(ids).size !== DIGIT_MARKERS.length
    )
      bad('ids', `must list ${DIGIT_MARKERS.length} distinct token ids (one per digit)`);
    return { kind: 'digits', ids: ids as number[] };
  }
  if (j.kind !== undefined) bad('kind', 'must be "digits" or absent (256 action bins)');
  if (!Array.isArray(ids) || ids.length !== BINS || !ids.every((v) => Number.isInteger(v) && v >= 0) || new Set(ids).size !== BINS)
    bad('ids', `must list ${BINS} distinct token ids`);
  const triple = (v: unknown, f: string) =>
    Array.isArray(v) && v.length === 3 && v.every((x) => Number.isFinite(x))
      ? (v as [number, number, number])
      : bad(f, 'must be three finite numbers');
  const low = triple(j.low, 'low');
  const high = triple(j.high, 'high');
  for (let a = 0; a < 3; a++) if (!(high[a]! > low[a]!)) bad('high', `axis ${a}: high must exceed low`);
  return { ids: ids as number[], low, high };
}
