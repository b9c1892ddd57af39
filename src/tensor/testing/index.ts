// Test helpers for kernels: seeded random buffers, closeness with the worst index in the message,
// and central finite differences in float64.
import assert from 'node:assert/strict';
import { Rng } from '../../util/index.ts';

export function randn(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

export function randn64(rng: Rng, n: number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** Fails unless |a - e| <= atol + rtol·|e| everywhere; reports the worst element. NaN must match NaN. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { atol: number; rtol: number }, label = ''): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} vs ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${tol.atol}, rtol ${tol.rtol})`);
  }
}

/** Central differences of a scalar function f of several float64 inputs, perturbing in place. */
export function finiteDifferences(f: () => number, inputs: Float64Array[], h = 1e-5): Float64Array[] {
  return inputs.map((x) => {
    const g = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i]!;
      x[i] = keep + h;
      const up = f();
      x[i] = keep - h;
      const down = f();
      x[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  });
}

/** The reference kernels are plain JavaScript over indexable arrays, so they run in float64 when
 *  given Float64Array buffers; this cast says so where the contract types Float32Array. */
export function asF32(x: Float64Array): Float32Array {
  return x as unknown as Float32Array;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
