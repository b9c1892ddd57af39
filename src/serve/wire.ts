// openpi's wire format: msgpack with NumPy arrays and scalars as maps keyed by msgpack bin strings
// (openpi_client.msgpack_numpy), encoded and decoded with @msgpack/msgpack. Imports nothing from the
// engine (tensor/, models/), so the client stays small.
//
// Layout (msgpack spec names; Python's msgpack with use_bin_type=True, as openpi_client packs):
//   message      a map whose keys are str (fixstr a0–bf, str8 d9, str16 da), e.g. "observation/image"
//   ndarray      map of 4 (fixmap 84) with bin keys (bin8 c4 NN …), in this order:
//                  b"__ndarray__" → true (c3)
//                  b"data"        → bin8 c4 / bin16 c5 / bin32 c6: the array's bytes, C order
//                  b"dtype"       → str: NumPy's dtype.str, byte order then kind then size
//                                   ('|u1', '<f4', '>i8', '|b1'; '|' = one byte, '<' little endian)
//                  b"shape"       → array of non-negative ints (fixarray 9N, array16 dc)
//   np scalar    map of 3 with bin keys: b"__npgeneric__" → true, b"data" → the value (Python
//                float as float64 cb, int in its smallest int form, bool c2/c3), b"dtype" → str
//   floats       float64 (cb) as Python writes its floats; ints in their smallest form.
import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError } from './errors.ts';

/** Largest frame or body the server reads (16 MiB). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of maps and arrays accepted in a message. */
export const MAX_DEPTH = 16;
/** Most dimensions of an array. */
export const MAX_RANK = 32;

/** NumPy dtypes the protocol carries: bool, signed and unsigned ints, floats (kind + bytes). */
export const DTYPES = ['b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8'] as const;
export type Dtype = (typeof DTYPES)[number];

/** Typed array per dtype. b1 holds 0/1 bytes; f2 holds the raw IEEE half bits (see halfToFloat). */
export type NdData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

const ARRAY_OF: Record<Dtype, { new (buffer: ArrayBuffer): NdData }> = {
  b1: Uint8Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  u8: BigUint64Array,
  f2: Uint16Array,
  f4: Float32Array,
  f8: Float64Array,
};

/** An n-dimensional NumPy array on the wire: dtype, shape, and the elements in C order. */
export class NdArray {
  constructor(
    readonly dtype: Dtype,
    readonly shape: readonly number[],
    readonly data: NdData,
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new RangeError(`NdArray: ${data.length} elements for shape [${shape.join(', ')}]`);
  }
  get size(): number {
    return this.data.length;
  }
}

/** A NumPy scalar (np.float32(1.5), np.int64(3), np.bool_(True)). */
export class NpScalar {
  constructor(
    readonly dtype: Dtype,
    readonly value: number | bigint | boolean,
  ) {}
}

/** A number written as float64 even when it is whole (Python floats are always float64). */
export class WireFloat {
  constructor(readonly value: number) {}
}

/** A decoded or to-be-encoded message: msgpack values with str-keyed maps, arrays and scalars. */
export type WireValue =
  null | boolean | number | bigint | string | Uint8Array | WireFloat | NdArray | NpScalar | readonly WireValue[] | WireMap;
export type WireMap = Map<string, WireValue>;

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** NumPy's dtype.str for an array this side writes ('|u1', '<f4'). */
export function dtypeString(dtype: Dtype): string {
  return `${dtype.endsWith('1') ? '|' : '<'}${dtype}`;
}

function parseDtype(text: string, field: string): { dtype: Dtype; swap: boolean } {
  const m = /^([<>|=])([biuf][1248])$/.exec(text);
  if (!m || !(DTYPES as readonly string[]).includes(m[2]!)) {
    throw new ProtocolError(
      `${field}: dtype '${text}' is not carried by the protocol`,
      field,
      `send one of ${DTYPES.map((d) => dtypeString(d)).join(', ')} (NumPy bool, int, uint or float)`,
    );
  }
  const dtype = m[2] as Dtype;
  const little = m[1] === '<' || (m[1] === '=' && HOST_LITTLE);
  return { dtype, swap: !dtype.endsWith('1') && m[1] !== '|' && little !== HOST_LITTLE };
}

/** Half-precision bits to a number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Encoding: container headers are written here, every leaf by @msgpack/msgpack's encoder (whose
// own maps would silently drop the bin keys openpi needs).

const leafEncoder = new Encoder({ useBigInt64: true });
const floatEncoder = new Encoder({ forceIntegerToFloat: true });

function header(small: number, n: number, code16: number, code32: number, count: number): Uint8Array {
  if (count < n) return Uint8Array.of(small + count);
  if (count < 0x10000) return Uint8Array.of(code16, count >> 8, count & 0xff);
  return Uint8Array.of(code32, count >>> 24, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff);
}
const mapHeader = (count: number) => header(0x80, 16, 0xde, 0xdf, count);
const arrayHeader = (count: number) => header(0x90, 16, 0xdc, 0xdd, count);
const binKey = (key: string) => leafEncoder.encode(new TextEncoder().encode(key));

function bytesOf(data: NdData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE || data.BYTES_PER_ELEMENT === 1) return bytes;
  const out = bytes.slice();
  for (let i = 0; i < out.length; i += data.BYTES_PER_ELEMENT) out.subarray(i, i + data.BYTES_PER_ELEMENT).reverse();
  return out;
}

function encodeInto(value: WireValue, out: Uint8Array[], depth: number): void {
  if (depth > MAX_DEPTH) throw new ProtocolError(`the message nests deeper than ${MAX_DEPTH} levels`, 'message', 'flatten the message');
  if (value instanceof NdArray) {
    out.push(mapHeader(4), binKey('__ndarray__'), leafEncoder.encode(true), binKey('data'), leafEncoder.encode(bytesOf(value.data)));
    out.push(binKey('dtype'), leafEncoder.encode(dtypeString(value.dtype)), binKey('shape'), arrayHeader(value.shape.length));
    for (const d of value.shape) out.push(leafEncoder.encode(d));
  } else if (value instanceof NpScalar) {
    const v = value.value;
    const data = typeof v === 'number' && value.dtype.startsWith('f') ? floatEncoder.encode(v) : leafEncoder.encode(v);
    out.push(
      mapHeader(3),
      binKey('__npgeneric__'),
      leafEncoder.encode(true),
      binKey('data'),
      data,
      binKey('dtype'),
      leafEncoder.encode(dtypeString(value.dtype)),
    );
  } else if (value instanceof WireFloat) {
    out.push(floatEncoder.encode(value.value));
  } else if (value instanceof Map) {
    out.push(mapHeader(value.size));
    for (const [k, v] of value) {
      out.push(leafEncoder.encode(k));
      encodeInto(v, out, depth + 1);
    }
  } else if (Array.isArray(value)) {
    out.push(arrayHeader(value.length));
    for (const v of value as readonly WireValue[]) encodeInto(v, out, depth + 1);
  } else {
    out.push(leafEncoder.encode(value));
  }
}

/** The msgpack bytes of a message, laid out as Python's msgpack with openpi's array hook writes them. */
export function packMessage(value: WireValue): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(value, parts, 0);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Decoding: @msgpack/msgpack reads the bytes (with caps on every length); map keys come back tagged
// by their msgpack type ('s' str, 'b' bin, 'n' int) so a bin key can never pass for a str key.

const decoder = new Decoder({
  useBigInt64: true,
  maxStrLength: MAX_MESSAGE_BYTES,
  maxBinLength: MAX_MESSAGE_BYTES,
  maxArrayLength: 4096,
  maxMapLength: 1024,
  maxExtLength: 0,
  mapKeyConverter: (key: unknown) => {
    if (typeof key === 'string') return `s${key}`;
    if (typeof key === 'number' || typeof key === 'bigint') return `n${key}`;
    if (key instanceof Uint8Array) return `b${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')}`;
    throw new ProtocolError(`a map key is a ${typeof key}`, 'message', 'map keys must be str (bin only inside NumPy arrays)');
  },
});

const isPlainMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && Object.getPrototypeOf(v) === Object.prototype;

function decodeNdArray(raw: Record<string, unknown>, field: string): NdArray {
  const fix = "send NumPy arrays as openpi_client's msgpack_numpy packs them";
  if (raw['b__ndarray__'] !== true) throw new ProtocolError(`${field}: __ndarray__ is not true`, field, fix);
  const data = raw['bdata'];
  const dtypeRaw = raw['bdtype'];
  const shapeRaw = raw['bshape'];
  if (!(data instanceof Uint8Array)) throw new ProtocolError(`${field}: the array's data is not bin`, `${field}.data`, fix);
  const dtypeText =
    typeof dtypeRaw === 'string' ? dtypeRaw : dtypeRaw instanceof Uint8Array ? Buffer.from(dtypeRaw).toString('latin1') : null;
  if (dtypeText === null) throw new ProtocolError(`${field}: the array's dtype is not a string`, `${field}.dtype`, fix);
  const { dtype, swap } = parseDtype(dtypeText, `${field}.dtype`);
  if (!Array.isArray(shapeRaw) || shapeRaw.length > MAX_RANK)
    throw new ProtocolError(`${field}: the array's shape is not a list of at most ${MAX_RANK} dimensions`, `${field}.shape`, fix);
  const itemSize = Number(dtype.slice(1));
  let size = 1;
  const shape = shapeRaw.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw new ProtocolError(`${field}: shape entry ${String(d)} is not a non-negative integer`, `${field}.shape`, fix);
    size *= d;
    return d;
  });
  // Checked against the bytes that arrived before anything is allocated (size stays exact or
  // becomes far larger than any frame, so a 10^5 × 10^5 shape fails here).
  if (size * itemSize !== data.length) {
    throw new ProtocolError(
      `${field}: shape [${shape.join(', ')}] of ${dtypeText} needs ${size * itemSize} bytes, the data has ${data.length}`,
      `${field}.shape`,
      'send the shape of the data (array.shape) with its bytes (array.tobytes())',
    );
  }
  const copy = new ArrayBuffer(data.length);
  const bytes = new Uint8Array(copy);
  bytes.set(data);
  if (swap) for (let i = 0; i < bytes.length; i += itemSize) bytes.subarray(i, i + itemSize).reverse();
  return new NdArray(dtype, shape, new ARRAY_OF[dtype](copy));
}

function decodeScalar(raw: Record<string, unknown>, field: string): NpScalar {
  const fix = "send NumPy scalars as openpi_client's msgpack_numpy packs them";
  if (raw['b__npgeneric__'] !== true) throw new ProtocolError(`${field}: __npgeneric__ is not true`, field, fix);
  const dtypeRaw = raw['bdtype'];
  if (typeof dtypeRaw !== 'string') throw new ProtocolError(`${field}: the scalar's dtype is not a string`, `${field}.dtype`, fix);
  const { dtype } = parseDtype(dtypeRaw, `${field}.dtype`);
  const v = raw['bdata'];
  const ok =
    dtype === 'b1'
      ? typeof v === 'boolean'
      : dtype.startsWith('f')
        ? typeof v === 'number'
        : (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
  if (!ok) throw new ProtocolError(`${field}: scalar data ${String(v)} does not fit dtype ${dtypeRaw}`, `${field}.data`, fix);
  return new NpScalar(dtype, v as number | bigint | boolean);
}

function fromDecoded(raw: unknown, field: string, depth: number): WireValue {
  if (depth > MAX_DEPTH) throw new ProtocolError(`the message nests deeper than ${MAX_DEPTH} levels`, field, 'flatten the message');
  if (raw === null || typeof raw === 'boolean' || typeof raw === 'string' || raw instanceof Uint8Array) return raw;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) && BigInt(Number(raw)) === raw ? Number(raw) : raw;
  if (Array.isArray(raw)) return raw.map((v, i) => fromDecoded(v, `${field}[${i}]`, depth + 1));
  if (isPlainMap(raw)) {
    if ('b__ndarray__' in raw) return decodeNdArray(raw, field);
    if ('b__npgeneric__' in raw) return decodeScalar(raw, field);
    const map: WireMap = new Map();
    for (const [tagged, v] of Object.entries(raw)) {
      const key = tagged.slice(1);
      if (tagged[0] !== 's')
        throw new ProtocolError(
          `${field}: map key ${JSON.stringify(key)} is ${tagged[0] === 'b' ? 'bin' : 'an int'}, not str`,
          field,
          'dict keys must be str (openpi writes them so); bin keys belong to NumPy arrays only',
        );
      map.set(key, fromDecoded(v, field === 'message' ? key : `${field}.${key}`, depth + 1));
    }
    return map;
  }
  throw new ProtocolError(
    `${field}: msgpack extension types are not part of the protocol`,
    field,
    'send maps, arrays, str, bin, numbers, bools and NumPy arrays only',
  );
}

/** Most msgpack values (of any kind, containers included) one message may hold. */
export const MAX_VALUES = 100_000;

/** Walks the msgpack bytes without building anything: every value's header and length within the
 *  bytes, nesting within MAX_DEPTH, at most MAX_VALUES values, nothing after the message. The decoder
 *  runs only on bytes that pass, so a frame of 16 MiB of nested array headers costs a scan, not
 *  millions of decoder states. */
export function checkStructure(bytes: Uint8Array): void {
  const fail = (what: string, at: number): never => {
    throw new ProtocolError(
      `the message is not valid msgpack: ${what} at byte ${at}`,
      'message',
      'send one msgpack object per frame, packed with openpi_client.msgpack_numpy',
    );
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pending: number[] = [1]; // values still expected at each open level
  let pos = 0;
  let values = 0;
  const take = (n: number, at: number) => {
    if (n > bytes.length - pos) fail('a length beyond the end', at);
    pos += n;
  };
  const uint = (size: 1 | 2 | 4, at: number): number => {
    if (size > bytes.length - pos) fail('a truncated header', at);
    const v = size === 1 ? view.getUint8(pos) : size === 2 ? view.getUint16(pos) : view.getUint32(pos);
    pos += size;
    return v;
  };
  while (pending.length > 0) {
    const at = pos;
    if (pos >= bytes.length) fail('the end of the bytes inside a value', at);
    if (++values > MAX_VALUES) fail(`more than ${MAX_VALUES} values`, at);
    const b = bytes[pos++]!;
    let children = 0;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) children = 0;
    else if (b <= 0x8f) children = 2 * (b & 0x0f);
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) take(b & 0x1f, at);
    else if (b === 0xc4 || b === 0xd9) take(uint(1, at), at);
    else if (b === 0xc5 || b === 0xda) take(uint(2, at), at);
    else if (b === 0xc6 || b === 0xdb) take(uint(4, at), at);
    else if (b === 0xc7 || b === 0xc8 || b === 0xc9) take(uint(b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4, at) + 1, at);
    else if (b === 0xca) take(4, at);
    else if (b === 0xcb) take(8, at);
    else if (b >= 0xcc && b <= 0xd3) take(1 << ((b - 0xcc) & 3), at);
    else if (b >= 0xd4 && b <= 0xd8) take(1 + (1 << (b - 0xd4)), at);
    else if (b === 0xdc || b === 0xdd) children = uint(b === 0xdc ? 2 : 4, at);
    else if (b === 0xde || b === 0xdf) children = 2 * uint(b === 0xde ? 2 : 4, at);
    else fail(`the unused type byte 0x${b.toString(16)}`, at);
    pending[pending.length - 1]!--;
    if (children > 0) {
      if (children > bytes.length - pos) fail(`${children} items announced with ${bytes.length - pos} bytes left`, at);
      if (pending.length > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`, at);
      pending.push(children);
    }
    while (pending.length > 0 && pending[pending.length - 1] === 0) pending.pop();
  }
  if (pos !== bytes.length) fail(`${bytes.length - pos} bytes after the message`, pos);
}

/** Decodes one message. Garbage, truncation, trailing bytes and unknown types are ProtocolErrors. */
export function unpackMessage(bytes: Uint8Array): WireValue {
  if (bytes.length > MAX_MESSAGE_BYTES)
    throw new ProtocolError(
      `the message has ${bytes.length} bytes, more than ${MAX_MESSAGE_BYTES}`,
      'message',
      'send smaller frames (e.g. downscale images to 256×256)',
    );
  checkStructure(bytes);
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (cause) {
    if (cause instanceof ProtocolError) throw cause;
    throw new ProtocolError(
      `the message is not valid msgpack (${(cause as Error).message})`,
      'message',
      'send one msgpack object per frame, packed with openpi_client.msgpack_numpy',
    );
  }
  return fromDecoded(raw, 'message', 0);
}

/** Plain data (metadata) as a message: objects become str-keyed maps, typed arrays NumPy arrays. */
export function toWire(value: unknown, field = 'metadata', depth = 0): WireValue {
  if (depth > MAX_DEPTH) throw new ProtocolError(`${field} nests deeper than ${MAX_DEPTH} levels`, field, 'flatten the value');
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint') return value;
  if (value instanceof NdArray || value instanceof NpScalar || value instanceof WireFloat || value instanceof Uint8Array) return value;
  if (value instanceof Float32Array) return new NdArray('f4', [value.length], value);
  if (value instanceof Float64Array) return new NdArray('f8', [value.length], value);
  if (Array.isArray(value)) return value.map((v, i) => toWire(v, `${field}[${i}]`, depth + 1));
  if (typeof value === 'object') {
    const m: WireMap = new Map();
    for (const [k, v] of Object.entries(value)) if (v !== undefined) m.set(k, toWire(v, `${field}.${k}`, depth + 1));
    return m;
  }
  throw new ProtocolError(`${field} is a ${typeof value}`, field, 'metadata holds plain data only');
}

/** A message as plain data: maps become prototype-free objects, float64 wrappers numbers. */
export function fromWire(value: WireValue): unknown {
  if (value instanceof WireFloat) return value.value;
  if (value instanceof Map) {
    const o: Record<string, unknown> = Object.create(null);
    for (const [k, v] of value) o[k] = fromWire(v);
    return o;
  }
  if (Array.isArray(value)) return value.map((v) => fromWire(v));
  return value;
}
