// sim → RLDS → read back is identical: images byte-equal, floats exact, ground truth kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/index.ts';
import { collectEpisodes, sampleTask, runExpert, renderEncoded } from './index.ts';
import type { TaskFamily } from './index.ts';
import { openRlds } from '../data/rlds/index.ts';
import type { Episode } from '../data/episode.ts';

test('collected episodes read back from RLDS exactly as the expert made them', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'vlm2vla-sim-')), 'data');
  const tasks: TaskFamily[] = ['pick', 'pick-place'];
  const r = await collectEpisodes({ out, tasks, episodes: 4, seed: 11, size: 32, suite: 'in-distribution', imageFormat: 'png' });
  assert.equal(r.written, 4);
  const back: Episode[] = [];
  for await (const ep of openRlds(out).episodes()) back.push(ep);
  assert.equal(back.length, 4);
  for (let k = 0; k < 4; k++) {
    const rng = new Rng(11 + k);
    const { episode } = runExpert(sampleTask(tasks[k % 2]!, rng), rng, { episodeId: `sim-11-${k}`, render: (w) => renderEncoded(w, 32, 'png') });
    assert.deepEqual(back[k], episode);
  }
});
