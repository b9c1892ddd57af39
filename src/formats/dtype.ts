// Storage dtypes of model files and their sizes in bytes.
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

export type TypedArrayOf<D extends Dtype> = D extends 'F64'
  ? Float64Array
  : D extends 'F32'
    ? Float32Array
    : D extends 'F16' | 'BF16'
      ? Uint16Array
      : D extends 'I64'
        ? BigInt64Array
        : D extends 'I32'
          ? Int32Array
          : D extends 'I16'
            ? Int16Array
            : D extends 'I8'
              ? Int8Array
              : Uint8Array;

export type AnyTypedArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A typed view of little-endian bytes (copied when the offset is not aligned for the type). */
export function viewAs(dtype: Dtype, bytes: Uint8Array): AnyTypedArray {
  const size = DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  const n = aligned.byteLength / size;
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, byteOffset, n);
    case 'F32':
      return new Float32Array(buffer, byteOffset, n);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'I64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'I32':
      return new Int32Array(buffer, byteOffset, n);
    case 'I16':
      return new Int16Array(buffer, byteOffset, n);
    case 'I8':
      return new Int8Array(buffer, byteOffset, n);
    default:
      return new Uint8Array(buffer, byteOffset, n);
  }
}
