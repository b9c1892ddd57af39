// Environment faults as typed errors: a Node file-system error (EROFS, ENOSPC, EEXIST, ENOTDIR, …)
// becomes one EnvironmentError naming the path and the fix, and checkOutputDir() finds the common
// ones (output path is a file, read-only or full file system, no permission) before long work starts.
import { closeSync, fsyncSync, mkdirSync, openSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { VlmError } from '../errors/index.ts';
import type { ErrorCode } from '../errors/index.ts';

/** A fault of the machine or the file system, not of vlm2vla or its input files. */
export class EnvironmentError extends VlmError {}

interface Kind {
  code: ErrorCode;
  what: string;
  fix: (path: string) => string;
}

const KINDS: Record<string, Kind> = {
  EROFS: { code: 'E_FS_READONLY', what: 'is on a read-only file system', fix: () => 'write the output to a writable folder (--out)' },
  EACCES: {
    code: 'E_FS_PERMISSION',
    what: 'is not writable by this user',
    fix: (p) => `choose a folder you may write to, or fix the permissions of ${p}`,
  },
  EPERM: {
    code: 'E_FS_PERMISSION',
    what: 'may not be changed by this user',
    fix: (p) => `choose a folder you may write to, or fix the permissions of ${p}`,
  },
  ENOSPC: {
    code: 'E_FS_NO_SPACE',
    what: 'is on a full disk',
    fix: () => 'free disk space or write to another disk, then run the command again (long jobs resume)',
  },
  EDQUOT: {
    code: 'E_FS_NO_SPACE',
    what: 'is over the disk quota',
    fix: () => 'free space within your quota or write elsewhere, then run the command again',
  },
  EEXIST: { code: 'E_FS_EXISTS', what: 'already exists', fix: (p) => `remove ${p} or choose another output path` },
  ENOTDIR: {
    code: 'E_OUTPUT_NOT_DIR',
    what: 'has a file where a folder is needed',
    fix: () => 'choose an output path whose parents are folders, or move the file away',
  },
  EISDIR: { code: 'E_OUTPUT_NOT_DIR', what: 'is a folder where a file is needed', fix: () => 'give a file path, not a folder' },
  ENOENT: { code: 'E_FS', what: 'does not exist', fix: () => 'check the path' },
  EMFILE: {
    code: 'E_FS',
    what: 'could not be opened: too many open files',
    fix: () => 'raise the open-file limit (ulimit -n) or close other programs',
  },
  EIO: { code: 'E_FS', what: 'could not be read or written (I/O error)', fix: () => 'check the disk (dmesg) and run the command again' },
};

/** The typed error for a Node fs error, or null when `e` is not one. `path` overrides the error's own. */
export function fsError(e: unknown, path?: string): EnvironmentError | null {
  if (e instanceof VlmError || !(e instanceof Error)) return null;
  const errno = (e as NodeJS.ErrnoException).code;
  // mkdir -p over an existing file reports EEXIST: a file stands where a folder is needed.
  const folderOverFile = errno === 'EEXIST' && (e as NodeJS.ErrnoException).syscall === 'mkdir';
  const kind = errno === undefined ? undefined : folderOverFile ? KINDS.ENOTDIR : KINDS[errno];
  if (!kind) return null;
  const where = path ?? (e as NodeJS.ErrnoException).path ?? (e as NodeJS.ErrnoException & { dest?: string }).dest ?? '(unknown path)';
  return new EnvironmentError(kind.code, `${where} ${kind.what} (${errno})`, { file: where, fix: kind.fix(where), cause: e });
}

/** Runs `fn`, turning any fs error it throws into an EnvironmentError naming `path`. */
export function withFsErrors<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fsError(e, path) ?? e;
  }
}

export interface OutputCheck {
  /** Refuse when the file system has less free space than this (bytes). */
  minFreeBytes?: number;
  /** What the folder is for, for messages ("the run folder"). */
  what?: string;
}

/** Pre-flight for a command that writes into folder `dir`: it is (or can be made) a folder, a file
 *  can be created, written, fsynced and removed in it, and the disk has `minFreeBytes` free. Creates
 *  `dir` when missing. Throws EnvironmentError naming the path and the fix. */
export function checkOutputDir(dir: string, { minFreeBytes = 0, what = 'the output folder' }: OutputCheck = {}): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
    if (!isDir)
      throw new EnvironmentError('E_OUTPUT_NOT_DIR', `${dir} is a file, but ${what} must be a folder`, {
        file: dir,
        fix: 'give a folder path (it is created when missing), or move the file away',
      });
  } catch (e) {
    if (e instanceof VlmError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw fsError(e, firstFileAbove(dir) ?? dir)!;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, dir) ?? e;
  }
  if (!isDir) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') throw fsError(e, firstFileAbove(dir) ?? dir) ?? e;
      // A recursive mkdir reports ENOENT for a read-only or unwritable parent; ask once without it.
      if (code === 'ENOENT') throw fsError(realMkdirError(dir) ?? e, dir) ?? e;
      throw fsError(e, dir) ?? e;
    }
  }
  const probe = join(dir, `.vlm2vla-write-check-${process.pid}-${randomBytes(3).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, 'wx');
    writeSync(fd, 'ok\n');
    fsyncSync(fd);
  } catch (e) {
    throw fsError(e, dir) ?? e;
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(probe);
    } catch {
      // Never created (the open failed).
    }
  }
  if (minFreeBytes > 0) {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    if (free < minFreeBytes) {
      throw new EnvironmentError(
        'E_FS_NO_SPACE',
        `${dir} has ${(free / 2 ** 20).toFixed(0)} MiB free, ${what} needs about ${(minFreeBytes / 2 ** 20).toFixed(0)} MiB`,
        { file: dir, fix: 'free disk space or write to another disk' },
      );
    }
  }
}

/** Pre-flight for a command that writes one file: the path is not a folder, and its folder passes
 *  checkOutputDir. */
export function checkOutputFile(file: string, opts: OutputCheck = {}): void {
  try {
    if (statSync(file).isDirectory())
      throw new EnvironmentError('E_OUTPUT_NOT_DIR', `${file} is a folder, but the output must be a file`, {
        file,
        fix: 'give a file path, e.g. out.gguf',
      });
  } catch (e) {
    if (e instanceof VlmError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(e, file) ?? e;
  }
  checkOutputDir(dirname(resolve(file)), { what: `the folder of ${file}`, ...opts });
}

/** The error of creating the first missing folder on the way to `dir` (recursive mkdir hides it). */
function realMkdirError(dir: string): unknown {
  let p = resolve(dir);
  const missing: string[] = [];
  for (;;) {
    try {
      statSync(p);
      break;
    } catch {
      missing.push(p);
      const up = dirname(p);
      if (up === p) return null;
      p = up;
    }
  }
  const first = missing.at(-1);
  if (first === undefined) return null;
  try {
    mkdirSync(first);
    return null;
  } catch (e) {
    return e;
  }
}

/** The nearest ancestor of `path` that exists and is not a folder (the cause of ENOTDIR). */
function firstFileAbove(path: string): string | null {
  let p = resolve(path);
  for (;;) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // Missing or under a file: keep going up.
    }
    const up = dirname(p);
    if (up === p) return null;
    p = up;
  }
}
