// The Parquet guard: page CRCs are checked where a writer stored them, footer damage (including the
// mutants that made hyparquet loop forever or leak an unhandled rejection) ends in a typed error,
// and an intact file reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ByteWriter, parquetWriteBuffer } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js';
import { readParquetGuarded } from './parquet-guard.ts';
import { isVlmError } from '../errors/index.ts';
import { Rng } from '../util/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-pq-'));
let n = 0;
const put = (bytes: Uint8Array) => {
  const p = join(dir, `f${n++}.parquet`);
  writeFileSync(p, bytes);
  return p;
};
const typed = (p: string, message?: RegExp) =>
  assert.rejects(
    readParquetGuarded(p),
    (e: unknown) => isVlmError(e) && e.code === 'E_PARQUET' && e.file === p && (message === undefined || message.test(e.message)),
  );

/** A one-column INT32 file whose single data page carries a CRC-32 (as pyarrow writes with
 *  write_page_checksum=True); `crcDelta` damages the stored CRC. */
function fileWithPageCrc(values: number[], crcDelta = 0, rootChildren = 1): Uint8Array {
  const page = new Uint8Array(new Int32Array(values).buffer);
  const w = new ByteWriter();
  w.appendUint32(0x31524150);
  writePageHeader(w, {
    type: 'DATA_PAGE',
    uncompressed_page_size: page.length,
    compressed_page_size: page.length,
    crc: (crc32(page) + crcDelta) | 0,
    data_page_header: { num_values: values.length, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
  });
  const headerSize = w.offset - 4;
  w.appendBytes(page);
  const size = BigInt(headerSize + page.length);
  const metaStart = w.offset;
  const rows = BigInt(values.length);
  // FileMetaData in Thrift field numbers (parquet.thrift): schema, num_rows, row_groups.
  serializeTCompactProtocol(w, {
    field_1: 2,
    field_2: [
      { field_4: 'root', field_5: rootChildren },
      { field_1: 1, field_3: 0, field_4: 'x' },
    ],
    field_3: rows,
    field_4: [
      {
        field_1: [
          {
            field_2: 4n,
            field_3: { field_1: 1, field_2: [0], field_3: ['x'], field_4: 0, field_5: rows, field_6: size, field_7: size, field_9: 4n },
          },
        ],
        field_2: size,
        field_3: rows,
      },
    ],
  });
  w.appendUint32(w.offset - metaStart);
  w.appendUint32(0x31524150);
  return new Uint8Array(w.getBuffer());
}

test('a page CRC is checked where the writer stored one', async () => {
  const good = await readParquetGuarded(put(fileWithPageCrc([1, 2, 3, 40000])));
  assert.deepEqual(
    good.rows.map((r) => r.x),
    [1, 2, 3, 40000],
  );
  assert.equal(good.checkedPages, 1);
  await typed(put(fileWithPageCrc([1, 2, 3], 1)), /page CRC mismatch/);
  const body = fileWithPageCrc([7, 8, 9]);
  const at = body.indexOf(8);
  body[at] = 9;
  await typed(put(body), /page CRC mismatch/);
});

test('a schema whose num_children does not fit (hyparquet looped forever on -3) is refused first', async () => {
  for (const children of [-3, 0, 2, 1e6]) await typed(put(fileWithPageCrc([1, 2], 0, children)), /children|schema/);
});

test('not Parquet, empty, truncated and an oversized footer length are typed errors', async () => {
  const ok = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'a', data: [1, 2, 3], type: 'INT32' }] }));
  await typed(put(new Uint8Array(0)));
  await typed(put(new TextEncoder().encode('not parquet')));
  await typed(put(ok.subarray(0, ok.length - 3)));
  const long = Uint8Array.from(ok);
  new DataView(long.buffer).setUint32(long.length - 8, 0x7fffffff, true);
  await typed(put(long), /footer declares/);
  assert.deepEqual(
    (await readParquetGuarded(put(ok))).rows.map((r) => r.a),
    [1, 2, 3],
  );
});

test('bit flips in the footer of a real file: typed errors or a correct read, never a hang or a leaked rejection', async () => {
  const columns = [
    { name: 'state', data: Array.from({ length: 40 }, (_, i) => [i * 0.5, -i, i / 3]) },
    { name: 'img', data: Array.from({ length: 40 }, (_, i) => ({ bytes: new Uint8Array([i, i + 1, i + 2]), path: `f${i}.png` })) },
    { name: 'episode_index', data: Array.from({ length: 40 }, (_, i) => BigInt(i >> 3)) },
  ];
  const schema = [
    { name: 'root', num_children: 3 },
    { name: 'state', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    { name: 'img', repetition_type: 'OPTIONAL', num_children: 2 },
    { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
    { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'episode_index', type: 'INT64', repetition_type: 'OPTIONAL' },
  ];
  const original = new Uint8Array(
    parquetWriteBuffer({ columnData: columns, schema } as unknown as Parameters<typeof parquetWriteBuffer>[0]),
  );
  const footerLength = new DataView(original.buffer).getUint32(original.length - 8, true);
  const leaked: unknown[] = [];
  const onLeak = (e: unknown) => leaked.push(e);
  process.on('unhandledRejection', onLeak);
  const rng = new Rng(24);
  let errors = 0;
  try {
    for (let k = 0; k < 300; k++) {
      const b = Uint8Array.from(original);
      for (let f = 0; f < 2; f++) b[original.length - 8 - 1 - rng.int(0, footerLength - 1)]! ^= 1 << rng.int(0, 7);
      const p = put(b);
      try {
        await readParquetGuarded(p);
      } catch (e) {
        assert.ok(isVlmError(e) && e.code === 'E_PARQUET', `mutant ${k}: ${String(e)}`);
        errors++;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('unhandledRejection', onLeak);
  }
  assert.deepEqual(leaked, []);
  assert.ok(errors > 100, `${errors} of 300 footer mutants were refused`);
});
