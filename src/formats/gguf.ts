// GGUF v3 (llama.cpp's model file), written and read by our own code. Layout, little-endian:
//   "GGUF" magic | u32 version = 3 | u64 tensor_count | u64 kv_count
//   kv_count × { string key | u32 value_type | value }
//   tensor_count × { string name | u32 n_dims | u64 dims[n_dims] (dims[0] varies fastest) |
//                    u32 ggml_type | u64 offset (from the data section, a multiple of the alignment) }
//   padding to `general.alignment` (u32, default 32) | data section (each tensor aligned)
// string = u64 length + UTF-8 bytes. value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32,
// 7 bool, 8 string, 9 array (u32 element type, u64 count, elements), 10 u64, 11 i64, 12 f64.
// Tensor types written here: F32 (0), F16 (1), Q8_0 (8: blocks of 32 = f16 scale + 32 int8, scale =
// max|x| / 127, q = round(x / scale)), BF16 (30).
import { readFileSync } from 'node:fs';
import { FormatError } from '../errors/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import { f32ToF16Scalar as f32ToF16, f16ToF32Scalar as f16ToF32, f32ToBf16Scalar, bf16ToF32Scalar } from '../tensor/backends/ts/convert.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGML_TYPES = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPES;
const TYPE_BY_ID = new Map(Object.entries(GGML_TYPES).map(([k, v]) => [v as number, k as GgmlType]));

export type GgufValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: Exclude<GgufValue['type'], 'array'>; value: (number | bigint | boolean | string)[] };

const VTYPE: Record<string, number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};
const VNAME = new Map(Object.entries(VTYPE).map(([k, v]) => [v, k]));

export interface GgufTensor {
  name: string;
  type: GgmlType;
  /** PyTorch order (slowest first), e.g. [out, in]; stored reversed in the file. */
  shape: number[];
  /** Encoded bytes (use encodeTensorData to make them from fp32). */
  data: Uint8Array;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: (Omit<GgufTensor, 'data'> & { offset: number; byteLength: number })[];
  alignment: number;
  dataOffset: number;
}

/** Bytes of n values of a type (Q8_0 needs n to be a multiple of 32). */
export function tensorBytes(type: GgmlType, n: number): number {
  if (type === 'F32') return 4 * n;
  if (type === 'F16' || type === 'BF16') return 2 * n;
  if (n % 32 !== 0)
    throw new FormatError('E_GGUF', `Q8_0 needs a multiple of 32 values, got ${n}`, {
      fix: 'quantize tensors whose innermost size is a multiple of 32',
    });
  return (n / 32) * 34;
}

/** fp32 values → the stored bytes of a type. */
export function encodeTensorData(type: GgmlType, values: Float32Array): Uint8Array {
  const out = new Uint8Array(tensorBytes(type, values.length));
  const view = new DataView(out.buffer);
  if (type === 'F32') out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  else if (type === 'F16') values.forEach((v, i) => view.setUint16(2 * i, f32ToF16(v), true));
  else if (type === 'BF16') values.forEach((v, i) => view.setUint16(2 * i, f32ToBf16Scalar(v), true));
  else {
    for (let b = 0; b < values.length / 32; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b * 32 + i]!));
      const d = amax / 127;
      const dh = f32ToF16(d);
      view.setUint16(b * 34, dh, true);
      const inv = d > 0 ? 1 / d : 0;
      for (let i = 0; i < 32; i++) view.setInt8(b * 34 + 2 + i, Math.round(values[b * 32 + i]! * inv));
    }
  }
  return out;
}

/** Stored bytes → fp32 values. */
export function decodeTensorData(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (type === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  else if (type === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
  else if (type === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToF32Scalar(view.getUint16(2 * i, true));
  else {
    for (let b = 0; b < n / 32; b++) {
      const d = f16ToF32(view.getUint16(b * 34, true));
      for (let i = 0; i < 32; i++) out[b * 32 + i] = d * view.getInt8(b * 34 + 2 + i);
    }
  }
  return out;
}

class Writer {
  parts: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  num(bytes: number, set: (v: DataView) => void) {
    const b = new Uint8Array(bytes);
    set(new DataView(b.buffer));
    this.push(b);
  }
  u32 = (v: number) => this.num(4, (d) => d.setUint32(0, v, true));
  u64 = (v: number | bigint) => this.num(8, (d) => d.setBigUint64(0, BigInt(v), true));
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.push(b);
  }
  scalar(type: string, v: number | bigint | boolean | string) {
    switch (type) {
      case 'u8':
        return this.num(1, (d) => d.setUint8(0, v as number));
      case 'i8':
        return this.num(1, (d) => d.setInt8(0, v as number));
      case 'u16':
        return this.num(2, (d) => d.setUint16(0, v as number, true));
      case 'i16':
        return this.num(2, (d) => d.setInt16(0, v as number, true));
      case 'u32':
        return this.num(4, (d) => d.setUint32(0, v as number, true));
      case 'i32':
        return this.num(4, (d) => d.setInt32(0, v as number, true));
      case 'f32':
        return this.num(4, (d) => d.setFloat32(0, v as number, true));
      case 'f64':
        return this.num(8, (d) => d.setFloat64(0, v as number, true));
      case 'u64':
        return this.num(8, (d) => d.setBigUint64(0, BigInt(v as bigint), true));
      case 'i64':
        return this.num(8, (d) => d.setBigInt64(0, BigInt(v as bigint), true));
      case 'bool':
        return this.num(1, (d) => d.setUint8(0, v ? 1 : 0));
      default:
        return this.str(v as string);
    }
  }
  pad(alignment: number) {
    const n = (alignment - (this.size % alignment)) % alignment;
    if (n) this.push(new Uint8Array(n));
  }
}

export function encodeGguf(metadata: Map<string, GgufValue>, tensors: GgufTensor[]): Uint8Array {
  const alignment = (metadata.get('general.alignment')?.value as number | undefined) ?? 32;
  const w = new Writer();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, v] of metadata) {
    w.str(key);
    w.u32(VTYPE[v.type]!);
    if (v.type === 'array') {
      w.u32(VTYPE[v.itemType]!);
      w.u64(v.value.length);
      for (const item of v.value) w.scalar(v.itemType, item);
    } else w.scalar(v.type, v.value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== tensorBytes(t.type, n))
      throw new FormatError('E_GGUF', `tensor ${t.name}: ${t.data.length} bytes for ${n} ${t.type} values`, {
        field: t.name,
        fix: 'encode the data with encodeTensorData',
      });
    w.str(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(GGML_TYPES[t.type]);
    w.u64(offset);
    offsets.push(offset);
    offset += t.data.length;
    offset += (alignment - (offset % alignment)) % alignment;
  }
  w.pad(alignment);
  const dataStart = w.size;
  for (const [i, t] of tensors.entries()) {
    while (w.size - dataStart < offsets[i]!) w.push(new Uint8Array(offsets[i]! - (w.size - dataStart)));
    w.push(t.data);
  }
  const out = new Uint8Array(w.size);
  let at = 0;
  for (const p of w.parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function writeGguf(path: string, metadata: Map<string, GgufValue>, tensors: GgufTensor[]): void {
  writeFileAtomic(path, encodeGguf(metadata, tensors));
}

/** Limits checked before allocating. */
const MAX_STRING = 1 << 24;
const MAX_ARRAY = 1 << 26;
const MAX_COUNT = 1 << 20;
const MAX_DIMS = 8;

export function parseGguf(bytes: Uint8Array, file = '<buffer>'): GgufFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const fail = (field: string, message: string): never => {
    throw new FormatError('E_GGUF', `${file}: ${message} (at byte ${at})`, {
      file,
      field,
      fix: 'the file is not a GGUF v3 file or is corrupt',
    });
  };
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) fail(what, `the file ends inside ${what}`);
  };
  const u32 = (what: string) => (need(4, what), (at += 4), view.getUint32(at - 4, true));
  const u64 = (what: string) => {
    need(8, what);
    at += 8;
    const v = view.getBigUint64(at - 8, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(what, `${what} is ${v}, too large`);
    return Number(v);
  };
  const str = (what: string) => {
    const n = u64(`${what} length`);
    if (n > MAX_STRING) fail(what, `${what} declares ${n} bytes`);
    need(n, what);
    at += n;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at - n, at));
    } catch {
      return fail(what, `${what} is not UTF-8`);
    }
  };
  const scalar = (type: string, what: string): number | bigint | boolean | string => {
    switch (type) {
      case 'u8':
        return (need(1, what), view.getUint8(at++));
      case 'i8':
        return (need(1, what), view.getInt8(at++));
      case 'u16':
        return (need(2, what), (at += 2), view.getUint16(at - 2, true));
      case 'i16':
        return (need(2, what), (at += 2), view.getInt16(at - 2, true));
      case 'u32':
        return (need(4, what), (at += 4), view.getUint32(at - 4, true));
      case 'i32':
        return (need(4, what), (at += 4), view.getInt32(at - 4, true));
      case 'f32':
        return (need(4, what), (at += 4), view.getFloat32(at - 4, true));
      case 'f64':
        return (need(8, what), (at += 8), view.getFloat64(at - 8, true));
      case 'u64':
        return (need(8, what), (at += 8), view.getBigUint64(at - 8, true));
      case 'i64':
        return (need(8, what), (at += 8), view.getBigInt64(at - 8, true));
      case 'bool': {
        need(1, what);
        const b = view.getUint8(at++);
        if (b > 1) fail(what, `${what} is a bool of value ${b}`);
        return b === 1;
      }
      default:
        return str(what);
    }
  };
  if (bytes.length < 4 || u32('magic') !== GGUF_MAGIC) {
    at = 0;
    fail('magic', 'does not start with "GGUF"');
  }
  const version = u32('version');
  if (version !== 3) fail('version', `GGUF version ${version}; only version 3 is read`);
  const nTensors = u64('tensor_count');
  const nKv = u64('kv_count');
  if (nTensors > MAX_COUNT || nKv > MAX_COUNT) fail('counts', `declares ${nTensors} tensors and ${nKv} metadata entries`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str(`metadata key ${i}`);
    if (metadata.has(key)) fail(key, `metadata key ${key} appears twice`);
    const t = VNAME.get(u32(`type of ${key}`));
    if (!t) fail(key, `metadata ${key} has an unknown value type`);
    if (t === 'array') {
      const it = VNAME.get(u32(`item type of ${key}`));
      if (!it || it === 'array') fail(key, `array ${key} has an unsupported item type`);
      const n = u64(`length of ${key}`);
      if (n > MAX_ARRAY) fail(key, `array ${key} declares ${n} items`);
      const items: (number | bigint | boolean | string)[] = [];
      for (let j = 0; j < n; j++) items.push(scalar(it!, `${key}[${j}]`));
      metadata.set(key, { type: 'array', itemType: it as never, value: items });
    } else metadata.set(key, { type: t, value: scalar(t!, key) } as GgufValue);
  }
  const alignV = metadata.get('general.alignment');
  const alignment = alignV ? Number(alignV.value) : 32;
  if (!Number.isInteger(alignment) || alignment < 1 || alignment > 4096 || (alignment & (alignment - 1)) !== 0)
    fail('general.alignment', `alignment ${alignment} is not a power of two up to 4096`);
  const tensors: GgufFile['tensors'] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = str(`tensor name ${i}`);
    if (names.has(name)) fail(name, `tensor ${name} appears twice`);
    names.add(name);
    const nd = u32(`dims of ${name}`);
    if (nd < 1 || nd > MAX_DIMS) fail(name, `tensor ${name} has ${nd} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(u64(`dim ${d} of ${name}`));
    const typeId = u32(`type of ${name}`);
    const type = TYPE_BY_ID.get(typeId);
    if (!type) fail(name, `tensor ${name} has ggml type ${typeId}, which this reader does not support (F32, F16, BF16, Q8_0)`);
    const offset = u64(`offset of ${name}`);
    if (offset % alignment !== 0) fail(name, `tensor ${name} offset ${offset} is not aligned to ${alignment}`);
    let n = 1;
    for (const d of dims) {
      n *= d;
      if (!Number.isSafeInteger(n)) fail(name, `tensor ${name} has too many elements`);
    }
    let byteLength = 0;
    try {
      byteLength = tensorBytes(type!, n);
    } catch {
      fail(name, `tensor ${name} of type Q8_0 has ${n} values, not a multiple of 32`);
    }
    tensors.push({ name, type: type!, shape: dims.reverse(), offset, byteLength });
  }
  const dataOffset = at + ((alignment - (at % alignment)) % alignment);
  for (const t of tensors) {
    if (dataOffset + t.offset + t.byteLength > bytes.length) {
      at = dataOffset + t.offset;
      fail(t.name, `tensor ${t.name} runs past the end of the file (truncated?)`);
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i]!.offset < sorted[i - 1]!.offset + sorted[i - 1]!.byteLength)
      fail(sorted[i]!.name, `tensor ${sorted[i]!.name} overlaps ${sorted[i - 1]!.name}`);
  return { version, metadata, tensors, alignment, dataOffset };
}

export function readGguf(path: string): { file: GgufFile; bytes: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new FormatError('E_GGUF', `cannot read ${path}`, { file: path, fix: 'check the path', cause });
  }
  return { file: parseGguf(bytes, path), bytes };
}

/** The fp32 values of one tensor of a parsed file. */
export function ggufTensorValues(file: GgufFile, bytes: Uint8Array, name: string): Float32Array {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new FormatError('E_GGUF', `no tensor ${name}`, { field: name, fix: 'check the tensor name' });
  const start = file.dataOffset + t.offset;
  return decodeTensorData(
    t.type,
    bytes.subarray(start, start + t.byteLength),
    t.shape.reduce((a, b) => a * b, 1),
  );
}
