// Tests of the checkpoint store: round trip, pruning, damage detection, and SIGKILL at crash points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointStore } from './checkpoint.ts';
import { lrAt, checkSchedule } from './schedule.ts';
import { isVlmError } from '../errors/index.ts';

const quiet = () => {};
const child = fileURLToPath(new URL('./testing/checkpoint-child.ts', import.meta.url));

test('checkpoints round trip, keep the newest N, and survive a damaged newest one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ckpt-'));
  const warnings: string[] = [];
  const store = new CheckpointStore(dir, 2, (m) => warnings.push(m));
  assert.equal(await store.latest(), null);
  for (const step of [10, 20, 30]) {
    await store.save(step, (tmp) => writeFileSync(join(tmp, 'w.bin'), Buffer.alloc(100, step)), { loss: step / 10 });
  }
  assert.deepEqual(store.steps(), [30, 20]);
  const latest = (await store.latest())!;
  assert.equal(latest.step, 30);
  assert.deepEqual(latest.manifest.meta, { loss: 3 });
  assert.deepEqual(readFileSync(join(latest.dir, 'w.bin')), Buffer.alloc(100, 30));
  // Flip a byte in the newest checkpoint: it is skipped with a warning, the previous one is used.
  const damaged = join(latest.dir, 'w.bin');
  const bytes = readFileSync(damaged);
  bytes[7] ^= 1;
  writeFileSync(damaged, bytes);
  assert.equal((await store.latest())!.step, 20);
  assert.match(warnings.join('\n'), /step 30: .*does not match its sha256/);
  await assert.rejects(store.verify(30), (e: unknown) => isVlmError(e) && e.code === 'E_CHECKPOINT_CORRUPT' && e.file === damaged);
  // Saving the same step again replaces it.
  await store.save(30, (tmp) => writeFileSync(join(tmp, 'w.bin'), Buffer.alloc(100, 31)));
  assert.deepEqual(readFileSync(join((await store.latest())!.dir, 'w.bin')), Buffer.alloc(100, 31));
});

test('SIGKILL at every crash point of a save leaves the previous checkpoint intact and no debris', async () => {
  const expectations: [string, number][] = [
    ['checkpoint:files-written', 1],
    ['checkpoint:before-rename', 1],
    ['checkpoint:after-rename', 2],
  ];
  for (const [point, expected] of expectations) {
    const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ckpt-crash-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, dir, '1', '2'], {
      env: { ...process.env, VLM2VLA_CRASH_AT: `${point}@2` },
      encoding: 'utf8',
    });
    assert.equal(run.signal, 'SIGKILL', `${point}: the child was not killed (${run.stderr})`);
    const store = new CheckpointStore(dir, 2, quiet);
    assert.ok(!readdirSync(dir).some((n) => n.startsWith('.')), `${point}: temp folders left behind`);
    assert.equal((await store.latest())?.step, expected, point);
  }
});

test('a checkpoint that fails while being written (disk full) leaves no partial folder, and the last one stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ckpt-full-'));
  const store = new CheckpointStore(dir, 2);
  await store.save(1, (tmp) => writeFileSync(join(tmp, 'w.bin'), Buffer.alloc(10, 1)));
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  await assert.rejects(
    store.save(2, (tmp) => {
      writeFileSync(join(tmp, 'w.bin'), Buffer.alloc(10, 2));
      throw enospc;
    }),
    (e: unknown) => e === enospc,
  );
  assert.deepEqual(readdirSync(dir), ['step-00000001']);
  assert.equal((await store.latest())!.step, 1);
});

test('learning-rate schedules: warm-up, linear and cosine decay, floors; bad configs are typed errors', () => {
  const base = { lr: 1e-3, warmupSteps: 10, totalSteps: 110 };
  assert.equal(lrAt(0, { ...base, kind: 'linear' }), 1e-4);
  assert.equal(lrAt(9, { ...base, kind: 'linear' }), 1e-3);
  assert.equal(lrAt(10, { ...base, kind: 'linear' }), 1e-3);
  assert.ok(Math.abs(lrAt(60, { ...base, kind: 'linear' }) - 5e-4) < 1e-12);
  assert.equal(lrAt(110, { ...base, kind: 'linear' }), 0);
  assert.ok(Math.abs(lrAt(60, { ...base, kind: 'cosine' }) - 5e-4) < 1e-12);
  assert.ok(Math.abs(lrAt(110, { ...base, kind: 'cosine', minLrRatio: 0.1 }) - 1e-4) < 1e-12);
  assert.equal(lrAt(50, { ...base, kind: 'constant' }), 1e-3);
  for (const [patch, field] of [
    [{ lr: 0 }, 'lr'],
    [{ totalSteps: 0 }, 'totalSteps'],
    [{ warmupSteps: 200 }, 'warmupSteps'],
    [{ minLrRatio: 2 }, 'minLrRatio'],
    [{ kind: 'step' }, 'kind'],
  ] as const) {
    assert.throws(
      () => checkSchedule({ ...base, kind: 'linear', ...(patch as object) } as never),
      (e: unknown) => isVlmError(e) && e.field === field,
    );
  }
});
