// vlm2vla's Parquet writer: hyparquet-writer's output with a CRC-32 in every page header, which
// hyparquet-writer 0.17 has no option to write.
//
// The field (apache/parquet-format, parquet.thrift, struct PageHeader):
//   1: required PageType type   2: required i32 uncompressed_page_size   3: required i32 compressed_page_size
//   4: optional i32 crc   5–8: the header of the page's type
// `crc` is the standard CRC-32 (polynomial 0x04C11DB7, as gzip and zlib) of the page as written to
// disk after its header — for a v2 data page its levels and its (compressed) values — and any page
// type may carry one. Parquet stores it as a signed i32.
//
// Adding field 4 grows a page header by 2–6 bytes, so every offset behind it moves. The file is laid
// out anew: `PAR1`, each column chunk's pages in order (header re-encoded with its CRC, page bytes
// copied), then the footer (FileMetaData, Thrift compact) with the moved fields, its length (u32 LE)
// and `PAR1`. Fields that move: ColumnChunk.file_offset (2); ColumnMetaData.total_uncompressed_size
// (6) and total_compressed_size (7), both counting headers; data_page_offset (9);
// dictionary_page_offset (11); RowGroup.total_byte_size (2), file_offset (5), total_compressed_size
// (6). Page indexes and bloom filters also hold offsets; this writer turns page indexes off (pyarrow's
// default too) and refuses a file that holds either, or anything between the chunks.
//
// The footer and every page header go through hyparquet's Thrift decoder and hyparquet-writer's
// encoder. Both must give back the exact bytes they read before anything is changed, or the file is
// refused: a library update that loses a field or a wire type then fails here, not in a reader.
import { crc32 } from 'node:zlib';
import { ByteWriter, parquetWriteBuffer } from 'hyparquet-writer';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js';

type Thrift = { [key: `field_${number}`]: any };

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);

function encode(value: Thrift): Uint8Array {
  const w = new ByteWriter();
  serializeTCompactProtocol(w, value);
  return w.getBytes();
}

/** Decodes the Thrift struct at `offset` (within `limit`) and checks it re-encodes to the same bytes. */
function decodeExact(bytes: Uint8Array, offset: number, limit: number, what: string): { value: Thrift; end: number } {
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, limit), offset };
  const value = deserializeTCompactProtocol(reader);
  const again = encode(value);
  const original = bytes.subarray(offset, reader.offset);
  if (again.length !== original.length || !again.every((b, i) => b === original[i])) {
    throw new Error(
      `parquet page CRCs: the ${what} does not re-encode to the bytes it was read from (hyparquet and hyparquet-writer disagree on Thrift)`,
    );
  }
  return { value, end: reader.offset };
}

/** Field `k` of a Thrift struct as a non-negative safe integer (i32 or i64 on the wire). */
function int(s: Thrift, k: number, what: string): number {
  const v = s[`field_${k}`];
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`parquet page CRCs: ${what} is ${String(v)}`);
  return n;
}

/** The struct with `field_k` set and the keys in ascending field order, as the encoder requires. */
function withField(s: Thrift, k: number, value: unknown): Thrift {
  const entries = Object.entries({ ...s, [`field_${k}`]: value });
  entries.sort(([a], [b]) => Number(a.slice(6)) - Number(b.slice(6)));
  return Object.fromEntries(entries) as Thrift;
}

/** The same Parquet file with a CRC-32 in every page header. Throws a plain Error (a vlm2vla bug,
 *  not a user fault) on a layout it does not handle. */
export function addPageCrcs(file: Uint8Array): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const footerStart = file.byteLength - 8 - view.getUint32(file.byteLength - 8, true);
  const footer = decodeExact(file, footerStart, file.byteLength - 8, 'footer').value;
  const parts: Uint8Array[] = [MAGIC];
  let written = MAGIC.length;
  let expected = MAGIC.length;
  for (const [g, group] of (footer.field_4 as Thrift[]).entries()) {
    const groupStart = written;
    let growth = 0;
    for (const [c, chunk] of (group.field_1 as Thrift[]).entries()) {
      const where = `row group ${g} column chunk ${c}`;
      const meta = chunk.field_3 as Thrift | undefined;
      if (meta === undefined) throw new Error(`parquet page CRCs: ${where} has no metadata`);
      if (chunk.field_4 !== undefined || chunk.field_6 !== undefined || meta.field_14 !== undefined) {
        throw new Error(
          `parquet page CRCs: ${where} has a page index or a bloom filter, whose offsets this rewrite does not move (write with offsetIndex: false)`,
        );
      }
      const start = meta.field_11 === undefined ? int(meta, 9, 'data_page_offset') : int(meta, 11, 'dictionary_page_offset');
      const end = start + int(meta, 7, 'total_compressed_size');
      if (start !== expected || end > footerStart)
        throw new Error(`parquet page CRCs: ${where} spans bytes ${start}..${end}, expected to start at ${expected}`);
      const moved = new Map<number, number>();
      const chunkStart = written;
      for (let at = start; at < end;) {
        const { value: header, end: body } = decodeExact(file, at, end, `page header at byte ${at}`);
        const pageEnd = body + int(header, 3, 'compressed_page_size');
        if (pageEnd > end) throw new Error(`parquet page CRCs: the page at byte ${at} runs past its column chunk`);
        const page = file.subarray(body, pageEnd);
        const encoded = encode(withField(header, 4, crc32(page) | 0));
        moved.set(at, written);
        parts.push(encoded, page);
        written += encoded.length + page.length;
        at = pageEnd;
      }
      const move = (k: number, s: Thrift, what: string) => {
        if (s[`field_${k}`] === undefined) return;
        const to = moved.get(int(s, k, what));
        if (to === undefined) throw new Error(`parquet page CRCs: ${where} ${what} is not the start of one of its pages`);
        s[`field_${k}`] = BigInt(to);
      };
      move(9, meta, 'data_page_offset');
      move(11, meta, 'dictionary_page_offset');
      move(2, chunk, 'file_offset');
      const chunkGrowth = written - chunkStart - (end - start);
      meta.field_6 = BigInt(int(meta, 6, 'total_uncompressed_size') + chunkGrowth);
      meta.field_7 = BigInt(written - chunkStart);
      growth += chunkGrowth;
      expected = end;
    }
    group.field_2 = BigInt(int(group, 2, 'total_byte_size') + growth);
    if (group.field_5 !== undefined) group.field_5 = BigInt(groupStart);
    if (group.field_6 !== undefined) group.field_6 = BigInt(written - groupStart);
  }
  if (expected !== footerStart)
    throw new Error(`parquet page CRCs: bytes ${expected}..${footerStart} hold something other than column chunks`);
  const meta = encode(footer);
  const tail = new Uint8Array(8);
  new DataView(tail.buffer).setUint32(0, meta.length, true);
  tail.set(MAGIC, 4);
  parts.push(meta, tail);
  const out = new Uint8Array(written + meta.length + tail.length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** hyparquet-writer's `parquetWriteBuffer` with page indexes off and a CRC-32 in every page header. */
export function parquetWriteWithPageCrcs(options: Parameters<typeof parquetWriteBuffer>[0]): Uint8Array {
  const columnData = options.columnData.map((c) => ({ ...c, offsetIndex: false, columnIndex: false, bloomFilter: false }));
  return addPageCrcs(new Uint8Array(parquetWriteBuffer({ ...options, columnData })));
}
