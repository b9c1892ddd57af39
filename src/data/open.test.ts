// openDataset reads both layouts with one call: the same episodes come out of an RLDS and a LeRobot
// copy of one dataset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from './open.ts';
import { LeRobotWriter } from './lerobot/index.ts';
import { RldsWriter } from './rlds/index.ts';
import { Rng } from '../util/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../sim/index.ts';
import type { Episode } from './episode.ts';
import { isVlmError } from '../errors/index.ts';

test('openDataset reads RLDS and LeRobot v3 folders alike', async () => {
  const eps = [0, 1].map((i) => {
    const rng = new Rng(40 + i);
    return runExpert(sampleTask('pick', rng), rng, { episodeId: `od-${i}`, render: (w) => renderEncoded(w, 8, 'png') }).episode;
  });
  const root = mkdtempSync(join(tmpdir(), 'vlm2vla-open-'));
  const lr = LeRobotWriter.create(join(root, 'lr'));
  for (const e of eps) lr.add(e);
  lr.close();
  const rlds = await RldsWriter.create(join(root, 'rlds'), { datasetName: 'od' });
  for (const e of eps) await rlds.add(e);
  await rlds.close();
  const read = async (dir: string) => {
    const out: Episode[] = [];
    for await (const e of openDataset(dir).episodes()) out.push(e);
    return out;
  };
  assert.equal(openDataset(join(root, 'lr')).layout, 'lerobot');
  assert.equal(openDataset(join(root, 'rlds')).count, 2);
  assert.deepEqual(
    (await read(join(root, 'lr'))).map((e) => [e.metadata.episodeId, e.steps.length, e.instruction]),
    (await read(join(root, 'rlds'))).map((e) => [e.metadata.episodeId, e.steps.length, e.instruction]),
  );
  assert.throws(
    () => openDataset(join(root, 'missing')),
    (e: unknown) => isVlmError(e) && e.code === 'E_RLDS_DATASET',
  );
});
