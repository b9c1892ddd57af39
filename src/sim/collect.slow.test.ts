// sim collect killed (SIGKILL) at every instrumented crash point, then rerun: the rerun finishes and
// the dataset equals the one an uninterrupted run writes, episode for episode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRlds } from '../data/rlds/index.ts';
import type { Episode } from '../data/episode.ts';
import { CACHE_DIR } from './index.ts';

const POINTS = ['sim-collect-attempt@1', 'sim-collect-attempt@4', 'sim-collect-before-close', 'sim-collect-after-close'];

async function readBack(out: string): Promise<Episode[]> {
  const back: Episode[] = [];
  for await (const ep of openRlds(out).episodes()) back.push(ep);
  return back;
}

test('a SIGKILL at every crash point of sim collect loses nothing', async () => {
  const argv = (out: string) => [
    'bin/vlm2vla.mjs',
    'sim',
    'collect',
    '--tasks',
    'pick,pick-place-lift',
    '--episodes',
    '4',
    '--seed',
    '41',
    '--size',
    '24',
    '--image-format',
    'png',
    '--out',
    out,
  ];
  const reference = join(mkdtempSync(join(tmpdir(), 'vlm2vla-sim-ref-')), 'data');
  assert.equal(spawnSync(process.execPath, argv(reference), { encoding: 'utf8' }).status, 0);
  const want = await readBack(reference);
  assert.equal(want.length, 4);
  for (const point of POINTS) {
    const out = join(mkdtempSync(join(tmpdir(), 'vlm2vla-sim-kill-')), 'data');
    const killed = spawnSync(process.execPath, argv(out), { env: { ...process.env, VLM2VLA_CRASH_AT: point }, encoding: 'utf8' });
    assert.equal(killed.signal, 'SIGKILL', `${point}: ${killed.stderr}`);
    const rerun = spawnSync(process.execPath, argv(out), { env: { ...process.env, VLM2VLA_CRASH_AT: '' }, encoding: 'utf8' });
    assert.equal(rerun.status, 0, `${point}: ${rerun.stderr}`);
    assert.deepEqual(await readBack(out), want, point);
    assert.ok(!existsSync(join(out, CACHE_DIR)), `${point}: checkpoints removed`);
  }
});
