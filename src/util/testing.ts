// Test helpers for environment faults: a small tmpfs to make a real full disk or read-only file system.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Remounts it read-only. */
  ro(): void;
  /** Unmounts it. */
  done(): void;
}

/** A tmpfs of `sizeKb` KiB (root only: the CI runs as root); null when mounting is not permitted here. */
export function mountTmpfs(sizeKb: number): Tmpfs | null {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return {
    dir,
    ro: () => execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' }),
    done: () => execFileSync('umount', [dir], { stdio: 'ignore' }),
  };
}
