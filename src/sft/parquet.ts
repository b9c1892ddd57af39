// The SFT dataset as Parquet, shaped like a Hugging Face `datasets` table: a `messages` column
// (list<struct<role: string, content: list<struct<type: string, text: string>>>>) and an `images`
// column (list<struct<bytes: binary, path: string>>, the layout of datasets' Image feature, bytes
// embedded). Written with hyparquet-writer, a CRC-32 in every page header (data/parquet-crc.ts);
// nested columns use the standard 3-level LIST encoding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteWithPageCrcs } from '../data/parquet-crc.ts';
import { writeFileAtomic } from '../util/index.ts';
import type { ChatRecord } from './record.ts';

const utf8 = (name: string) => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
const list = (name: string, children: number) => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', num_children: children },
];

export const SFT_PARQUET_SCHEMA = [
  { name: 'schema', num_children: 2 },
  ...list('messages', 2),
  utf8('role'),
  ...list('content', 2),
  utf8('type'),
  utf8('text'),
  ...list('images', 2),
  { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  utf8('path'),
];

/** Writes records to `file`, reading each image's bytes from `root`. */
export function writeSftParquet(file: string, records: readonly ChatRecord[], root: string): void {
  const messages = records.map((r) =>
    r.messages.map((m) => ({ role: m.role, content: m.content.map((c) => ({ type: c.type, text: c.type === 'text' ? c.text : null })) })),
  );
  const images = records.map((r) => r.images.map((path) => ({ bytes: new Uint8Array(readFileSync(join(root, path))), path })));
  const bytes = parquetWriteWithPageCrcs({
    columnData: [
      { name: 'messages', data: messages },
      { name: 'images', data: images },
    ],
    schema: SFT_PARQUET_SCHEMA,
    kvMetadata: [{ key: 'vlm2vla', value: 'sft/1' }],
  } as unknown as Parameters<typeof parquetWriteWithPageCrcs>[0]);
  writeFileAtomic(file, bytes);
}
