// Crash-safe file writes: temp file, fsync, rename, fsync the directory; and fsynced journal appends.
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  writeSync,
  mkdirSync,
  unlinkSync,
  existsSync,
  readFileSync,
  truncateSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsync a directory so that renames inside it survive a power loss. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse directory fsync; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write `data` to `path` so that readers see either the old file or the whole new one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // The temp file may already be gone.
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    // The target is a folder, or the folder went read-only: leave no temp file behind.
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
    throw e;
  }
  fsyncDir(dir);
}

/** Append-only JSONL journal: one write + fsync per record; a torn last line is trimmed on open. */
export class Journal {
  private fd: number;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    trimTornTail(path);
    this.fd = openSync(path, 'a');
  }

  append(record: unknown): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    let off = 0;
    while (off < line.length) off += writeSync(this.fd, line, off, line.length - off);
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Remove a partial last line left by a crash mid-write. Returns the number of bytes removed. */
export function trimTornTail(path: string): number {
  if (!existsSync(path)) return 0;
  const buf = readFileSync(path);
  if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return 0;
  const lastNl = buf.lastIndexOf(0x0a);
  const keep = lastNl + 1;
  truncateSync(path, keep);
  return buf.length - keep;
}

/** Read a JSONL file written by Journal, skipping nothing silently: a bad line is reported. */
export function readJsonl<T = unknown>(path: string, onBadLine?: (lineNo: number, text: string) => void): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      out.push(JSON.parse(text) as T);
    } catch {
      onBadLine?.(i + 1, text);
    }
  });
  return out;
}

/** fsync a file that was written by other means (e.g. a streaming writer). */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
