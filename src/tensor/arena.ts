// A pool of Float32Array buffers by exact length: fresh large allocations cost page faults on these
// machines, so activations released at the end of a step are reused by the next one.
// Ownership: a buffer from `take` belongs to its taker until it calls `give`; never use it after.
export class Arena {
  readonly #free = new Map<number, Float32Array[]>();
  readonly #scopes: Float32Array[][] = [];
  #held = 0;
  allocations = 0;
  reuses = 0;

  /** A zero-filled buffer of length n. */
  take(n: number): Float32Array {
    const list = this.#free.get(n);
    let buf = list?.pop();
    if (buf) {
      this.#held -= n;
      this.reuses++;
      buf.fill(0);
    } else {
      this.allocations++;
      buf = new Float32Array(n);
    }
    this.#scopes[this.#scopes.length - 1]?.push(buf);
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
    let list = this.#free.get(buf.length);
    if (!list) this.#free.set(buf.length, (list = []));
    list.push(buf);
    this.#held += buf.length;
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
