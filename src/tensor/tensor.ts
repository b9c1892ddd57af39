// Tensor: a shape and a contiguous row-major Float32Array (f32 compute), an optional gradient, and
// whether it is a parameter. Weights may also be held in bf16 (`bf16`), widened inside GEMM.
import { ShapeError } from '../errors/index.ts';

export class Tensor {
  grad: Float32Array | null = null;
  /** Parameters (trainable leaves) and values computed from them. */
  requiresGrad: boolean;
  /** Activations from the arena are returned to it when the tape is cleared. */
  fromArena = false;

  constructor(
    readonly shape: readonly number[],
    readonly data: Float32Array,
    options: { requiresGrad?: boolean; name?: string } = {},
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length)
      throw new ShapeError(`shape [${shape.join(', ')}] holds ${n} values, the buffer ${data.length}`, { field: options.name ?? 'tensor' });
    this.requiresGrad = options.requiresGrad ?? false;
    this.name = options.name;
  }

  name: string | undefined;

  get size(): number {
    return this.data.length;
  }

  static zeros(shape: readonly number[], options: { requiresGrad?: boolean; name?: string } = {}): Tensor {
    return new Tensor(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)), options);
  }

  static from(shape: readonly number[], values: ArrayLike<number>, options: { requiresGrad?: boolean; name?: string } = {}): Tensor {
    return new Tensor(shape, Float32Array.from(values), options);
  }

  /** The gradient buffer, created (zeroed) on first use. */
  ensureGrad(): Float32Array {
    this.grad ??= new Float32Array(this.data.length);
    return this.grad;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  item(): number {
    if (this.data.length !== 1) throw new ShapeError(`item() of a tensor with ${this.data.length} values`);
    return this.data[0]!;
  }
}

export function assertShape(t: { readonly shape: readonly number[] }, expected: readonly (number | null)[], what: string): void {
  if (t.shape.length !== expected.length || expected.some((d, i) => d !== null && d !== t.shape[i])) {
    throw new ShapeError(`${what}: shape [${t.shape.join(', ')}], expected [${expected.map((d) => d ?? '*').join(', ')}]`, { field: what });
  }
}

/** A frozen weight kept in bf16 in memory (real checkpoints): GEMM widens it inside the kernel and
 *  embedding rows are widened on lookup, so a model never holds an fp32 copy of it. No gradient. */
export class Bf16Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly bits: Uint16Array,
    readonly name?: string,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== bits.length)
      throw new ShapeError(`shape [${shape.join(', ')}] holds ${n} values, the buffer ${bits.length}`, { field: name ?? 'tensor' });
  }

  get size(): number {
    return this.bits.length;
  }
}

/** A weight a layer reads: trainable or frozen fp32 (Tensor), or frozen bf16. */
export type Weight = Tensor | Bf16Tensor;
