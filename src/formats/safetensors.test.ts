// safetensors: round trips for every dtype, sharded checkpoints, and a corpus of malformed files
// that must each give a typed error (never a crash or a huge allocation); random byte mutations too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SafetensorsFile, encodeSafetensors, writeSafetensors, Checkpoint, writeCheckpoint, INDEX_FILE } from './index.ts';
import type { TensorToWrite } from './index.ts';
import { isVlmError } from '../errors/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-st-'));

test('every dtype round-trips byte-exactly, with metadata and an 8-byte-aligned header', () => {
  const tensors = new Map<string, TensorToWrite>([
    ['f64', { dtype: 'F64', shape: [2], data: Float64Array.of(1.5, -2e300) }],
    ['f32', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, Number.NaN) }],
    ['f16', { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0x7c00, 0x8001) }],
    ['bf16', { dtype: 'BF16', shape: [1, 1], data: Uint16Array.of(0x3f80) }],
    ['i64', { dtype: 'I64', shape: [2], data: BigInt64Array.of(-(2n ** 62n), 7n) }],
    ['i32', { dtype: 'I32', shape: [1], data: Int32Array.of(-5) }],
    ['i16', { dtype: 'I16', shape: [1], data: Int16Array.of(-300) }],
    ['i8', { dtype: 'I8', shape: [2], data: Int8Array.of(-1, 127) }],
    ['u8', { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 128, 255) }],
    ['bool', { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.of(3.25) }],
  ]);
  const path = join(dir, 'all.safetensors');
  writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode' });
  const bytes = readFileSync(path);
  assert.equal((8 + Number(bytes.readBigUInt64LE(0))) % 8, 0, 'data starts 8-byte aligned');
  const f = SafetensorsFile.open(path);
  assert.deepEqual(f.metadata, { format: 'pt', note: 'ünïcode' });
  for (const [name, t] of tensors) {
    const info = f.info(name);
    assert.equal(info.dtype, t.dtype);
    assert.deepEqual(info.shape, t.shape);
    const back = f.readTensor(name);
    assert.deepEqual(
      Buffer.from(back.buffer, back.byteOffset, back.byteLength),
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      name,
    );
  }
  assert.throws(
    () => f.info('nope'),
    (e: unknown) => isVlmError(e) && e.code === 'E_SAFETENSORS_MISSING',
  );
  f.close();
});

test('sharded checkpoints: written with an index, read lazily, disagreements are typed errors', () => {
  const ck = join(dir, 'sharded');
  const tensors = new Map<string, TensorToWrite>(
    Array.from({ length: 5 }, (_, i) => [
      `layer.${i}.weight`,
      { dtype: 'F32' as const, shape: [4, 4], data: new Float32Array(16).fill(i) },
    ]),
  );
  const shards = writeCheckpoint(ck, tensors, 130);
  assert.equal(shards.length, 3);
  const c = Checkpoint.open(ck);
  assert.deepEqual(c.names(), [...tensors.keys()]);
  assert.deepEqual(Array.from(c.read('layer.3.weight') as Float32Array), new Array(16).fill(3));
  assert.deepEqual(c.shapes().get('layer.0.weight'), [4, 4]);
  c.close();
  const single = join(dir, 'single');
  assert.deepEqual(writeCheckpoint(single, tensors), ['model.safetensors']);
  assert.equal(Checkpoint.open(single).names().length, 5);

  const index = JSON.parse(readFileSync(join(ck, INDEX_FILE), 'utf8'));
  const code = (mutate: (ix: any) => void, expect: RegExp) => {
    const ix = JSON.parse(JSON.stringify(index));
    mutate(ix);
    writeFileSync(join(ck, INDEX_FILE), JSON.stringify(ix));
    assert.throws(
      () => {
        const cc = Checkpoint.open(ck);
        for (const n of cc.names()) cc.read(n);
      },
      (e: unknown) => isVlmError(e) && e.code === 'E_SAFETENSORS_INDEX' && expect.test(e.message),
    );
  };
  code((ix) => (ix.weight_map['layer.0.weight'] = 'model-00009-of-00009.safetensors'), /shard model-00009-of-00009.safetensors is missing/);
  code((ix) => (ix.weight_map['layer.0.weight'] = '../etc/passwd'), /expected a file name in the same folder/);
  code((ix) => delete ix.weight_map['layer.1.weight'], /does not list it/);
  code((ix) => (ix.weight_map['layer.2.weight'] = shards[0]), /puts it in|does not hold it/);
  code((ix) => (ix.weight_map = []), /no weight_map/);
});

/** Builds a file from a header object (or raw header text) and data bytes. */
function file(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  opts: { rawHeader?: string; declaredLength?: bigint; truncateTo?: number } = {},
): string {
  const text = opts.rawHeader ?? JSON.stringify(header);
  const h = Buffer.from(text, 'utf8');
  const buf = Buffer.alloc(8 + h.length + data.length);
  buf.writeBigUInt64LE(opts.declaredLength ?? BigInt(h.length), 0);
  h.copy(buf, 8);
  Buffer.from(data).copy(buf, 8 + h.length);
  const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.safetensors`);
  writeFileSync(path, opts.truncateTo !== undefined ? buf.subarray(0, opts.truncateTo) : buf);
  return path;
}

const T = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
const eight = new Uint8Array(8);

const CORPUS: [string, () => string, RegExp][] = [
  ['empty file', () => file(null, undefined, { rawHeader: '', truncateTo: 0 }), /fewer than the 8-byte header length/],
  ['7-byte file', () => file(null, undefined, { rawHeader: '', truncateTo: 7 }), /fewer than the 8-byte/],
  ['header length 2^60', () => file({}, eight, { declaredLength: 2n ** 60n }), /over the limit/],
  ['header length 2^64 - 1', () => file({}, eight, { declaredLength: 2n ** 64n - 1n }), /over the limit/],
  [
    'header length 100,000,001 (the format caps it at 100,000,000)',
    () => file({}, eight, { declaredLength: 100_000_001n }),
    /over the limit/,
  ],
  ['header length past the end', () => file({}, eight, { declaredLength: 1000n }), /runs past the end/],
  ['header length 0', () => file({}, undefined, { rawHeader: '', declaredLength: 0n }), /too short/],
  ['header truncated mid-JSON', () => file({ a: T('F32', [2], [0, 8]) }, eight, { truncateTo: 20 }), /past the end|not valid JSON/],
  [
    'invalid UTF-8',
    () => file(null, undefined, { rawHeader: '{"\xff": 1}'.replace('\xff', '\udcff') }),
    /not valid UTF-8|not valid JSON|not an object/,
  ],
  ['not JSON', () => file(null, undefined, { rawHeader: '{tensor: 1}' }), /not valid JSON/],
  ['JSON array', () => file([1, 2]), /must be a JSON object/],
  ['JSON string', () => file('x'), /must be a JSON object/],
  ['JSON null', () => file(null), /must be a JSON object/],
  ['entry not an object', () => file({ a: 5 }), /is not an object/],
  ['entry is an array', () => file({ a: [1] }), /is not an object/],
  ['unknown dtype', () => file({ a: T('F8', [8], [0, 8]) }, eight), /unknown dtype "F8"/],
  ['lower-case dtype', () => file({ a: T('f32', [2], [0, 8]) }, eight), /unknown dtype "f32"/],
  ['dtype missing', () => file({ a: { shape: [2], data_offsets: [0, 8] } }, eight), /unknown dtype/],
  ['negative dimension', () => file({ a: T('F32', [-2], [0, 8]) }, eight), /non-negative integers/],
  ['fractional dimension', () => file({ a: T('F32', [2.5], [0, 8]) }, eight), /non-negative integers/],
  ['string dimension', () => file({ a: T('F32', ['2'], [0, 8]) }, eight), /non-negative integers/],
  ['shape not a list', () => file({ a: T('F32', 2, [0, 8]) }, eight), /non-negative integers/],
  ['overflowing shape', () => file({ a: T('F32', [2 ** 40, 2 ** 40], [0, 8]) }, eight), /too many elements|needs/],
  ['offsets missing', () => file({ a: { dtype: 'F32', shape: [2] } }, eight), /expected \[begin, end\]/],
  ['three offsets', () => file({ a: T('F32', [2], [0, 4, 8]) }, eight), /expected \[begin, end\]/],
  ['negative offset', () => file({ a: T('F32', [2], [-8, 0]) }, eight), /expected \[begin, end\]/],
  ['begin after end', () => file({ a: T('F32', [0], [8, 0]) }, eight), /begins at 8 after it ends at 0/],
  ['end past the data', () => file({ a: T('F32', [4], [0, 16]) }, eight), /past the 8 data bytes/],
  ['size mismatch', () => file({ a: T('F32', [3], [0, 8]) }, eight), /needs 12 bytes, its offsets span 8/],
  ['overlapping tensors', () => file({ a: T('F32', [2], [0, 8]), b: T('F32', [1], [4, 8]) }, eight), /overlaps/],
  ['gap between tensors', () => file({ a: T('F32', [1], [0, 4]), b: T('U8', [2], [6, 8]) }, eight), /unused bytes before tensor "b"/],
  ['trailing bytes', () => file({ a: T('F32', [1], [0, 4]) }, eight), /4 bytes after the last tensor/],
  ['data shorter than declared', () => file({ a: T('F32', [2], [0, 8]) }, new Uint8Array(4)), /past the 4 data bytes/],
  [
    'duplicate tensor names',
    () =>
      file(null, eight, {
        rawHeader:
          '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}',
      }),
    /appears twice/,
  ],
  ['metadata not an object', () => file({ __metadata__: 'x' }), /__metadata__ must be an object/],
  ['metadata value not a string', () => file({ __metadata__: { n: 1 } }), /metadata value of "n" is not a string/],
  ['two identical offsets', () => file({ a: T('F32', [2], [0, 8]), b: T('F32', [2], [0, 8]) }, eight), /overlaps/],
];

test(`a corpus of ${CORPUS.length} malformed files: each is a typed error naming the file`, () => {
  assert.ok(CORPUS.length >= 30);
  for (const [name, make, expect] of CORPUS) {
    const path = make();
    assert.throws(
      () => SafetensorsFile.open(path).close(),
      (e: unknown) => {
        assert.ok(isVlmError(e), `${name}: ${String(e)}`);
        assert.equal(e.code, 'E_SAFETENSORS', `${name}: ${e.message}`);
        assert.equal(e.file, path, name);
        assert.match(e.message, expect, name);
        return true;
      },
      name,
    );
    rmSync(path);
  }
  assert.throws(
    () => SafetensorsFile.open(join(dir, 'missing.safetensors')),
    (e: unknown) => isVlmError(e) && e.code === 'E_SAFETENSORS_OPEN',
  );
});

test('random byte mutations of a valid file never throw anything but a typed error', () => {
  const valid = encodeSafetensors(
    {
      w: { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
      b: { dtype: 'BF16', shape: [3], data: Uint16Array.of(1, 2, 3) },
    },
    { format: 'pt' },
  );
  const path = join(dir, 'mutated.safetensors');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(valid.length),
      (edits, cut) => {
        const bytes = Buffer.from(valid);
        for (const [i, v] of edits) bytes[i] = v;
        writeFileSync(path, cut % 3 === 0 ? bytes.subarray(0, cut) : bytes);
        try {
          const f = SafetensorsFile.open(path);
          for (const n of f.tensors.keys()) f.readTensor(n);
          f.close();
        } catch (e) {
          assert.ok(isVlmError(e), `untyped error: ${String(e)}`);
        }
      },
    ),
    { numRuns: 500, seed: 9 },
  );
});
