// A pool of Float32Array buffers by size class: fresh large allocations cost page faults on these
// machines, so activations released at the end of a step are reused by the next one. Above 4096
// floats a request is served by a buffer of its size class (8 classes per power of two, so at most
// 12.5% spare) through a view of the requested length: training batches are padded to their longest
// conversation, so their lengths differ a little from step to step, and by exact length nothing was
// ever reused (every step faulted in fresh pages for its activations and gradients).
// Ownership: a buffer from `take` belongs to its taker until it calls `give`; never use it after.
//
// The pool is bounded: batches of varying length (padded to their longest sequence) release buffers
// of ever new sizes, and an unbounded pool grew a pretraining run to the machine's 24 GB in ten
// minutes. Sizes are kept in least-recently-used order; when the pool holds more than its cap, the
// buffers of the sizes used longest ago are dropped (to the garbage collector) first.
import { totalmem } from 'node:os';

/** Default cap: an eighth of the machine's memory, at most 4 GiB (VLM2VLA_ARENA_MB overrides). */
function defaultCapFloats(): number {
  const env = process.env.VLM2VLA_ARENA_MB;
  const mb =
    env !== undefined && env !== '' && Number.isFinite(Number(env)) && Number(env) >= 0
      ? Number(env)
      : Math.min(4096, totalmem() / 8 / 2 ** 20);
  return Math.floor((mb * 2 ** 20) / 4);
}

const EXACT_UP_TO = 4096;

/** The length of the buffer that serves a request of n floats: n itself up to 4096, else n rounded up
 *  to a multiple of an eighth of its power of two. */
export function sizeClass(n: number): number {
  if (n <= EXACT_UP_TO) return n;
  const step = 2 ** (31 - Math.clz32(n)) / 8;
  return Math.ceil(n / step) * step;
}

/** The largest size class that fits in a buffer of n floats. */
function classBelow(n: number): number {
  if (n <= EXACT_UP_TO) return n;
  const step = 2 ** (31 - Math.clz32(n)) / 8;
  return Math.floor(n / step) * step;
}

export class Arena {
  /** Free buffers by size class; Map order is recency (least recently used class first). */
  readonly #free = new Map<number, Float32Array[]>();
  /** Backing stores this arena allocated (their views may be shorter than the store). */
  readonly #owned = new WeakSet<ArrayBufferLike>();
  readonly #scopes: Float32Array[][] = [];
  #held = 0;
  allocations = 0;
  reuses = 0;
  evictions = 0;
  /** Most floats held for reuse. */
  capFloats: number;

  constructor(capFloats = defaultCapFloats()) {
    this.capFloats = capFloats;
  }

  /** A zero-filled buffer of length n. `scoped: false` keeps it out of the enclosing `scoped` call
   *  (for buffers whose owner gives them back itself). */
  take(n: number, scoped = true): Float32Array {
    const c = sizeClass(n);
    const list = this.#free.get(c);
    let store = list?.pop();
    let buf: Float32Array;
    if (store) {
      this.#held -= c;
      this.reuses++;
      buf = store.length === n ? store : new Float32Array(store.buffer, 0, n);
      buf.fill(0);
      this.#touch(c, list!);
    } else {
      this.allocations++;
      store = new Float32Array(c);
      this.#owned.add(store.buffer);
      buf = c === n ? store : new Float32Array(store.buffer, 0, n);
    }
    if (scoped) this.#scopes[this.#scopes.length - 1]?.push(buf);
    return buf;
  }

  /** Runs fn and then returns every buffer taken meanwhile to the pool (inference steps, where no
   *  tape releases activations). Results must be copied out inside fn. */
  scoped<T>(fn: () => T): T {
    const taken: Float32Array[] = [];
    this.#scopes.push(taken);
    try {
      return fn();
    } finally {
      this.#scopes.pop();
      for (const b of taken) this.give(b);
    }
  }

  /** Returns a buffer to the pool. Its whole backing store is reused, so a view that starts inside
   *  another buffer, or covers only part of a store the arena did not allocate, is not pooled (other
   *  views may still use the rest). */
  give(buf: Float32Array): void {
    if (buf.byteOffset !== 0) return;
    const capacity = buf.buffer.byteLength / 4;
    if (capacity !== buf.length && !this.#owned.has(buf.buffer)) return;
    const c = classBelow(capacity);
    const store = capacity === buf.length ? buf : new Float32Array(buf.buffer);
    const list = this.#free.get(c) ?? [];
    list.push(store);
    this.#touch(c, list);
    this.#held += c;
    if (this.#held > this.capFloats) this.#evict();
  }

  /** Marks size n as the most recently used. */
  #touch(n: number, list: Float32Array[]): void {
    this.#free.delete(n);
    this.#free.set(n, list);
  }

  /** Drops buffers of the least recently used sizes until the pool is back under its cap. */
  #evict(): void {
    for (const [n, list] of this.#free) {
      while (list.length > 0 && this.#held > this.capFloats) {
        list.pop();
        this.#held -= n;
        this.evictions++;
      }
      if (list.length === 0) this.#free.delete(n);
      if (this.#held <= this.capFloats) break;
    }
  }

  /** Floats held for reuse. */
  get pooled(): number {
    return this.#held;
  }

  clear(): void {
    this.#free.clear();
    this.#held = 0;
  }
}

export const arena = new Arena();
