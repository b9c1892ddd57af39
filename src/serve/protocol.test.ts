// Tests of openpi's wire format against bytes laid out as Python's msgpack writes them (by hand from
// the msgpack spec, and golden hex printed by scripts/openpi-golden.py), in both directions; every
// dtype round-trips; every malformed message is a ProtocolError, never another exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequest, observationMessage, resultMessage, parseResult, metadataMessage } from './protocol.ts';
import { DTYPES, NdArray, NpScalar, WireFloat, halfToFloat, packMessage, unpackMessage, toWire, fromWire, MAX_DEPTH } from './wire.ts';
import type { Dtype, WireMap, WireValue } from './wire.ts';
import { ProtocolError } from './errors.ts';
import { VlmError } from '../errors/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { BRIDGE_LIMITS } from '../actions/index.ts';

const hex = (...parts: string[]) => Uint8Array.from(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// Printed by `python3 scripts/openpi-golden.py` (format version 1): Python msgpack 1.0.3 with openpi's
// msgpack_numpy hook, NumPy 1.24. One `name hex` per line.
const GOLDEN = new Map(
  `
  observation 83b16f62736572766174696f6e2f696d61676584c40b5f5f6e6461727261795f5fc3c40464617461c40c000102030405060708090a0bc4056474797065a37c7531c405736861706593020203b16f62736572766174696f6e2f737461746584c40b5f5f6e6461727261795f5fc3c40464617461c41c0000803e000000bf0000003e00000000000000000000c03f0000803fc4056474797065a33c6634c40573686170659107a670726f6d7074b27069636b2075702074686520636172726f74
  observation_bin16 84b16f62736572766174696f6e2f696d61676584c40b5f5f6e6461727261795f5fc3c40464617461c5012c000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fa000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30c4056474797065a37c7531c4057368617065930a0a03b76f62736572766174696f6e2f77726973745f696d61676584c40b5f5f6e6461727261795f5fc3c40464617461c403070707c4056474797065a37c7531c405736861706593010103b16f62736572766174696f6e2f737461746584c40b5f5f6e6461727261795f5fc3c40464617461c4380000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c4056474797065a33c6638c40573686170659107a670726f6d7074d9287075742074686520636172726f7420696e2074686520706f742c207468656e2073746f70206e6f77
  map16 de0010a36b303000a36b303101a36b303202a36b303303a36b303404a36b303505a36b303606a36b303707a36b303808a36b303909a36b31300aa36b31310ba36b31320ca36b31330da36b31340ea36b31350f
  scalars 85a16683c40d5f5f6e7067656e657269635f5fc3c40464617461cb3ff8000000000000c4056474797065a33c6634a16983c40d5f5f6e7067656e657269635f5fc3c40464617461fdc4056474797065a33c6938a16283c40d5f5f6e7067656e657269635f5fc3c40464617461c3c4056474797065a37c6231a17583c40d5f5f6e7067656e657269635f5fc3c40464617461ccc8c4056474797065a37c7531a164cb4000000000000000
  result 85a7616374696f6e7384c40b5f5f6e6461727261795f5fc3c40464617461c4380ad7233c000000000ad7a3bc0000000000000000cdcccc3d0000803f00000000000000000000000000000000000000000000000000000000c4056474797065a33c6634c4057368617065920207a47465787482a87375627461736b7391b27069636b2075702074686520636172726f74a56368756e6bb55b5b312e302c20302e302c202d322e302c20315d5da4646f6e65c2ad706f6c6963795f74696d696e6781a56368756e6bcb4008000000000000ad7365727665725f74696d696e6782a8696e6665725f6d73cb4028000000000000ad707265765f746f74616c5f6d73cb4034800000000000
  dtype_|b1 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c40400010101c4056474797065a37c6231c4057368617065920202
  dtype_|i1 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c40400010264c4056474797065a37c6931c4057368617065920202
  dtype_<i2 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4080000010002006400c4056474797065a33c6932c4057368617065920202
  dtype_<i4 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c41000000000010000000200000064000000c4056474797065a33c6934c4057368617065920202
  dtype_<i8 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4200000000000000000010000000000000002000000000000006400000000000000c4056474797065a33c6938c4057368617065920202
  dtype_|u1 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c40400010264c4056474797065a37c7531c4057368617065920202
  dtype_<u2 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4080000010002006400c4056474797065a33c7532c4057368617065920202
  dtype_<u4 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c41000000000010000000200000064000000c4056474797065a33c7534c4057368617065920202
  dtype_<u8 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4200000000000000000010000000000000002000000000000006400000000000000c4056474797065a33c7538c4057368617065920202
  dtype_<f2 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4080000003c00404056c4056474797065a33c6632c4057368617065920202
  dtype_<f4 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c410000000000000803f000000400000c842c4056474797065a33c6634c4057368617065920202
  dtype_<f8 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4200000000000000000000000000000f03f00000000000000400000000000005940c4056474797065a33c6638c4057368617065920202
  dtype_>i4 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c41000000000000000010000000200000064c4056474797065a33e6934c4057368617065920202
  dtype_>f8 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c42000000000000000003ff000000000000040000000000000004059000000000000c4056474797065a33e6638c4057368617065920202
  dtype_>u2 81a16184c40b5f5f6e6461727261795f5fc3c40464617461c4080000000100020064c4056474797065a33e7532c4057368617065920202
  dtype_neg 83a16984c40b5f5f6e6461727261795f5fc3c40464617461c402ff80c4056474797065a37c6931c40573686170659102a16684c40b5f5f6e6461727261795f5fc3c40464617461c40c000000800000807f000080ffc4056474797065a33c6634c40573686170659103a16884c40b5f5f6e6461727261795f5fc3c40464617461c406003800c0ff7bc4056474797065a33c6632c40573686170659103
`
    .trim()
    .split('\n')
    .map((l) => l.trim().split(' ') as [string, string]),
);
const golden = (name: string) => hex(GOLDEN.get(name)!);

function assertProtocolError(fn: () => unknown, field?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.equal(e.code, 'E_PROTOCOL');
    assert.ok(e.fix && e.fix.length > 0);
    if (field) assert.match(e.field ?? '', field);
    return true;
  });
}

// The observation of the "observation" golden case, laid out by hand from the msgpack spec.
const HAND_OBSERVATION = hex(
  '83', // fixmap, 3 entries (str keys)
  'b1',
  ascii('observation/image'), // fixstr of 17 bytes
  '84', // fixmap, 4 entries (bin keys): the NumPy array
  'c4 0b',
  ascii('__ndarray__'),
  'c3', // bin8 key, true
  'c4 04',
  ascii('data'),
  'c4 0c',
  '000102030405060708090a0b', // bin8 of 12 bytes
  'c4 05',
  ascii('dtype'),
  'a3',
  ascii('|u1'), // str "|u1"
  'c4 05',
  ascii('shape'),
  '93 02 02 03', // fixarray [2, 2, 3]
  'b1',
  ascii('observation/state'),
  '84',
  'c4 0b',
  ascii('__ndarray__'),
  'c3',
  'c4 04',
  ascii('data'),
  'c4 1c',
  '0000803e 000000bf 0000003e 00000000 00000000 0000c03f 0000803f', // 7 × float32 LE
  'c4 05',
  ascii('dtype'),
  'a3',
  ascii('<f4'),
  'c4 05',
  ascii('shape'),
  '91 07',
  'a6',
  ascii('prompt'),
  'b2',
  ascii('pick up the carrot'),
);
const STATE = [0.25, -0.5, 0.125, 0, 0, 1.5, 1];

test('the hand-laid observation is the golden bytes Python writes', () => {
  assert.equal(toHex(HAND_OBSERVATION), GOLDEN.get('observation'));
});

test('an observation in openpi bytes decodes into an Observation', () => {
  const req = parseRequest(unpackMessage(HAND_OBSERVATION));
  assert.equal(req.kind, 'infer');
  if (req.kind !== 'infer') return;
  assert.equal(req.reset, false);
  const o = req.observation;
  assert.deepEqual([o.image.width, o.image.height], [2, 2]);
  assert.deepEqual([...o.image.rgb], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.ok(o.state instanceof Float32Array);
  assert.deepEqual([...o.state], STATE);
  assert.equal(o.instruction, 'pick up the carrot');
  assert.equal(o.wristImage, undefined);
});

test('an observation encodes to exactly the bytes openpi_client sends', () => {
  const rgb = Uint8Array.from({ length: 12 }, (_, i) => i);
  const msg = observationMessage({
    image: { width: 2, height: 2, rgb },
    state: Float32Array.from(STATE),
    instruction: 'pick up the carrot',
  });
  assert.equal(toHex(packMessage(msg)), GOLDEN.get('observation'));
});

test('bin16 data, str8 prompt and a wrist camera, both directions', () => {
  const bytes = golden('observation_bin16');
  // bin16 header of the 300-byte frame and str8 header of the 40-byte prompt, as the spec lays them out.
  assert.ok(toHex(bytes).includes(`${ascii('data')}c5012c000102`));
  assert.ok(toHex(bytes).includes(`${ascii('prompt')}d928${ascii('put the')}`));
  const req = parseRequest(unpackMessage(bytes));
  assert.ok(req.kind === 'infer');
  const o = req.observation;
  assert.deepEqual([o.image.width, o.image.height, o.image.rgb[299]], [10, 10, 299 % 251]);
  assert.deepEqual([o.wristImage!.width, o.wristImage!.height, ...o.wristImage!.rgb], [1, 1, 7, 7, 7]);
  assert.deepEqual([...o.state], [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(o.instruction, 'put the carrot in the pot, then stop now');
  // Python sent the state as float64; re-encoded by us it is float32, everything else is identical.
  const again = toHex(packMessage(observationMessage(o)));
  const expected = GOLDEN.get('observation_bin16')!.replace(
    `c438${'00'.repeat(56)}c4056474797065a33c6638`,
    `c41c${'00'.repeat(28)}c4056474797065a33c6634`,
  );
  assert.notEqual(expected, GOLDEN.get('observation_bin16'));
  assert.equal(again, expected);
});

test('bin32 data (65536 bytes) both directions', () => {
  const payload = new Uint8Array(65536).map((_, i) => i & 0xff);
  const bytes = new Uint8Array([
    ...hex('81 a1 61 84 c40b', ascii('__ndarray__'), 'c3 c404', ascii('data'), 'c6 00010000'),
    ...payload,
    ...hex('c405', ascii('dtype'), 'a3', ascii('|u1'), 'c405', ascii('shape'), '91 ce00010000'),
  ]);
  const msg = unpackMessage(bytes) as WireMap;
  const a = msg.get('a') as NdArray;
  assert.deepEqual([a.dtype, a.shape, a.data[255], a.data[65535]], ['u1', [65536], 255, 255]);
  assert.deepEqual(packMessage(msg), bytes);
});

test('map16 (16 str keys) both directions', () => {
  const msg = unpackMessage(golden('map16')) as WireMap;
  assert.equal(msg.size, 16);
  assert.equal(msg.get('k15'), 15);
  assert.equal(toHex(packMessage(msg)), GOLDEN.get('map16'));
});

test('NumPy scalars both directions (__npgeneric__)', () => {
  const msg = unpackMessage(golden('scalars')) as WireMap;
  assert.deepEqual(msg.get('f'), new NpScalar('f4', 1.5));
  assert.deepEqual(msg.get('i'), new NpScalar('i8', -3));
  assert.deepEqual(msg.get('b'), new NpScalar('b1', true));
  assert.deepEqual(msg.get('u'), new NpScalar('u1', 200));
  // np.float64 is a Python float, so msgpack writes it as a plain float64.
  assert.equal(msg.get('d'), 2);
  msg.set('d', new WireFloat(2));
  assert.equal(toHex(packMessage(msg)), GOLDEN.get('scalars'));
});

test('a result encodes to the bytes a Python policy server writes, and reads back', () => {
  const result = {
    actions: [Float32Array.of(0.01, 0, -0.02, 0, 0, 0.1, 1), new Float32Array(7)],
    text: { subtasks: ['pick up the carrot'], chunk: '[[1.0, 0.0, -2.0, 1]]' },
    done: false,
    timing: { totalMs: 3, stages: { chunk: 3 } },
  };
  const bytes = packMessage(resultMessage(result, { inferMs: 12, prevTotalMs: 20.5 }));
  assert.equal(toHex(bytes), GOLDEN.get('result'));
  const back = parseResult(unpackMessage(golden('result')));
  assert.deepEqual(back.result.actions, result.actions);
  assert.deepEqual(back.result.text, result.text);
  assert.equal(back.result.done, undefined);
  assert.deepEqual(back.result.timing, { totalMs: 12, stages: { chunk: 3 } });
  assert.deepEqual(back.serverTiming, { inferMs: 12, prevTotalMs: 20.5 });
});

const VALUES = [0, 1, 2, 100];
for (const name of [...GOLDEN.keys()].filter((k) => k.startsWith('dtype_') && k !== 'dtype_neg')) {
  const text = name.slice('dtype_'.length);
  test(`dtype ${text}: decodes to its values, re-encodes as NumPy writes it on a little-endian host`, () => {
    const a = (unpackMessage(golden(name)) as WireMap).get('a') as NdArray;
    assert.equal(a.dtype, text.slice(1));
    assert.deepEqual(a.shape, [2, 2]);
    const values = Array.from(a.data as ArrayLike<number | bigint>, (v) => (a.dtype === 'f2' ? halfToFloat(Number(v)) : Number(v)));
    assert.deepEqual(values, a.dtype === 'b1' ? [0, 1, 1, 1] : VALUES);
    const little = a.dtype.endsWith('1') ? name : `dtype_<${a.dtype}`;
    assert.equal(toHex(packMessage(new Map([['a', a]]))), GOLDEN.get(little));
  });
}

test('negative ints, signed zero, infinities and halves decode exactly', () => {
  const msg = unpackMessage(golden('dtype_neg')) as WireMap;
  assert.deepEqual([...(msg.get('i') as NdArray).data], [-1, -128]);
  assert.deepEqual([...(msg.get('f') as NdArray).data], [-0, Infinity, -Infinity]);
  assert.ok(Object.is((msg.get('f') as NdArray).data[0], -0));
  assert.deepEqual(
    [...(msg.get('h') as NdArray).data].map((v) => halfToFloat(Number(v))),
    [0.5, -2, 65504],
  );
  assert.equal(toHex(packMessage(msg)), GOLDEN.get('dtype_neg'));
});

const ARRAY_TYPES = {
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
} as const;

/** An array of random bit patterns (every float bit pattern, NaNs included, must survive). */
function randomArray(dtype: Dtype, shape: number[], seed: number): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * Number(dtype.slice(1)));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < bytes.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bytes[i] = dtype === 'b1' ? s >>> 31 : s >>> 24;
  }
  return new NdArray(dtype, shape, new ARRAY_TYPES[dtype](bytes.buffer));
}

test('every dtype round-trips bit for bit through pack and unpack, any shape', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DTYPES),
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 4 }),
      fc.integer(),
      (dtype, shape, seed) => {
        const a = randomArray(dtype, shape, seed);
        const back = (unpackMessage(packMessage(new Map([['x', a]]))) as WireMap).get('x') as NdArray;
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, shape);
        assert.deepEqual(
          Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength),
          Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength),
        );
      },
    ),
    { numRuns: 200 },
  );
});

const ndarrayBytes = (dtype: string, shape: string, data: string) =>
  `84 c40b${ascii('__ndarray__')} c3 c404${ascii('data')} ${data} c405${ascii('dtype')} a3${ascii(dtype)} c405${ascii('shape')} ${shape}`;

test('malformed msgpack is a ProtocolError: garbage, truncation, trailing bytes, extensions', () => {
  assertProtocolError(() => unpackMessage(hex('c1')), /^message$/); // 0xc1 is never used
  assertProtocolError(() => unpackMessage(HAND_OBSERVATION.subarray(0, 40)));
  assertProtocolError(() => unpackMessage(hex(toHex(HAND_OBSERVATION), '00')));
  assertProtocolError(() => unpackMessage(hex('81 a1', ascii('t'), 'd6 ff 00000001'))); // timestamp ext
  assertProtocolError(() => unpackMessage(new Uint8Array(0)));
  assertProtocolError(() => unpackMessage(hex('dd ffffffff'))); // array32 of 2^32-1: refused before allocating
  assertProtocolError(() => unpackMessage(hex('c6 7fffffff')));
});

test('structure is checked before decoding: 16 MiB of nested headers and 10^5+ values fail fast', () => {
  const deep = new Uint8Array(16 * 1024 * 1024).fill(0x91);
  deep[deep.length - 1] = 0x90;
  const started = performance.now();
  assertProtocolError(() => unpackMessage(deep), /^message$/);
  assert.ok(performance.now() - started < 5000, 'refused by a scan (ms), not after building millions of values (70 s)');
  const nils = (n: number) => `dc ${n.toString(16).padStart(4, '0')} ${'c0'.repeat(n)}`;
  assertProtocolError(() => unpackMessage(hex('92', nils(60_000), nils(60_000))));
  assert.equal((unpackMessage(hex('92', nils(4000), nils(4000))) as WireValue[]).length, 2);
  assertProtocolError(() => unpackMessage(hex('dd 00100000 c0'))); // 2^20 items announced, 1 byte left
  assertProtocolError(() => unpackMessage(hex('df 00100000 c0')));
  assertProtocolError(() => unpackMessage(hex('c7 05 01 0102')));
});

test('map keys: bin outside arrays, ints and nesting beyond the cap are refused', () => {
  assertProtocolError(() => unpackMessage(hex('81 c406', ascii('prompt'), 'a1', ascii('x'))), /message/);
  assertProtocolError(() => unpackMessage(hex('81 01 02')));
  assertProtocolError(() => unpackMessage(hex('91'.repeat(MAX_DEPTH + 2), '90')));
  assert.deepEqual(unpackMessage(hex('91'.repeat(3), '90')), [[[[]]]]);
  // A str key spelled like an array key is just a str key.
  const m = unpackMessage(hex('81 ab', ascii('__ndarray__'), 'c3')) as WireMap;
  assert.equal(m.get('__ndarray__'), true);
});

test('arrays: shapes that do not match their bytes (10^5 × 10^5), bad dtypes and bad fields', () => {
  const at = (v: string) => hex('81 b1', ascii('observation/image'), v);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `92 ce000186a0 ce000186a0`, 'c403 010203'))), /observation\/image\.shape/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `93 ce000186a0 ce000186a0 03`, 'c403 010203'))), /shape/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `91 ff`, 'c400'))), /shape/); // -1
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `91 cb3ff8000000000000`, 'c400'))), /shape/); // 1.5
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `a1${ascii('x')}`, 'c400'))), /shape/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('<c8', `91 00`, 'c400'))), /dtype/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|O1', `91 00`, 'c400'))), /dtype/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('<U3', `91 00`, 'c400'))), /dtype/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('<f4', `91 01`, 'c403 000000'))), /shape/);
  assertProtocolError(() => unpackMessage(at(ndarrayBytes('|u1', `91 01`, `a1${ascii('x')}`))), /data/);
  assertProtocolError(() => unpackMessage(at(`81 c40b${ascii('__ndarray__')} c2`)));
  assertProtocolError(() => unpackMessage(at(`82 c40d${ascii('__npgeneric__')} c3 c405${ascii('dtype')} a3${ascii('<f4')}`)), /data/);
});

const obsMessage = (over: Record<string, WireValue | undefined>): WireMap => {
  const base = unpackMessage(HAND_OBSERVATION) as WireMap;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) base.delete(k);
    else base.set(k, v);
  }
  return base;
};

test('observations: missing keys, wrong types, shapes, sizes, non-finite state are refused with the key', () => {
  const img = (dtype: Dtype, shape: number[]) =>
    new NdArray(dtype, shape, new (dtype === 'f4' ? Float32Array : Uint8Array)(shape.reduce((a, b) => a * b, 1)));
  assertProtocolError(() => parseRequest('hello'), /^message$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': undefined })), /^observation\/image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': 'png bytes' })), /^observation\/image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': img('f4', [2, 2, 3]) })), /^observation\/image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': img('u1', [3, 4, 4]) })), /^observation\/image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': img('u1', [4, 4]) })), /^observation\/image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/image': img('u1', [0, 4, 3]) })), /^observation\/image$/);
  assertProtocolError(
    () => parseRequest(obsMessage({ 'observation/image': img('u1', [5, 5, 3]) }), { stateDims: 7, maxImagePixels: 16 }),
    /^observation\/image$/,
  );
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/wrist_image': img('u1', [2, 2, 4]) })), /^observation\/wrist_image$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/state': undefined })), /^observation\/state$/);
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/state': [1, 2, 3, 4, 5, 6, 7] })), /^observation\/state$/);
  assertProtocolError(
    () => parseRequest(obsMessage({ 'observation/state': new NdArray('i4', [7], new Int32Array(7)) })),
    /^observation\/state$/,
  );
  assertProtocolError(
    () => parseRequest(obsMessage({ 'observation/state': new NdArray('f4', [6], new Float32Array(6)) })),
    /^observation\/state$/,
  );
  assertProtocolError(
    () => parseRequest(obsMessage({ 'observation/state': new NdArray('f4', [1, 7], new Float32Array(7)) })),
    /^observation\/state$/,
  );
  for (const bad of [NaN, Infinity, -Infinity]) {
    const s = new Float32Array(7);
    s[3] = bad;
    assertProtocolError(() => parseRequest(obsMessage({ 'observation/state': new NdArray('f4', [7], s) })), /^observation\/state\[3\]$/);
  }
  const wide = new Float64Array(7);
  wide[6] = 1e300; // finite in float64, infinite in float32
  assertProtocolError(() => parseRequest(obsMessage({ 'observation/state': new NdArray('f8', [7], wide) })), /^observation\/state\[6\]$/);
  const halfNaN = new Uint16Array(7);
  halfNaN[0] = 0x7e00;
  assertProtocolError(
    () => parseRequest(obsMessage({ 'observation/state': new NdArray('f2', [7], halfNaN) })),
    /^observation\/state\[0\]$/,
  );
  assertProtocolError(() => parseRequest(obsMessage({ prompt: undefined })), /^prompt$/);
  assertProtocolError(() => parseRequest(obsMessage({ prompt: Uint8Array.of(0x61) })), /^prompt$/);
  assertProtocolError(() => parseRequest(obsMessage({ prompt: '   ' })), /^prompt$/);
  assertProtocolError(() => parseRequest(obsMessage({ prompt: 'x'.repeat(5000) })), /^prompt$/);
  assertProtocolError(() => parseRequest(obsMessage({ reset: 1 })), /^reset$/);
});

test('reset: alone, with a prompt, and with an observation; unknown keys are ignored', () => {
  assert.deepEqual(parseRequest(new Map([['reset', true]])), { kind: 'reset', prompt: undefined });
  assert.deepEqual(
    parseRequest(
      new Map<string, WireValue>([
        ['reset', true],
        ['prompt', 'stack the cups'],
      ]),
    ),
    { kind: 'reset', prompt: 'stack the cups' },
  );
  const r = parseRequest(obsMessage({ reset: true, 'observation/joint_position': new NdArray('f8', [6], new Float64Array(6)) }));
  assert.ok(r.kind === 'infer' && r.reset);
  // np.True_ as Python's msgpack writes it (the golden scalars' "b"), e.g. from `t == 0` on a NumPy int.
  const npTrue = (unpackMessage(golden('scalars')) as WireMap).get('b')!;
  assert.deepEqual(npTrue, new NpScalar('b1', true));
  const n = parseRequest(obsMessage({ reset: npTrue }));
  assert.ok(n.kind === 'infer' && n.reset);
  const f = parseRequest(obsMessage({ reset: new NpScalar('b1', false) }));
  assert.ok(f.kind === 'infer' && !f.reset);
  assert.deepEqual(parseRequest(new Map([['reset', npTrue]])), { kind: 'reset', prompt: undefined });
  assertProtocolError(() => parseRequest(obsMessage({ reset: new NpScalar('i8', 1) })), /^reset$/);
  assertProtocolError(() => parseRequest(new Map([['reset', false]])), /^observation\/image$/);
});

test('metadata: plain data as str-keyed maps, read back as prototype-free objects', () => {
  const meta = { name: 'echo', semantics: BRIDGE_SEMANTICS, limits: BRIDGE_LIMITS, model: undefined };
  const back = fromWire(unpackMessage(packMessage(metadataMessage(meta)))) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(back), null);
  assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(meta)));
  assert.equal('model' in back, false);
  assertProtocolError(() => toWire({ f: () => 1 }), /metadata\.f/);
});

test('fuzz: any bytes, and mutated golden messages, decode or fail with a ProtocolError only', () => {
  const seeds = [HAND_OBSERVATION, golden('observation_bin16'), golden('result'), golden('scalars'), golden('dtype_neg')];
  const check = (bytes: Uint8Array) => {
    try {
      const msg = unpackMessage(bytes);
      try {
        parseRequest(msg);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      assert.ok(e instanceof VlmError);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => check(b)),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (which, flips, cut) => {
        const b = seeds[which]!.slice();
        for (const [at, v] of flips) b[at % b.length] = v;
        check(b);
        check(b.subarray(0, cut % (b.length + 1)));
      },
    ),
    { numRuns: 1000 },
  );
});
