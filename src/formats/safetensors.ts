// safetensors, read lazily and written atomically. Layout (all little-endian):
//   u64 N                      length of the header
//   N bytes                    UTF-8 JSON object: { "__metadata__"?: {string: string},
//                              "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, … }
//                              (may be padded with trailing spaces)
//   data                       the byte buffer; offsets are relative to its start
// Checked on open, before any tensor is read: header length within a limit and within the file;
// valid UTF-8 JSON object; no duplicate names (JSON.parse would silently keep the last); known
// dtypes; shapes of non-negative safe integers; byte size = product(shape) × dtype size; offsets in
// bounds; tensors contiguous and non-overlapping and covering the data exactly; metadata values
// strings. Tensors are then read one at a time by offset.
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { FormatError } from '../errors/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import { DTYPE_BYTES, isDtype, viewAs } from './dtype.ts';
import type { AnyTypedArray, Dtype } from './dtype.ts';

/** Largest header accepted: the format's own MAX_HEADER_SIZE, 100,000,000 bytes (huggingface/safetensors
 *  tensor.rs); real checkpoints are well under 1 MB per shard. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

function fail(
  file: string,
  field: string,
  message: string,
  fix = 'the file is corrupt or not a safetensors file; re-download or re-export it',
): never {
  throw new FormatError('E_SAFETENSORS', `${file}: ${message}`, { file, field, fix });
}

/** Top-level keys of a JSON object text, in order, to find duplicates JSON.parse would hide. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #fd: number;
  #closed = false;

  private constructor(
    readonly path: string,
    fd: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.#fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Opens and validates the header; the data stays on disk until readTensor. */
  static open(path: string, maxHeaderBytes = MAX_HEADER_BYTES): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new FormatError('E_SAFETENSORS_OPEN', `cannot open ${path}: ${(cause as Error).message}`, {
        file: path,
        fix: 'check the path',
        cause,
      });
    }
    try {
      const size = fstatSync(fd).size;
      if (size < 8) fail(path, 'header', `the file has ${size} bytes, fewer than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const n = lenBuf.readBigUInt64LE(0);
      if (n > BigInt(maxHeaderBytes)) fail(path, 'header', `header length ${n} is over the limit of ${maxHeaderBytes} bytes`);
      const headerLen = Number(n);
      if (8 + headerLen > size) fail(path, 'header', `header length ${headerLen} runs past the end of the ${size}-byte file (truncated?)`);
      if (headerLen < 2) fail(path, 'header', `header length ${headerLen} is too short for a JSON object`);
      const headerBytes = Buffer.alloc(headerLen);
      readSync(fd, headerBytes, 0, headerLen, 8);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
      } catch {
        fail(path, 'header', 'the header is not valid UTF-8');
      }
      let json: unknown;
      try {
        json = JSON.parse(text!);
      } catch (cause) {
        fail(path, 'header', `the header is not valid JSON: ${(cause as Error).message}`);
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(path, 'header', 'the header must be a JSON object');
      const keys = topLevelKeys(text!);
      const seen = new Set<string>();
      for (const k of keys) {
        if (seen.has(k)) fail(path, k, `tensor name "${k}" appears twice in the header`);
        seen.add(k);
      }
      const dataStart = 8 + headerLen;
      const dataLen = size - dataStart;
      const tensors: TensorInfo[] = [];
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(path, name, '__metadata__ must be an object of strings');
          for (const [k, v] of Object.entries(raw as Record<string, unknown>))
            if (typeof v !== 'string') fail(path, `__metadata__.${k}`, `metadata value of "${k}" is not a string`);
          metadata = raw as Record<string, string>;
          continue;
        }
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (e === null || typeof e !== 'object' || Array.isArray(e)) fail(path, name, `entry "${name}" is not an object`);
        if (!isDtype(e.dtype))
          fail(
            path,
            `${name}.dtype`,
            `tensor "${name}" has unknown dtype ${JSON.stringify(e.dtype)}`,
            `supported: ${Object.keys(DTYPE_BYTES).join(', ')}`,
          );
        if (!Array.isArray(e.shape) || e.shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0))
          fail(path, `${name}.shape`, `tensor "${name}" has shape ${JSON.stringify(e.shape)}, expected non-negative integers`);
        const off = e.data_offsets;
        if (!Array.isArray(off) || off.length !== 2 || off.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0))
          fail(path, `${name}.data_offsets`, `tensor "${name}" has data_offsets ${JSON.stringify(off)}, expected [begin, end]`);
        const [begin, end] = off as [number, number];
        if (begin > end) fail(path, `${name}.data_offsets`, `tensor "${name}" begins at ${begin} after it ends at ${end}`);
        if (end > dataLen)
          fail(path, `${name}.data_offsets`, `tensor "${name}" ends at ${end}, past the ${dataLen} data bytes (truncated file?)`);
        let count = 1;
        for (const d of e.shape as number[]) {
          count *= d;
          if (!Number.isSafeInteger(count)) fail(path, `${name}.shape`, `tensor "${name}" has too many elements`);
        }
        const bytes = count * DTYPE_BYTES[e.dtype as Dtype];
        if (bytes !== end - begin)
          fail(
            path,
            `${name}.data_offsets`,
            `tensor "${name}" [${(e.shape as number[]).join(', ')}] ${e.dtype} needs ${bytes} bytes, its offsets span ${end - begin}`,
          );
        tensors.push({ name, dtype: e.dtype as Dtype, shape: e.shape as number[], begin: dataStart + begin, end: dataStart + end });
      }
      const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
      let cursor = dataStart;
      for (const t of sorted) {
        if (t.begin < cursor) fail(path, `${t.name}.data_offsets`, `tensor "${t.name}" overlaps the previous tensor`);
        if (t.begin > cursor) fail(path, `${t.name}.data_offsets`, `there are ${t.begin - cursor} unused bytes before tensor "${t.name}"`);
        cursor = t.end;
      }
      if (cursor !== size) fail(path, 'data', `${size - cursor} bytes after the last tensor are not described by the header`);
      return new SafetensorsFile(path, fd, new Map(tensors.map((t) => [t.name, t])), metadata);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t)
      throw new FormatError('E_SAFETENSORS_MISSING', `${this.path} has no tensor "${name}"`, {
        file: this.path,
        field: name,
        fix: 'check the tensor name (see `tensors`)',
      });
    return t;
  }

  /** The raw bytes of one tensor. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    if (this.#closed)
      throw new FormatError('E_SAFETENSORS_CLOSED', `${this.path} is closed`, { file: this.path, fix: 'read tensors before close()' });
    const out = new Uint8Array(t.end - t.begin);
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.#fd, out, done, out.length - done, t.begin + done);
      if (n === 0)
        throw new FormatError('E_SAFETENSORS', `${this.path}: the file shrank while reading "${name}"`, {
          file: this.path,
          field: name,
          fix: 'do not modify model files while they are loaded',
        });
      done += n;
    }
    return out;
  }

  /** A typed array of the tensor's own dtype (F16/BF16 as raw Uint16Array). */
  readTensor(name: string): AnyTypedArray {
    return viewAs(this.info(name).dtype, this.readBytes(name));
  }

  close(): void {
    if (!this.#closed) closeSync(this.#fd);
    this.#closed = true;
  }
}

export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  data: AnyTypedArray | Uint8Array;
}

/** Serialises tensors (in the given order) with an 8-byte-aligned header. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries: [string, TensorToWrite][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bytes = count * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== bytes)
      throw new FormatError(
        'E_SAFETENSORS_WRITE',
        `tensor "${name}" [${t.shape.join(', ')}] ${t.dtype} needs ${bytes} bytes, got ${t.data.byteLength}`,
        { field: name, fix: 'the data does not match the shape and dtype' },
      );
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
