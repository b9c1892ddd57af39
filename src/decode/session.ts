// A single-row decoding session that keeps its KV cache between generations and reuses the longest
// common prefix of the next prompt (DESIGN.md §3: stage prompts of one cycle share the frame and the
// task): only the new suffix is prefilled. Image tokens carry no identity of their image, so a prefix
// is shared only up to the first image whose pixels differ, and never splits an image's token run.
// T tokens, V vocabulary.
import { createHash } from 'node:crypto';
import { UsageError } from '../errors/index.ts';
import { arena, noGrad } from '../tensor/index.ts';
import { KvCache } from '../models/gemma3/model.ts';
import type { Gemma3Model } from '../models/gemma3/model.ts';
import { Rng } from '../util/index.ts';
import { GREEDY, checkSampling, sampleToken } from './sampling.ts';
import type { SamplingConfig } from './sampling.ts';

export interface SessionRequest {
  /** Prompt token ids (image placeholders expanded). */
  ids: readonly number[];
  /** One [C, S, S] pixel block per image run in `ids`, in order ([-1, 1]). */
  images: readonly Float32Array[];
  maxNewTokens: number;
  sampling?: SamplingConfig;
  seed?: number;
  eosIds: readonly number[];
  /** Edits the logits row in place before sampling (a grammar mask). */
  logitsProcessor?: (logits: Float32Array, generated: readonly number[]) => void;
  /** Called with each chosen token (before the eos check). */
  onToken?: (id: number) => void;
}

export interface SessionGeneration {
  tokens: number[];
  finishReason: 'eos' | 'length';
  promptTokens: number;
  /** Prompt tokens taken from the cache instead of being prefilled. */
  reusedTokens: number;
}

/** The image run (start, end) of each image in `ids`. */
function imageRuns(ids: readonly number[], imageToken: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let t = 0; t < ids.length; t++) {
    if (ids[t] !== imageToken) continue;
    const start = t;
    while (t < ids.length && ids[t] === imageToken) t++;
    runs.push([start, t]);
  }
  return runs;
}

const digest = (p: Float32Array) =>
  createHash('sha1')
    .update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
    .digest('hex');

export class DecodeSession {
  #cache: KvCache | null = null;
  /** Ids whose keys and values are in the cache, and the digest of each image among them. */
  #ids: number[] = [];
  #imageDigests: string[] = [];

  constructor(
    readonly model: Gemma3Model,
    readonly capacity = model.text.maxPositionEmbeddings,
  ) {}

  /** Forgets the cache (the next generation prefills everything). */
  clear(): void {
    this.#ids = [];
    this.#imageDigests = [];
    if (this.#cache) this.#cache.length = 0;
  }

  /** How many leading ids of `ids` (with these images) the cache already holds. */
  reusable(ids: readonly number[], digests: readonly string[]): number {
    const imageToken = this.model.cfg.modelType === 'gemma3' ? this.model.cfg.imageTokenIndex : -1;
    let n = 0;
    const max = Math.min(ids.length - 1, this.#ids.length); // always prefill at least one token
    while (n < max && ids[n] === this.#ids[n]) n++;
    // Cut before the first image that differs, and never inside an image run.
    const runs = imageRuns(ids, imageToken);
    for (const [k, [start, end]] of runs.entries()) {
      if (start >= n) break;
      if (end > n || this.#imageDigests[k] !== digests[k]) {
        n = start;
        break;
      }
    }
    return n;
  }

  /** The logits [T, V] (row-major) of every position of `ids`, prefilled from an empty cache exactly as
   *  generate() prefills a prompt (generate keeps only the last row). The cache then holds `ids`, so
   *  the next generation reuses them. Tests compare it with the trainer's forward
   *  (src/policy/train-parity.test.ts). */
  prefillLogits(ids: readonly number[], images: readonly Float32Array[]): Float32Array {
    if (ids.length === 0) throw new UsageError('a prompt needs at least one token (e.g. <bos>)');
    if (ids.length > this.capacity) throw new UsageError(`${ids.length} tokens exceed the session's ${this.capacity} positions`);
    this.clear();
    return this.#prefill(ids, images, true).logits;
  }

  /** Prefills what the cache does not already hold of `ids` (with their images); returns the logits of
   *  the last position, or of every prefilled position with `allRows` ([T - reused, V]). */
  #prefill(
    ids: readonly number[],
    images: readonly Float32Array[],
    allRows: boolean,
  ): { logits: Float32Array; reused: number; cache: KvCache } {
    const model = this.model;
    const imageToken = model.cfg.modelType === 'gemma3' ? model.cfg.imageTokenIndex : -1;
    const runs = imageRuns(ids, imageToken);
    if (runs.length !== images.length)
      throw new UsageError(`the prompt has ${runs.length} image(s) but ${images.length} pixel block(s) were given`);
    const digests = images.map(digest);
    this.#cache ??= new KvCache(model.text, 1, this.capacity);
    const cache = this.#cache;
    const reused = this.reusable(ids, digests);
    cache.length = reused;
    const suffix = Int32Array.from(ids.slice(reused));
    const firstNewImage = runs.findIndex(([start]) => start >= reused);
    const newImages = firstNewImage < 0 ? [] : images.slice(firstNewImage);
    let pixels: Float32Array | null = null;
    if (newImages.length > 0) {
      pixels = new Float32Array(newImages.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of newImages) (pixels.set(p, at), (at += p.length));
    }
    const logits = new Float32Array((allRows ? suffix.length : 1) * model.text.vocabSize);
    // Until the prefill succeeds the cache holds only the reused prefix.
    this.#ids = ids.slice(0, reused);
    this.#imageDigests = digests.slice(0, runs.filter(([, end]) => end <= reused).length);
    noGrad(() =>
      arena.scoped(() => {
        const l = model.forward(
          { ids: suffix, batch: 1, length: suffix.length, pixels, rows: allRows ? null : Int32Array.of(suffix.length - 1) },
          cache,
        );
        logits.set(l.data);
      }),
    );
    this.#ids = [...ids];
    this.#imageDigests = digests;
    return { logits, reused, cache };
  }

  generate(req: SessionRequest): SessionGeneration {
    const model = this.model;
    const sampling = req.sampling ?? GREEDY;
    checkSampling(sampling);
    if (!(Number.isInteger(req.maxNewTokens) && req.maxNewTokens >= 1))
      throw new UsageError(`maxNewTokens must be a positive integer, got ${req.maxNewTokens}`);
    if (req.ids.length === 0) throw new UsageError('a prompt needs at least one token (e.g. <bos>)');
    if (req.ids.length + req.maxNewTokens > this.capacity)
      throw new UsageError(
        `prompt (${req.ids.length}) + maxNewTokens (${req.maxNewTokens}) exceeds the session's ${this.capacity} positions`,
      );
    const { logits, reused, cache } = this.#prefill(req.ids, req.images, false);
    const eos = new Set(req.eosIds);
    const rng = new Rng(req.seed ?? 0);
    const tokens: number[] = [];
    let finishReason: SessionGeneration['finishReason'] = 'length';
    const step = new Int32Array(1);
    for (let i = 0; i < req.maxNewTokens; i++) {
      req.logitsProcessor?.(logits, tokens);
      const id = sampleToken(logits, sampling, rng);
      req.onToken?.(id);
      if (eos.has(id)) {
        finishReason = 'eos';
        break;
      }
      tokens.push(id);
      if (i === req.maxNewTokens - 1) break;
      step[0] = id;
      noGrad(() =>
        arena.scoped(() => {
          const l = model.forward({ ids: step, batch: 1, length: 1 }, cache);
          logits.set(l.data);
        }),
      );
      this.#ids.push(id);
    }
    return { tokens, finishReason, promptTokens: req.ids.length, reusedTokens: reused };
  }
}
