// The native kernels agree with the reference when the pool has two threads (the default suite runs
// with VLM2VLA_THREADS=1, so the multi-threaded paths run here in a child process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend } from './native.ts';

// Twice: with the pool's workers spinning between jobs (the default) and sleeping at once (spin 0).
for (const spin of [undefined, '0']) {
  test(
    `native kernels with a 2-thread pool equal the reference (worker spin ${spin ?? 'default'})`,
    { skip: loadNativeBackend() === null && 'the native addon is not built' },
    () => {
      const child = fileURLToPath(new URL('./testing/threads-child.ts', import.meta.url));
      const env: NodeJS.ProcessEnv = { ...process.env, VLM2VLA_THREADS: '2' };
      if (spin === undefined) delete env.VLM2VLA_SPIN_US;
      else env.VLM2VLA_SPIN_US = spin;
      const r = spawnSync(process.execPath, ['--import', 'tsx', child], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^ok 2$/m);
    },
  );
}
