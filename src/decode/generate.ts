// Text generation: batched prefill of left-padded prompts into a KV cache, then one token per row
// per step. Greedy, temperature, top-k and top-p sampling (seeded), end-of-sequence ids, stop
// strings (checked on the decoded text, so a stop string split over tokens is found), and a
// logits-processor hook (the grammar-constrained decoder plugs in there) with an accept callback.
// generate() runs the steps in one synchronous call; generateYielding() runs the same steps and gives
// the event loop a turn every few tokens, so a server answers pings and reads requests meanwhile.
import { UsageError } from '../errors/index.ts';
import { arena, noGrad } from '../tensor/index.ts';
import { KvCache } from '../models/gemma3/model.ts';
import type { Gemma3Model } from '../models/gemma3/model.ts';
import { Rng } from '../util/index.ts';
import { GREEDY, checkSampling, sampleToken } from './sampling.ts';
import type { SamplingConfig } from './sampling.ts';

export interface GenerateRequest {
  /** Prompt token ids (image placeholders already expanded to image tokens). */
  ids: ArrayLike<number>;
  /** Pixels of this prompt's images, in order ([n, C, S, S], values in [-1, 1]). */
  pixels?: Float32Array | null;
}

export interface GenerateOptions {
  maxNewTokens: number;
  sampling?: SamplingConfig;
  seed?: number;
  /** Ids that end a row (default: the config's eos_token_id). The id is not part of the output. */
  eosIds?: readonly number[];
  /** Stop strings; need `detokenize`. The output text is cut before the first one. */
  stop?: readonly string[];
  detokenize?: (ids: readonly number[]) => string;
  /** Edits row `row`'s logits in place before sampling (e.g. sets disallowed tokens to -Infinity). */
  logitsProcessor?: (row: number, logits: Float32Array, generated: readonly number[]) => void;
  /** Called with each token a row accepts (before eos/stop checks). */
  onToken?: (row: number, id: number) => void;
}

export interface Generation {
  tokens: number[];
  /** The decoded text (cut at a stop string) when `detokenize` is given. */
  text: string | null;
  finishReason: 'eos' | 'stop' | 'length';
  promptTokens: number;
}

/** When generateYielding() gives the event loop a turn: after `tokens` decoding steps, or once `ms`
 *  passed since the last turn, whichever comes first; it stops with `signal`'s reason once aborted. */
export interface YieldOptions {
  /** Decoding steps between turns (default 8). */
  tokens?: number;
  /** Milliseconds between turns at most, as far as one step allows (default 50). */
  ms?: number;
  /** Checked at each turn: an aborted generation throws the signal's reason (its client left). */
  signal?: AbortSignal;
}

export function generate(model: Gemma3Model, requests: readonly GenerateRequest[], options: GenerateOptions): Generation[] {
  const run = generationSteps(model, requests, options);
  for (;;) {
    const next = run.next();
    if (next.done) return next.value;
  }
}

/** generate(), with a turn of the event loop (setImmediate) between decoding steps as `every` says.
 *  The steps, and so the output, are generate()'s: only the time between them changes. The prefill
 *  is one step. */
export async function generateYielding(
  model: Gemma3Model,
  requests: readonly GenerateRequest[],
  options: GenerateOptions,
  every: YieldOptions = {},
): Promise<Generation[]> {
  const tokens = every.tokens ?? 8;
  const ms = every.ms ?? 50;
  if (!(Number.isInteger(tokens) && tokens >= 1) || !(ms >= 0))
    throw new UsageError(`yield every ${tokens} tokens or ${ms} ms: give a positive whole number of tokens and a non-negative time`);
  const run = generationSteps(model, requests, options);
  let steps = 0;
  let since = performance.now();
  for (;;) {
    const next = run.next();
    if (next.done) return next.value;
    if (++steps < tokens && performance.now() - since < ms) continue;
    await new Promise((resolve) => setImmediate(resolve));
    every.signal?.throwIfAborted();
    steps = 0;
    since = performance.now();
  }
}

/** The generation loop; it yields after each decoding step (one token per unfinished row) and
 *  returns the generations. */
function* generationSteps(
  model: Gemma3Model,
  requests: readonly GenerateRequest[],
  options: GenerateOptions,
): Generator<void, Generation[]> {
  const sampling = options.sampling ?? GREEDY;
  checkSampling(sampling);
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 1))
    throw new UsageError(`maxNewTokens must be a positive integer, got ${options.maxNewTokens}`);
  if (requests.length === 0) return [];
  if ((options.stop?.length ?? 0) > 0 && !options.detokenize) throw new UsageError('stop strings need a detokenize function');
  const text = model.text;
  const eos = new Set(options.eosIds ?? (Array.isArray(text.eosTokenId) ? text.eosTokenId : [text.eosTokenId]));
  const B = requests.length;
  const lengths = requests.map((r) => r.ids.length);
  if (lengths.some((n) => n === 0)) throw new UsageError('every prompt needs at least one token (e.g. <bos>)');
  const T = Math.max(...lengths);
  const capacity = T + options.maxNewTokens;
  if (capacity > text.maxPositionEmbeddings)
    throw new UsageError(
      `prompt (${T}) + maxNewTokens (${options.maxNewTokens}) exceeds the model's ${text.maxPositionEmbeddings} positions`,
    );
  const pad = lengths.map((n) => T - n);
  const ids = new Int32Array(B * T).fill(text.padTokenId);
  const positions = new Int32Array(B * T);
  requests.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) ids[b * T + pad[b]! + t] = r.ids[t]!;
    for (let t = 0; t < T; t++) positions[b * T + t] = Math.max(0, t - pad[b]!);
  });
  const pixelParts = requests.map((r) => r.pixels).filter((p): p is Float32Array => !!p && p.length > 0);
  let pixels: Float32Array | null = null;
  if (pixelParts.length > 0) {
    pixels = new Float32Array(pixelParts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of pixelParts) (pixels.set(p, at), (at += p.length));
  }
  const kvStart = Int32Array.from(pad);
  const cache = new KvCache(text, B, capacity);
  const rng = new Rng(options.seed ?? 0);
  const V = text.vocabSize;
  const out: Generation[] = requests.map((r) => ({
    tokens: [],
    text: options.detokenize ? '' : null,
    finishReason: 'length',
    promptTokens: r.ids.length,
  }));
  const done = new Array<boolean>(B).fill(false);
  const stops = options.stop ?? [];
  const longestStop = Math.max(0, ...stops.map((s) => s.length));
  const logits = new Float32Array(B * V);
  noGrad(() =>
    arena.scoped(() => {
      const l = model.forward(
        { ids, batch: B, length: T, positions, pixels, kvStart, rows: Int32Array.from({ length: B }, (_, b) => b * T + T - 1) },
        cache,
      );
      logits.set(l.data);
    }),
  );
  const stepIds = new Int32Array(B);
  const stepPos = new Int32Array(B);
  for (let step = 0; step < options.maxNewTokens; step++) {
    for (let b = 0; b < B; b++) {
      stepIds[b] = text.padTokenId;
      stepPos[b] = lengths[b]! + step;
      if (done[b]) continue;
      const row = logits.subarray(b * V, (b + 1) * V);
      options.logitsProcessor?.(b, row, out[b]!.tokens);
      const id = sampleToken(row, sampling, rng);
      if (id < 0) throw new UsageError(`row ${b}: every logit is -Infinity or NaN; a logits processor allowed no token`);
      options.onToken?.(b, id);
      if (eos.has(id)) {
        done[b] = true;
        out[b]!.finishReason = 'eos';
        continue;
      }
      out[b]!.tokens.push(id);
      stepIds[b] = id;
      if (options.detokenize) {
        const before = out[b]!.text!.length;
        const s = options.detokenize(out[b]!.tokens);
        out[b]!.text = s;
        if (stops.length > 0) {
          const from = Math.max(0, before - longestStop);
          let cut = -1;
          for (const stop of stops) {
            const at = s.indexOf(stop, from);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
          }
          if (cut >= 0) {
            out[b]!.text = s.slice(0, cut);
            out[b]!.finishReason = 'stop';
            done[b] = true;
          }
        }
      }
    }
    if (done.every(Boolean) || step === options.maxNewTokens - 1) break;
    noGrad(() =>
      arena.scoped(() => {
        const l = model.forward({ ids: stepIds, batch: B, length: 1, positions: stepPos, kvStart }, cache);
        logits.set(l.data);
      }),
    );
    yield;
  }
  return out;
}
