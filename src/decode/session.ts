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

const digest = (p: Float32Array) => createHash('sha1').update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength)).digest('hex');

export class DecodeSession {
  #cache: KvCache | null = null;
  /** Ids whose keys and values are in the cache, and the digest of each image among them. */
  #ids: number[] = [];
  #imageDigests: string[] = [];

  constructor(readonly model: Gemma3Model, readonly capacity = model.text.maxPositionEmbeddings) {}

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

  generate(req: SessionRequest): SessionGeneration {
    const model = this.model;
    const text = model.text;
    const sampling = req.sampling ?? GREEDY;
    checkSampling(sampling);
    if (!(Number.isInteger(req.maxNewTokens) && req.maxNewTokens >= 1)) throw new UsageError(`maxNewTokens must be a positive integer, got ${req.maxNewTokens}`);
    if (req.ids.length === 0) throw new UsageError('a prompt needs at least one token (e.g. <bos>)');
    if (req.ids.length + req.maxNewTokens > this.capacity) throw new UsageError(`prompt (${req.ids.length}) + maxNewTokens (${req.maxNewTokens}) exceeds the session's ${this.capacity} positions`);
    const imageToken = model.cfg.modelType === 'gemma3' ? model.cfg.imageTokenIndex : -1;
    const runs = imageRuns(req.ids, imageToken);
    if (runs.length !== req.images.length) throw new UsageError(`the prompt has ${runs.length} image(s) but ${req.images.length} pixel block(s) were given`);
    const digests = req.images.map(digest);
    this.#cache ??= new KvCache(text, 1, this.capacity);
    const cache = this.#cache;
    const reused = this.reusable(req.ids, digests);
    cache.length = reused;
    const suffix = Int32Array.from(req.ids.slice(reused));
    const firstNewImage = runs.findIndex(([start]) => start >= reused);
    const newImages = firstNewImage < 0 ? [] : req.images.slice(firstNewImage);
    let pixels: Float32Array | null = null;
    if (newImages.length > 0) {
      pixels = new Float32Array(newImages.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of newImages) (pixels.set(p, at), (at += p.length));
    }
    const V = text.vocabSize;
    const logits = new Float32Array(V);
    // Until the prefill succeeds the cache holds only the reused prefix.
    this.#ids = req.ids.slice(0, reused);
    this.#imageDigests = digests.slice(0, runs.filter(([, end]) => end <= reused).length);
    noGrad(() => arena.scoped(() => {
      const l = model.forward({ ids: suffix, batch: 1, length: suffix.length, pixels, rows: Int32Array.of(suffix.length - 1) }, cache);
      logits.set(l.data);
    }));
    this.#ids = [...req.ids];
    this.#imageDigests = digests;
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
      noGrad(() => arena.scoped(() => {
        const l = model.forward({ ids: step, batch: 1, length: 1 }, cache);
        logits.set(l.data);
      }));
      this.#ids.push(id);
    }
    return { tokens, finishReason, promptTokens: req.ids.length, reusedTokens: reused };
  }
}
