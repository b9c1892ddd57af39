// A pool of Float32Array buffers by exact length: fresh large allocations cost page faults on these
// machines, so activations released at the end of a step are reused by the next one.
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
  const mb = env !== undefined && env !== '' && Number.isFinite(Number(env)) && Number(env) >= 0 ? Number(env) : Math.min(4096, totalmem() / 8 / 2 ** 20);
  return Math.floor((mb * 2 ** 20) / 4);
}

export class Arena {
  /** Free buffers by length; Map order is recency (least recently used size first). */
  readonly #free = new Map<number, Float32Array[]>();
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
    const list = this.#free.get(n);
    let buf = list?.pop();
    if (buf) {
      this.#held -= n;
      this.reuses++;
      buf.fill(0);
      this.#touch(n, list!);
    } else {
      this.allocations++;
      buf = new Float32Array(n);
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

  give(buf: Float32Array): void {
    const n = buf.length;
    const list = this.#free.get(n) ?? [];
    list.push(buf);
    this.#touch(n, list);
    this.#held += n;
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
