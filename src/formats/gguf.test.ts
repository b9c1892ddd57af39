// GGUF: round trips of every metadata value type and tensor type, Q8_0 within its quantization
// step, a malformed corpus with typed errors, and random mutations that never escape as untyped errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeGguf, parseGguf, encodeTensorData, decodeTensorData, ggufTensorValues } from './gguf.ts';
import type { GgufValue, GgufTensor } from './gguf.ts';
import { isVlmError } from '../errors/index.ts';
import { Rng } from '../util/index.ts';

function sample(): { metadata: Map<string, GgufValue>; tensors: GgufTensor[]; values: Float32Array[] } {
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'gemma3' }],
    ['general.alignment', { type: 'u32', value: 32 }],
    ['a.u8', { type: 'u8', value: 250 }],
    ['a.i8', { type: 'i8', value: -5 }],
    ['a.u16', { type: 'u16', value: 65000 }],
    ['a.i16', { type: 'i16', value: -30000 }],
    ['a.i32', { type: 'i32', value: -7 }],
    ['a.f32', { type: 'f32', value: 0.5 }],
    ['a.f64', { type: 'f64', value: 1e-300 }],
    ['a.u64', { type: 'u64', value: 2n ** 60n }],
    ['a.i64', { type: 'i64', value: -(2n ** 60n) }],
    ['a.bool', { type: 'bool', value: true }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['<pad>', 'ünï', '▁the'] }],
    ['a.floats', { type: 'array', itemType: 'f32', value: [1, -2.5] }],
  ]);
  const rng = new Rng(1);
  const values = [64, 96, 32, 7].map((n) => Float32Array.from({ length: n }, () => rng.normal()));
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', type: 'F32', shape: [4, 16], data: encodeTensorData('F32', values[0]!) },
    { name: 'blk.0.attn_q.weight', type: 'Q8_0', shape: [3, 32], data: encodeTensorData('Q8_0', values[1]!) },
    { name: 'blk.0.attn_norm.weight', type: 'F16', shape: [32], data: encodeTensorData('F16', values[2]!) },
    { name: 'output_norm.weight', type: 'BF16', shape: [7], data: encodeTensorData('BF16', values[3]!) },
  ];
  return { metadata, tensors, values };
}

test('GGUF round trip: every value type, F32/F16/BF16/Q8_0, aligned offsets, reversed dims', () => {
  const { metadata, tensors, values } = sample();
  const bytes = encodeGguf(metadata, tensors);
  const f = parseGguf(bytes);
  assert.equal(f.version, 3);
  assert.deepEqual(f.metadata, metadata);
  assert.equal(f.dataOffset % 32, 0);
  assert.deepEqual(
    f.tensors.map((t) => [t.name, t.type, t.shape]),
    tensors.map((t) => [t.name, t.type, t.shape]),
  );
  for (const t of f.tensors) assert.equal(t.offset % 32, 0);
  assert.deepEqual(Array.from(ggufTensorValues(f, bytes, 'token_embd.weight')), Array.from(values[0]!));
  const q = ggufTensorValues(f, bytes, 'blk.0.attn_q.weight');
  for (let b = 0; b < 3; b++) {
    const block = values[1]!.subarray(b * 32, b * 32 + 32);
    const step = Math.max(...Array.from(block, Math.abs)) / 127;
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(q[b * 32 + i]! - block[i]!) <= step * 0.5 + 1e-3 * step + 1e-7);
  }
  const h = ggufTensorValues(f, bytes, 'blk.0.attn_norm.weight');
  h.forEach((v, i) => assert.ok(Math.abs(v - values[2]![i]!) <= Math.abs(values[2]![i]!) * 2 ** -11 + 1e-7));
  assert.deepEqual(Array.from(decodeTensorData('BF16', encodeTensorData('BF16', Float32Array.of(1, -2, 0.5)), 3)), [1, -2, 0.5]);
});

function patched(mutate: (b: Uint8Array, dv: DataView) => Uint8Array | void): Uint8Array {
  const { metadata, tensors } = sample();
  const b = encodeGguf(metadata, tensors);
  return mutate(b, new DataView(b.buffer)) ?? b;
}

function small(kv: [string, GgufValue][], tensors: GgufTensor[] = []): Uint8Array {
  return encodeGguf(new Map(kv), tensors);
}

test('malformed GGUF files give typed errors', () => {
  // Byte positions in small files: the header is 24 bytes; a one-letter key or tensor name takes
  // 8 + 1 bytes, a value type 4. One kv "k": type at 33, value at 37. One tensor "t" with one
  // dimension: n_dims at 33, dim at 37, ggml type at 45, offset at 49.
  const at = (bytes: Uint8Array, edit: (dv: DataView, b: Uint8Array) => void) => {
    const b = bytes.slice();
    edit(new DataView(b.buffer), b);
    return b;
  };
  const kv = small([
    ['k', { type: 'bool', value: true }],
    ['x', { type: 'u8', value: 2 }],
  ]);
  const one = small([], [{ name: 't', type: 'F32', shape: [8], data: new Uint8Array(32) }]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /GGUF/],
    ['bad magic', patched((b) => void (b[0] = 0x47 ^ 1)), /GGUF/],
    ['version 2', patched((_, dv) => dv.setUint32(4, 2, true)), /version 2/],
    ['huge tensor count', patched((_, dv) => dv.setBigUint64(8, 2n ** 40n, true)), /declares/],
    ['huge kv count', patched((_, dv) => dv.setBigUint64(16, 2n ** 62n, true)), /declares|too large/],
    ['huge key length', patched((_, dv) => dv.setBigUint64(24, 2n ** 50n, true)), /declares|too large/],
    ['truncated header', patched((b) => b.subarray(0, 60)), /ends inside/],
    ['truncated data', patched((b) => b.subarray(0, b.length - 10)), /runs past the end/],
    ['unknown value type', at(kv, (dv) => dv.setUint32(33, 99, true)), /unknown value type/],
    ['bool of value 2', at(kv, (_, b) => void (b[37] = 2)), /bool of value 2/],
    ['duplicate key', at(kv, (_, b) => void (b[38 + 8] = 'k'.charCodeAt(0))), /appears twice/],
    ['bad alignment', small([['general.alignment', { type: 'u32', value: 48 }]]), /alignment 48/],
    ['zero dimensions', at(one, (dv) => dv.setUint32(33, 0, true)), /0 dimensions/],
    ['nine dimensions', at(one, (dv) => dv.setUint32(33, 9, true)), /9 dimensions/],
    ['unknown ggml type', at(one, (dv) => dv.setUint32(45, 2, true)), /ggml type 2/],
    ['Q8_0 not a multiple of 32', at(one, (dv) => dv.setUint32(45, 8, true)), /not a multiple of 32/],
    ['misaligned offset', at(one, (dv) => dv.setBigUint64(49, 4n, true)), /not aligned/],
  ];
  for (const [name, bytes, expect] of cases) {
    assert.throws(
      () => parseGguf(bytes, `${name}.gguf`),
      (e: unknown) => {
        assert.ok(isVlmError(e), `${name}: ${String(e)}`);
        assert.equal(e.code, 'E_GGUF');
        assert.match(e.message, expect, name);
        return true;
      },
      name,
    );
  }
});

test('random byte mutations of a valid GGUF never throw anything but a typed error', () => {
  const { metadata, tensors } = sample();
  const valid = encodeGguf(metadata, tensors);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const b = valid.slice();
      for (const [i, v] of edits) b[i] = v;
      try {
        parseGguf(b);
      } catch (e) {
        assert.ok(isVlmError(e), `untyped: ${String(e)}`);
      }
    }),
    { numRuns: 500, seed: 2 },
  );
});
