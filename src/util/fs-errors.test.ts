// Environment faults are typed: an output path that is a file, a read-only or full file system and
// an existing path each give one EnvironmentError naming the path and the fix, found by the
// pre-flight before any long work; fs errors from anywhere are classified the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputDir, checkOutputFile, fsError, withFsErrors } from './fs-errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { mountTmpfs } from './testing.ts';
import { isVlmError } from '../errors/index.ts';

const root = mkdtempSync(join(tmpdir(), 'vlm2vla-fs-'));
const typed = (code: string, path: string) => (e: unknown) =>
  isVlmError(e) && e.code === code && e.file === path && typeof e.fix === 'string' && e.message.includes(path);

test('an output path that is a file, or lies under a file, is refused before any work', () => {
  const file = join(root, 'taken');
  writeFileSync(file, 'x');
  assert.throws(() => checkOutputDir(file), typed('E_OUTPUT_NOT_DIR', file));
  assert.throws(() => checkOutputDir(join(file, 'run', 'a')), typed('E_OUTPUT_NOT_DIR', file));
  assert.throws(() => checkOutputFile(root), typed('E_OUTPUT_NOT_DIR', root));
  assert.throws(() => checkOutputFile(join(file, 'model.gguf')), typed('E_OUTPUT_NOT_DIR', file));
  const fresh = join(root, 'new', 'nested');
  checkOutputDir(fresh);
  assert.deepEqual(readdirSync(fresh), []);
  checkOutputFile(join(root, 'new', 'out.gguf'));
  assert.throws(() => checkOutputDir(root, { minFreeBytes: Number.MAX_SAFE_INTEGER }), typed('E_FS_NO_SPACE', root));
});

test('fs errors are classified by errno, with the path and a fix; other errors pass through', () => {
  const errno = (code: string, path: string) => Object.assign(new Error(`${code}: x, open '${path}'`), { code, path });
  for (const [code, want] of [
    ['EROFS', 'E_FS_READONLY'],
    ['ENOSPC', 'E_FS_NO_SPACE'],
    ['EDQUOT', 'E_FS_NO_SPACE'],
    ['EEXIST', 'E_FS_EXISTS'],
    ['EACCES', 'E_FS_PERMISSION'],
    ['ENOTDIR', 'E_OUTPUT_NOT_DIR'],
    ['EIO', 'E_FS'],
  ] as const) {
    const e = fsError(errno(code, '/x/y'));
    assert.ok(e && e.code === want && e.file === '/x/y' && e.message.includes(code), code);
  }
  assert.equal(fsError(Object.assign(errno('EEXIST', '/a/file'), { syscall: 'mkdir' }))?.code, 'E_OUTPUT_NOT_DIR');
  assert.equal(fsError(new TypeError('bug')), null);
  assert.equal(fsError(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' })), null);
  assert.throws(
    () =>
      withFsErrors('/out', () => {
        throw errno('ENOSPC', '/out/tmp');
      }),
    typed('E_FS_NO_SPACE', '/out'),
  );
});

test(
  'a real read-only file system and a real full disk give typed errors',
  { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' },
  (t) => {
    const fs = mountTmpfs(64);
    if (!fs) return t.skip('mount is not permitted here');
    try {
      mkdirSync(join(fs.dir, 'out'));
      assert.throws(
        () => writeFileAtomic(join(fs.dir, 'out', 'big.bin'), new Uint8Array(256 * 1024)),
        (e: unknown) => fsError(e)?.code === 'E_FS_NO_SPACE',
      );
      assert.throws(() => checkOutputDir(fs.dir, { minFreeBytes: 1 << 20 }), typed('E_FS_NO_SPACE', fs.dir));
      fs.ro();
      assert.throws(() => checkOutputDir(join(fs.dir, 'out')), typed('E_FS_READONLY', join(fs.dir, 'out')));
      assert.throws(() => checkOutputDir(join(fs.dir, 'new')), typed('E_FS_READONLY', join(fs.dir, 'new')));
    } finally {
      fs.done();
    }
  },
);

test('a failed atomic write leaves no temp file behind (target is a folder; disk full mid-write)', (t) => {
  const dir = join(root, 'atomic');
  mkdirSync(join(dir, 'model.gguf'), { recursive: true });
  assert.throws(
    () => writeFileAtomic(join(dir, 'model.gguf'), 'x'),
    (e: unknown) => fsError(e) !== null,
  );
  assert.deepEqual(readdirSync(dir), ['model.gguf']);
  if (process.getuid?.() !== 0) return t.skip('the disk-full half needs root to mount a tmpfs');
  const fs = mountTmpfs(32);
  if (!fs) return t.skip('mount is not permitted here');
  try {
    assert.throws(
      () => writeFileAtomic(join(fs.dir, 'big.gguf'), new Uint8Array(128 * 1024)),
      (e: unknown) => fsError(e)?.code === 'E_FS_NO_SPACE',
    );
    assert.deepEqual(readdirSync(fs.dir), []);
  } finally {
    fs.done();
  }
});
