// vlm2vla's Parquet writer stores a CRC-32 in every page header: the file reads back the same as
// without them (through the guard and through plain hyparquet), every page's CRC is checked, a changed
// byte in any page is a typed error naming the file, column and page, and files without CRCs still read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { addPageCrcs, parquetWriteWithPageCrcs } from './parquet-crc.ts';
import { readParquetGuarded } from './parquet-guard.ts';
import { isVlmError } from '../errors/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-pqcrc-'));
let n = 0;
const put = (bytes: Uint8Array) => {
  const p = join(dir, `f${n++}.parquet`);
  writeFileSync(p, bytes);
  return p;
};

const ROWS = 300;
/** Nested lists, a struct with binary, dictionary-encoded strings, INT64 and FLOAT; small pages and
 *  two row groups, so chunks hold dictionary pages and several data pages. */
const options = {
  columnData: [
    { name: 'state', data: Array.from({ length: ROWS }, (_, i) => [i * 0.5, -i, i / 3]) },
    { name: 'img', data: Array.from({ length: ROWS }, (_, i) => ({ bytes: new Uint8Array([i & 255, 7, i >> 8]), path: `f${i}.png` })) },
    { name: 'task', data: Array.from({ length: ROWS }, (_, i) => ['pick the apple', 'put the cup in the bowl'][i % 2]) },
    { name: 'episode_index', data: Array.from({ length: ROWS }, (_, i) => BigInt(i >> 5)) },
  ],
  schema: [
    { name: 'root', num_children: 4 },
    { name: 'state', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    { name: 'img', repetition_type: 'OPTIONAL', num_children: 2 },
    { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
    { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'task', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'episode_index', type: 'INT64', repetition_type: 'OPTIONAL' },
  ],
  rowGroupSize: 200,
  pageSize: 512,
} as unknown as Parameters<typeof parquetWriteBuffer>[0];

interface PageSpan {
  group: number;
  column: string;
  page: number;
  body: number;
  size: number;
  crc: number | undefined;
}

/** Every page of the file: where its bytes are and the CRC its header stores. */
function pages(bytes: Uint8Array): PageSpan[] {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const out: PageSpan[] = [];
  parquetMetadata(ab).row_groups.forEach((g, group) => {
    for (const chunk of g.columns) {
      const m = chunk.meta_data!;
      const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
      const end = start + Number(m.total_compressed_size);
      const reader = { view: new DataView(ab, 0, end), offset: start };
      for (let page = 0; reader.offset < end; page++) {
        const h = parquetHeader(reader);
        out.push({ group, column: m.path_in_schema.join('.'), page, body: reader.offset, size: h.compressed_page_size, crc: h.crc });
        reader.offset += h.compressed_page_size;
      }
    }
  });
  return out;
}

const plain = (bytes: Uint8Array) =>
  parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, utf8: false });

test('round trip: every page carries a correct CRC-32 and the rows are those written', async () => {
  const without = new Uint8Array(
    parquetWriteBuffer({ ...options, columnData: options.columnData.map((c) => ({ ...c, offsetIndex: false })) }),
  );
  const withCrc = parquetWriteWithPageCrcs(options);
  const spans = pages(withCrc);
  assert.ok(spans.length > 12, `${spans.length} pages`);
  assert.ok(spans.some((s) => s.group === 1) && spans.some((s) => s.page > 1), 'two row groups and several pages per chunk');
  for (const s of spans) assert.equal(s.crc! >>> 0, crc32(withCrc.subarray(s.body, s.body + s.size)), `${s.column} page ${s.page}`);
  assert.equal(pages(without).filter((s) => s.crc !== undefined).length, 0);

  const expected = await plain(without);
  assert.deepEqual(await plain(withCrc), expected, 'plain hyparquet reads the same rows');
  const read = await readParquetGuarded(put(withCrc));
  assert.equal(read.checkedPages, spans.length);
  assert.deepEqual(read.rows, await (async () => (await readParquetGuarded(put(without))).rows)());
  assert.equal(read.rows.length, ROWS);
  assert.deepEqual(addPageCrcs(withCrc), withCrc, 'adding CRCs again changes nothing');
});

test('a changed byte in any page is a typed error naming the file, column and page', async () => {
  const bytes = parquetWriteWithPageCrcs(options);
  const spans = pages(bytes);
  for (const s of spans) {
    const bad = Uint8Array.from(bytes);
    bad[s.body + (s.size >> 1)]! ^= 0x10;
    const path = put(bad);
    await assert.rejects(readParquetGuarded(path), (e: unknown) => {
      assert.ok(isVlmError(e), String(e));
      assert.equal(e.code, 'E_PARQUET');
      assert.equal(e.file, path);
      assert.equal(e.field, `row group ${s.group} › ${s.column} › page ${s.page}`);
      assert.match(e.message, new RegExp(`column ${s.column.replace(/\./g, '\\.')}, page ${s.page}: page CRC mismatch`));
      return true;
    });
  }
});

test('a file without page CRCs still reads', async () => {
  const bytes = new Uint8Array(parquetWriteBuffer(options));
  const read = await readParquetGuarded(put(bytes));
  assert.equal(read.checkedPages, 0);
  assert.equal(read.rows.length, ROWS);
});

test('a layout the rewrite cannot move (page indexes) is refused, never written wrong', () => {
  const indexed = new Uint8Array(
    parquetWriteBuffer({ ...options, columnData: options.columnData.map((c) => ({ ...c, offsetIndex: true })) }),
  );
  assert.throws(() => addPageCrcs(indexed), /page index/);
});

test('the written file keeps its footer: schema, metadata and statistics unchanged but for offsets and sizes', () => {
  const without = new Uint8Array(
    parquetWriteBuffer({ ...options, columnData: options.columnData.map((c) => ({ ...c, offsetIndex: false })) }),
  );
  const withCrc = addPageCrcs(without);
  const meta = (b: Uint8Array) => parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  const a = meta(without);
  const b = meta(withCrc);
  assert.deepEqual(b.schema, a.schema);
  assert.deepEqual(b.key_value_metadata, a.key_value_metadata);
  assert.equal(b.num_rows, a.num_rows);
  b.row_groups.forEach((g, i) => {
    g.columns.forEach((c, j) => {
      const before = a.row_groups[i]!.columns[j]!.meta_data!;
      const after = c.meta_data!;
      assert.deepEqual(after.statistics, before.statistics);
      assert.equal(after.num_values, before.num_values);
      const grown = Number(after.total_compressed_size - before.total_compressed_size);
      assert.ok(grown > 0 && grown === Number(after.total_uncompressed_size - before.total_uncompressed_size));
    });
  });
});
