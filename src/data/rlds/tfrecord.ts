// TFRecord files, streamed. Each record, all little-endian:
//   u64 length | u32 masked CRC-32C of the 8 length bytes | length bytes of data | u32 masked CRC-32C of the data
// Both CRCs are verified; lengths are capped before anything is allocated.
import { open } from 'node:fs/promises';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { FormatError } from '../../errors/index.ts';
import { maskedCrc32c } from './crc32c.ts';

/** Largest record accepted (a Bridge episode with four 256×256 cameras is ~10 MB). */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

export interface TfRecord {
  index: number;
  offset: number;
  data: Uint8Array;
}

function recordError(code: string, file: string, index: number, offset: number, message: string, fix: string): FormatError {
  return new FormatError(code, `${file}: record ${index} at byte ${offset}: ${message}`, { file, field: `record ${index}`, fix });
}

/** Streams the records of one file; memory holds one record at a time. */
export async function* readTfRecords(file: string, maxRecordBytes = MAX_RECORD_BYTES): AsyncGenerator<TfRecord> {
  const fh = await open(file, 'r').catch((cause: unknown) => {
    throw new FormatError('E_TFRECORD_OPEN', `cannot open ${file}: ${(cause as Error).message}`, { file, fix: 'check the path', cause });
  });
  try {
    const size = (await fh.stat()).size;
    const header = new Uint8Array(12);
    const footer = new Uint8Array(4);
    let offset = 0;
    for (let index = 0; offset < size; index++) {
      const truncated = (what: string) =>
        recordError(
          'E_TFRECORD_TRUNCATED',
          file,
          index,
          offset,
          `the file ends inside the ${what}`,
          'the shard was cut short (interrupted copy?); re-copy it',
        );
      if (size - offset < 12) throw truncated('record header');
      await fh.read(header, 0, 12, offset);
      const view = new DataView(header.buffer);
      const length = view.getBigUint64(0, true);
      const lengthCrc = view.getUint32(8, true);
      if (maskedCrc32c(header.subarray(0, 8)) !== lengthCrc) {
        throw recordError(
          'E_TFRECORD_CRC',
          file,
          index,
          offset,
          'the CRC of the length field does not match',
          'the shard is corrupt; re-copy it',
        );
      }
      if (length > BigInt(maxRecordBytes)) {
        throw recordError(
          'E_TFRECORD_TOO_LARGE',
          file,
          index,
          offset,
          `declares ${length} bytes, more than the limit of ${maxRecordBytes}`,
          'not a TFRecord file, or corrupt',
        );
      }
      const n = Number(length);
      if (size - offset - 12 < n + 4) throw truncated('record data');
      const data = new Uint8Array(n);
      await fh.read(data, 0, n, offset + 12);
      await fh.read(footer, 0, 4, offset + 12 + n);
      if (maskedCrc32c(data) !== new DataView(footer.buffer).getUint32(0, true)) {
        throw recordError('E_TFRECORD_CRC', file, index, offset, 'the CRC of the data does not match', 'the shard is corrupt; re-copy it');
      }
      yield { index, offset, data };
      offset += 16 + n;
    }
  } finally {
    await fh.close();
  }
}

/** Appends records to a new file; `close()` fsyncs. */
export class TfRecordWriter {
  readonly #fd: number;
  count = 0;

  constructor(readonly file: string) {
    this.#fd = openSync(file, 'w');
  }

  write(data: Uint8Array): void {
    const header = new Uint8Array(12);
    const view = new DataView(header.buffer);
    view.setBigUint64(0, BigInt(data.length), true);
    view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
    const footer = new Uint8Array(4);
    new DataView(footer.buffer).setUint32(0, maskedCrc32c(data), true);
    for (const part of [header, data, footer]) {
      let off = 0;
      while (off < part.length) off += writeSync(this.#fd, part, off, part.length - off);
    }
    this.count++;
  }

  close(): void {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }
}
