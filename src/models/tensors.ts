// Weight conversions shared by the model files, adapters and exporters: a bf16 weight widened to an
// fp32 tensor, and stored floats (F32, BF16, F16 from safetensors) read into fp32 with every value
// checked finite.
import { Tensor, Bf16Tensor, getBackend } from '../tensor/index.ts';
import type { Weight } from '../tensor/index.ts';
import type { AnyTypedArray, Dtype } from '../formats/index.ts';

/** The weight as an fp32 tensor (the same tensor when it already is one). */
export function widen(w: Weight): Tensor {
  if (w instanceof Tensor) return w;
  const out = new Float32Array(w.size);
  getBackend().bf16ToF32(w.bits, out, w.size);
  return new Tensor(w.shape, out, { name: w.name });
}

/** The weight's bf16 bits (the same buffer when it already is bf16). */
export function narrow(w: Weight): Uint16Array {
  if (w instanceof Bf16Tensor) return w.bits;
  const bits = new Uint16Array(w.size);
  getBackend().f32ToBf16(w.data, bits, w.size);
  return bits;
}

/** fp32 values of a stored tensor; throws `bad(message)` for another dtype or a non-finite value. */
export function readFloats(raw: AnyTypedArray, dtype: Dtype, n: number, bad: (message: string) => never): Float32Array {
  const data = new Float32Array(n);
  if (dtype === 'F32') data.set(raw as Float32Array);
  else if (dtype === 'BF16') getBackend().bf16ToF32(raw as Uint16Array, data, n);
  else if (dtype === 'F16') getBackend().f16ToF32(raw as Uint16Array, data, n);
  else bad(`is ${dtype}; weights must be F32, BF16 or F16`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(data[i]!)) bad(`holds a non-finite value at index ${i}`);
  return data;
}
