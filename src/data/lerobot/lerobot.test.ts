// LeRobot v3: write → read is exact (image bytes, float32 values, flags, metadata, ground truth);
// bad datasets give typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeRobotWriter, openLeRobot } from './index.ts';
import { Rng } from '../../util/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../../sim/index.ts';
import type { Episode } from '../episode.ts';
import { isVlmError } from '../../errors/index.ts';

function episodes(n: number): Episode[] {
  return Array.from({ length: n }, (_, i) => {
    const rng = new Rng(300 + i);
    return runExpert(sampleTask(i % 2 ? 'pick' : 'pick-place', rng), rng, {
      episodeId: `lr-${i}`,
      render: (w) => renderEncoded(w, 16, i === 0 ? 'jpeg' : 'png'),
    }).episode;
  });
}

async function readAll(dir: string): Promise<Episode[]> {
  const out: Episode[] = [];
  for await (const e of openLeRobot(dir).episodes()) out.push(e);
  return out;
}

test('LeRobot v3 write → read is exact, across several data files', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'vlm2vla-lr-')), 'ds');
  const eps = episodes(5);
  const w = LeRobotWriter.create(dir, { episodesPerFile: 2 });
  for (const e of eps) w.add(e);
  w.close();
  const info = JSON.parse(readFileSync(join(dir, 'meta', 'info.json'), 'utf8'));
  assert.equal(info.codebase_version, 'v3.0');
  assert.equal(info.total_episodes, 5);
  assert.equal(
    info.total_frames,
    eps.reduce((a, e) => a + e.steps.length, 0),
  );
  const stats = JSON.parse(readFileSync(join(dir, 'meta', 'stats.json'), 'utf8'));
  assert.equal(stats.action.q99.length, 7);
  assert.deepEqual(await readAll(dir), eps);
  assert.throws(
    () => LeRobotWriter.create(dir),
    (e: unknown) => isVlmError(e) && e.code === 'E_LEROBOT_EXISTS',
  );
});

test('bad LeRobot datasets are typed errors naming the file and field', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'vlm2vla-lr-bad-')), 'ds');
  const w = LeRobotWriter.create(dir);
  for (const e of episodes(2)) w.add(e);
  w.close();
  const infoPath = join(dir, 'meta', 'info.json');
  const info = JSON.parse(readFileSync(infoPath, 'utf8'));
  const expectError = (fn: () => unknown, field: string) =>
    assert.throws(fn, (e: unknown) => isVlmError(e) && e.code === 'E_LEROBOT' && e.field === field, field);
  writeFileSync(infoPath, JSON.stringify({ ...info, codebase_version: 'v2.1' }));
  expectError(() => openLeRobot(dir), 'codebase_version');
  writeFileSync(
    infoPath,
    JSON.stringify({ ...info, features: { ...info.features, 'observation.images.wrist': { dtype: 'video', shape: [64, 64, 3] } } }),
  );
  expectError(() => openLeRobot(dir), 'video_path');
  writeFileSync(
    infoPath,
    JSON.stringify({
      ...info,
      video_path: 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4',
      features: { ...info.features, 'observation.images.wrist': { dtype: 'video', shape: [64, 64, 4] } },
    }),
  );
  expectError(() => openLeRobot(dir), 'features.observation.images.wrist');
  const noAction = { ...info.features };
  delete noAction.action;
  writeFileSync(infoPath, JSON.stringify({ ...info, features: noAction }));
  expectError(() => openLeRobot(dir), 'features.action');
  writeFileSync(infoPath, JSON.stringify(info));
  writeFileSync(join(dir, 'data', 'chunk-000', 'file-000.parquet'), 'not parquet');
  await assert.rejects(
    readAll(dir),
    (e: unknown) => isVlmError(e) && e.code === 'E_LEROBOT' && /not a readable Parquet file/.test(e.message),
  );
  rmSync(join(dir, 'meta', 'tasks.parquet'));
  await assert.rejects(readAll(dir), (e: unknown) => isVlmError(e) && /tasks\.parquet is missing/.test(e.message));
  writeFileSync(infoPath, '{');
  assert.throws(
    () => openLeRobot(dir),
    (e: unknown) => isVlmError(e) && e.code === 'E_LEROBOT',
  );
});
