// Elementwise and shape ops: add, scale, reshape (a view), mean of squares error, sum.
import { ShapeError } from '../../errors/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';
import { Tensor } from '../tensor.ts';
import { getBackend } from '../backends/index.ts';

/** Below this many elements a plain loop beats a kernel call (decode steps add vectors of ~1k). */
const BACKEND_MIN = 16_384;

/** out[0, n) = src · factor. Not Float32Array.from(src, mapFn): that goes through the iterator
 *  protocol and once made LoRA's backward pass 7× slower. */
function scaleInto(out: Float32Array, src: Float32Array, factor: number, n: number): void {
  if (n < BACKEND_MIN) for (let i = 0; i < n; i++) out[i] = src[i]! * factor;
  else {
    out.set(src.subarray(0, n));
    getBackend().scale(out, factor, n);
  }
}

registerOp<null>('add', {
  forward([a, b]) {
    if (a!.size !== b!.size) throw new ShapeError(`add: [${a!.shape.join(', ')}] + [${b!.shape.join(', ')}]`);
    const out = activation(a!.shape);
    const n = out.size;
    if (n < BACKEND_MIN) for (let i = 0; i < n; i++) out.data[i] = a!.data[i]! + b!.data[i]!;
    else {
      // out = a, then out += 1·b on the backend (residual and LoRA sums of a training step are large).
      out.data.set(a!.data.subarray(0, n));
      getBackend().axpy(1, b!.data, out.data, n);
    }
    return { output: out };
  },
  backward(_inputs, _out, g) {
    return [g, g];
  },
});

registerOp<{ factor: number }>('scale', {
  forward([a], { factor }) {
    const out = activation(a!.shape);
    scaleInto(out.data, a!.data, factor, out.size);
    return { output: out };
  },
  backward(_i, _o, g, _s, { factor }) {
    const out = gradBuffer(g.length);
    scaleInto(out, g, factor, g.length);
    return [out];
  },
});

registerOp<{ shape: number[] }>('reshape', {
  forward([a], { shape }) {
    return { output: new Tensor(shape, a!.data) };
  },
  backward(_i, _o, g) {
    return [g];
  },
});

registerOp<null>('mse', {
  forward([a, b]) {
    if (a!.size !== b!.size) throw new ShapeError(`mse: [${a!.shape.join(', ')}] vs [${b!.shape.join(', ')}]`);
    let s = 0;
    for (let i = 0; i < a!.size; i++) s += (a!.data[i]! - b!.data[i]!) ** 2;
    return { output: Tensor.from([1], [s / a!.size]) };
  },
  backward([a, b], _o, g) {
    const k = (2 * g[0]!) / a!.size;
    const ga = gradBuffer(a!.size);
    for (let i = 0; i < a!.size; i++) ga[i] = k * (a!.data[i]! - b!.data[i]!);
    return [ga, b!.requiresGrad ? ga.map((x) => -x) : null];
  },
});

registerOp<null>('sum', {
  forward([a]) {
    let s = 0;
    for (let i = 0; i < a!.size; i++) s += a!.data[i]!;
    return { output: Tensor.from([1], [s]) };
  },
  backward([a], _o, g) {
    return [gradBuffer(a!.size).fill(g[0]!)];
  },
});

export const add = (a: Tensor, b: Tensor) => run('add', [a, b], null);
export const scale = (a: Tensor, factor: number) => run('scale', [a], { factor });
export const reshape = (a: Tensor, shape: number[]) => {
  if (shape.reduce((x, y) => x * y, 1) !== a.size) throw new ShapeError(`reshape: [${a.shape.join(', ')}] → [${shape.join(', ')}]`);
  return run('reshape', [a], { shape });
};
export const mse = (a: Tensor, b: Tensor) => run('mse', [a, b], null);
export const sum = (a: Tensor) => run('sum', [a], null);
