// The one guarded way vlm2vla reads a Parquet file: size cap, footer and schema checks, a walk over
// every page header (sizes bounded, page CRC-32 checked where the writer stored one, as vlm2vla's own
// writer does: parquet-crc.ts) before hyparquet decodes anything, and every library failure turned
// into a typed FormatError naming the file (and, for a page CRC mismatch, the column and page).
//
// Why the walk first: hyparquet allocates `uncompressed_page_size` bytes as a page header declares
// it, and a column chunk whose path does not match the schema is read but never awaited, so its
// rejection escapes as an unhandledRejection (seen with two bit flips in a footer). Checking that
// every column chunk maps to exactly one schema leaf, in order, closes that path.
import { readFileSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { FileMetaData, SchemaTree } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';
import { FormatError } from '../errors/index.ts';

/** Largest Parquet file read (LeRobot's default data files are ≤ 100 MB). */
export const MAX_PARQUET_BYTES = 1024 * 1024 * 1024;
/** Largest page (decompressed) accepted, checked before hyparquet allocates it. */
export const MAX_PAGE_BYTES = 256 * 1024 * 1024;
/** Most schema elements (columns and groups) accepted in one file. */
export const MAX_SCHEMA_ELEMENTS = 10_000;
/** Codecs hyparquet decodes without an extra decompressor. */
const CODECS = new Set(['UNCOMPRESSED', 'SNAPPY']);

export interface ParquetReadResult {
  rows: Record<string, unknown>[];
  /** Pages whose CRC-32 was present and checked. */
  checkedPages: number;
}

/** A page whose stored CRC-32 does not match its bytes: the most precise report of damage, preferred
 *  over the whole-file checksum's. */
class PageCrcError extends FormatError {}

function bad(
  code: string,
  file: string,
  message: string,
  fix = 'the file is corrupt; restore or re-download the dataset',
  cause?: unknown,
): never {
  throw new FormatError(code, `${file}: ${message}`, { file, field: 'parquet', fix, ...(cause === undefined ? {} : { cause }) });
}

const leaves = (t: SchemaTree, out: string[] = []): string[] => {
  if (t.children.length === 0) out.push(t.path.join('.'));
  else for (const c of t.children) leaves(c, out);
  return out;
};

function safe(v: bigint | number | undefined, code: string, file: string, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) bad(code, file, `${what} is ${String(v)}`);
  return n;
}

/** Decodes the footer's Thrift and checks the schema's tree shape before hyparquet builds it (a
 *  negative or oversized num_children made hyparquet loop forever). */
function checkFooter(bytes: Uint8Array, code: string, file: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(bytes.byteLength - 8, true);
  if (length > bytes.byteLength - 12)
    bad(code, file, `the footer declares ${length} bytes, the file has ${bytes.byteLength - 12} after its magic`);
  let raw: Record<string, unknown>;
  try {
    raw = deserializeTCompactProtocol({
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength - 8),
      offset: bytes.byteLength - 8 - length,
    });
  } catch (cause) {
    bad(code, file, `is not a readable Parquet file: its footer does not decode (${(cause as Error).message})`, undefined, cause);
  }
  const schema = raw.field_2;
  if (!Array.isArray(schema) || schema.length === 0 || schema.length > MAX_SCHEMA_ELEMENTS)
    bad(code, file, 'the footer has no usable schema');
  if (!Array.isArray(raw.field_4)) bad(code, file, 'the footer has no row groups list');
  const consume = (i: number, depth: number): number => {
    const el = schema[i] as Record<string, unknown> | undefined;
    if (el === null || typeof el !== 'object' || depth > 64) bad(code, file, `schema element ${i} is malformed`);
    const n = el.field_5 ?? 0;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || i + n >= schema.length + (n === 0 ? 1 : 0))
      bad(code, file, `schema element ${i} declares ${String(n)} children`);
    let next = i + 1;
    for (let k = 0; k < n; k++) {
      if (next >= schema.length) bad(code, file, `schema element ${i} declares ${n} children, the schema ends first`);
      next = consume(next, depth + 1);
    }
    return next;
  };
  if (consume(0, 0) !== schema.length) bad(code, file, 'the schema has elements outside its tree');
}

/** Checks the footer's structure and walks every page header of every column chunk. */
function checkStructure(bytes: Uint8Array, meta: FileMetaData, code: string, file: string): number {
  const footerStart =
    bytes.byteLength - 8 - new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.byteLength - 8, true);
  let tree: SchemaTree;
  try {
    tree = parquetSchema(meta);
  } catch (cause) {
    bad(code, file, `the schema in the footer is malformed (${(cause as Error).message})`, undefined, cause);
  }
  const paths = leaves(tree);
  if (new Set(paths).size !== paths.length) bad(code, file, 'the schema names a column twice');
  const numRows = safe(meta.num_rows, code, file, 'num_rows');
  let groupRows = 0;
  let checked = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  meta.row_groups.forEach((group, g) => {
    groupRows += safe(group.num_rows, code, file, `row group ${g} num_rows`);
    if (group.columns.length !== paths.length)
      bad(code, file, `row group ${g} has ${group.columns.length} column chunks, the schema ${paths.length} columns`);
    group.columns.forEach((chunk, c) => {
      const m = chunk.meta_data;
      const where = `row group ${g} column ${paths[c]}`;
      if (!m) bad(code, file, `${where} has no metadata`);
      if (m.path_in_schema.join('.') !== paths[c]) bad(code, file, `${where} is stored as ${JSON.stringify(m.path_in_schema.join('.'))}`);
      if (!CODECS.has(m.codec))
        bad(
          code,
          file,
          `${where} uses compression ${String(m.codec)}, which vlm2vla does not decode`,
          'rewrite the file with SNAPPY or no compression',
        );
      const start = safe(m.dictionary_page_offset ?? m.data_page_offset, code, file, `${where} page offset`);
      const size = safe(m.total_compressed_size, code, file, `${where} size`);
      const maxPage = Math.min(MAX_PAGE_BYTES, safe(m.total_uncompressed_size, code, file, `${where} uncompressed size`));
      const values = safe(m.num_values, code, file, `${where} num_values`);
      const end = start + size;
      if (start < 4 || end > footerStart)
        bad(code, file, `${where} spans bytes ${start}..${end}, outside the data region 4..${footerStart}`);
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, end), offset: start };
      let seen = 0;
      let page = 0;
      while (reader.offset < end) {
        let header: ReturnType<typeof parquetHeader>;
        try {
          header = parquetHeader(reader);
        } catch (cause) {
          bad(code, file, `${where}: unreadable page header at byte ${reader.offset}`, undefined, cause);
        }
        const compressed = header.compressed_page_size;
        const uncompressed = header.uncompressed_page_size;
        if (header.type === undefined) bad(code, file, `${where}: unknown page type at byte ${reader.offset}`);
        if (!Number.isSafeInteger(compressed) || compressed < 0 || reader.offset + compressed > end)
          bad(code, file, `${where}: a page of ${compressed} bytes runs past its column chunk`);
        if (!Number.isSafeInteger(uncompressed) || uncompressed < 0 || uncompressed > maxPage)
          bad(code, file, `${where}: a page declares ${uncompressed} decompressed bytes (limit ${maxPage})`);
        if (header.crc !== undefined) {
          const actual = crc32(new Uint8Array(view.buffer, view.byteOffset + reader.offset, compressed));
          if (actual !== header.crc >>> 0) {
            throw new PageCrcError(
              code,
              `${file}: ${where}, page ${page}: page CRC mismatch (stored ${header.crc >>> 0}, computed ${actual} over bytes ${reader.offset}..${reader.offset + compressed})`,
              {
                file,
                field: `row group ${g} › ${paths[c]} › page ${page}`,
                fix: 'the page changed after it was written: restore or re-download the dataset',
              },
            );
          }
          checked++;
        }
        page++;
        seen += header.data_page_header?.num_values ?? header.data_page_header_v2?.num_values ?? 0;
        reader.offset += compressed;
      }
      if (seen !== values) bad(code, file, `${where}: pages hold ${seen} values, the footer says ${values}`);
    });
  });
  if (groupRows !== numRows) bad(code, file, `row groups hold ${groupRows} rows, the footer says ${numRows}`);
  return checked;
}

/** Reads every row of a Parquet file as objects. Every failure is a FormatError with `code`.
 *  `expectedCrc`, when the writer recorded one, is checked against the whole file first. */
export async function readParquetGuarded(file: string, code = 'E_PARQUET', expectedCrc?: number): Promise<ParquetReadResult> {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > MAX_PARQUET_BYTES)
      bad(code, file, `is ${size} bytes, more than the ${MAX_PARQUET_BYTES}-byte limit`, 'split the dataset into smaller data files');
    bytes = readFileSync(file);
  } catch (cause) {
    if (cause instanceof FormatError) throw cause;
    throw new FormatError(code, `${file} is missing or unreadable (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, {
      file,
      fix: 'the dataset is incomplete: restore this file or re-download the dataset',
      cause,
    });
  }
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const u8 = new Uint8Array(ab);
  if (
    u8.byteLength < 12 ||
    new TextDecoder().decode(u8.subarray(0, 4)) !== 'PAR1' ||
    new TextDecoder().decode(u8.subarray(u8.byteLength - 4)) !== 'PAR1'
  ) {
    bad(code, file, 'is not a readable Parquet file (no PAR1 magic at both ends)');
  }
  const fileCrc = expectedCrc === undefined ? undefined : crc32(bytes);
  const changed = () =>
    bad(code, file, `its CRC-32 is ${fileCrc}, the dataset's metadata recorded ${expectedCrc}: the file changed after it was written`);
  let meta: FileMetaData;
  let checkedPages: number;
  try {
    checkFooter(u8, code, file);
    try {
      meta = parquetMetadata(ab);
    } catch (cause) {
      bad(code, file, `is not a readable Parquet file: its footer does not decode (${(cause as Error).message})`, undefined, cause);
    }
    checkedPages = checkStructure(u8, meta, code, file);
  } catch (e) {
    // A damaged page names its column and page; any other damage to a file with a recorded checksum
    // is best told as "the file changed".
    if (fileCrc !== expectedCrc && !(e instanceof PageCrcError)) changed();
    throw e;
  }
  if (fileCrc !== expectedCrc) changed();
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file: ab, metadata: meta, utf8: false })) as Record<string, unknown>[];
  } catch (cause) {
    bad(code, file, `is not a readable Parquet file: ${(cause as Error).message}`, undefined, cause);
  }
  if (rows.length !== Number(meta.num_rows)) bad(code, file, `decoded ${rows.length} rows, the footer says ${String(meta.num_rows)}`);
  return { rows, checkedPages };
}
