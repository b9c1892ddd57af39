// Dataset statistics per feature dimension (mean, std, min, max, q01, q99), computed in one
// streaming pass. Quantiles come from a seeded reservoir sample of at most `reservoir` values per
// dimension (exact below that size), so memory stays bounded for any dataset.
import { Rng } from '../util/index.ts';

export interface FeatureStats {
  count: number;
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
  q01: number[];
  q99: number[];
}

export class StatsAccumulator {
  #n = 0;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #samples: number[][];
  readonly #rng: Rng;

  constructor(
    readonly dims: number,
    readonly reservoir = 100_000,
    seed = 0,
  ) {
    this.#mean = new Float64Array(dims);
    this.#m2 = new Float64Array(dims);
    this.#min = new Float64Array(dims).fill(Infinity);
    this.#max = new Float64Array(dims).fill(-Infinity);
    this.#samples = Array.from({ length: dims }, () => []);
    this.#rng = new Rng(seed);
  }

  /** Adds one vector (Welford's update; reservoir sampling for quantiles). */
  add(v: ArrayLike<number>): void {
    this.#n++;
    const replace = this.#n > this.reservoir ? this.#rng.int(0, this.#n - 1) : -1;
    for (let d = 0; d < this.dims; d++) {
      const x = v[d]!;
      const delta = x - this.#mean[d]!;
      this.#mean[d]! += delta / this.#n;
      this.#m2[d]! += delta * (x - this.#mean[d]!);
      if (x < this.#min[d]!) this.#min[d] = x;
      if (x > this.#max[d]!) this.#max[d] = x;
      if (replace < 0) this.#samples[d]!.push(x);
      else if (replace < this.reservoir) this.#samples[d]![replace] = x;
    }
  }

  result(): FeatureStats {
    const q = (p: number) =>
      this.#samples.map((s) => {
        if (s.length === 0) return 0;
        const sorted = [...s].sort((a, b) => a - b);
        const pos = p * (sorted.length - 1);
        const lo = Math.floor(pos);
        const hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
      });
    const empty = this.#n === 0;
    return {
      count: this.#n,
      mean: Array.from(this.#mean),
      std: Array.from(this.#m2, (m) => (this.#n > 0 ? Math.sqrt(m / this.#n) : 0)),
      min: Array.from(this.#min, (v) => (empty ? 0 : v)),
      max: Array.from(this.#max, (v) => (empty ? 0 : v)),
      q01: q(0.01),
      q99: q(0.99),
    };
  }
}
