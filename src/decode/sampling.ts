// Token samplers over a logits row: greedy, temperature, top-k and top-p (nucleus), seeded; and
// stop-string detection that tolerates a stop string split across tokens. V vocabulary size.
import { UsageError } from '../errors/index.ts';
import type { Rng } from '../util/index.ts';

export interface SamplingConfig {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the smallest set of tokens whose probability reaches topP (1 = off). */
  topP: number;
  /** Keep the topK most likely tokens (0 = off). */
  topK: number;
}

export const GREEDY: SamplingConfig = { temperature: 0, topP: 1, topK: 0 };

export function checkSampling(cfg: SamplingConfig): void {
  if (!(Number.isFinite(cfg.temperature) && cfg.temperature >= 0)) throw new UsageError(`temperature must be >= 0, got ${cfg.temperature}`);
  if (!(cfg.topP > 0 && cfg.topP <= 1)) throw new UsageError(`top-p must be in (0, 1], got ${cfg.topP}`);
  if (!(Number.isInteger(cfg.topK) && cfg.topK >= 0)) throw new UsageError(`top-k must be a non-negative integer, got ${cfg.topK}`);
}

/** Index of the largest finite logit (lowest index on ties); -1 if none is finite. */
export function argmax(logits: Float32Array): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** Picks the next token from logits [V]. Masked entries are -Infinity. Deterministic for an Rng state. */
export function sampleToken(logits: Float32Array, cfg: SamplingConfig, rng: Rng): number {
  if (cfg.temperature === 0) {
    const id = argmax(logits);
    if (id < 0) throw new UsageError('every logit is -Infinity or NaN; nothing can be sampled');
    return id;
  }
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i]! > -Infinity) ids.push(i);
  if (ids.length === 0) throw new UsageError('every logit is -Infinity or NaN; nothing can be sampled');
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  const kept = cfg.topK > 0 ? ids.slice(0, cfg.topK) : ids;
  const max = logits[kept[0]!]!;
  const probs = kept.map((i) => Math.exp((logits[i]! - max) / cfg.temperature));
  const total = probs.reduce((a, b) => a + b, 0);
  let n = kept.length;
  if (cfg.topP < 1) {
    let acc = 0;
    for (let j = 0; j < kept.length; j++) {
      acc += probs[j]! / total;
      if (acc >= cfg.topP) {
        n = j + 1;
        break;
      }
    }
  }
  let mass = 0;
  for (let j = 0; j < n; j++) mass += probs[j]!;
  let u = rng.next() * mass;
  for (let j = 0; j < n; j++) {
    u -= probs[j]!;
    if (u < 0) return kept[j]!;
  }
  return kept[n - 1]!;
}

/** Watches generated text for stop strings; reports where the text should be cut. */
export class StopMatcher {
  readonly #stops: readonly string[];
  #text = '';

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** Appends a decoded piece; returns the text before the first stop string once one appears. */
  push(piece: string): string | null {
    this.#text += piece;
    let cut = -1;
    for (const s of this.#stops) {
      const at = this.#text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    return cut >= 0 ? this.#text.slice(0, cut) : null;
  }

  /** Text that is certainly not the beginning of a stop string (safe to stream out). */
  get safeText(): string {
    let hold = 0;
    for (const s of this.#stops) {
      for (let k = Math.min(s.length - 1, this.#text.length); k > hold; k--) {
        if (this.#text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return this.#text.slice(0, this.#text.length - hold);
  }
}
