// Both dataset writers refuse a NaN or ±Infinity at write time, naming the episode, step and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeRobotWriter } from './lerobot/index.ts';
import { RldsWriter } from './rlds/index.ts';
import { Rng } from '../util/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../sim/index.ts';
import { isVlmError } from '../errors/index.ts';
import type { Episode } from './episode.ts';

function episode(): Episode {
  const rng = new Rng(77);
  return runExpert(sampleTask('pick', rng), rng, { episodeId: 'nan-ep', render: (w) => renderEncoded(w, 8, 'png') }).episode;
}

const poisoned: [string, (e: Episode) => void, RegExp][] = [
  ['action', (e) => (e.steps[3]!.action[2] = NaN), /step 3: action\[2\] is NaN/],
  ['state', (e) => (e.steps[0]!.state[6] = Infinity), /step 0: state\[6\] is Infinity/],
  ['reward', (e) => (e.steps[1]!.reward = -Infinity), /step 1: reward is -Infinity/],
  ['discount', (e) => (e.steps[2]!.discount = NaN), /step 2: discount is NaN/],
];

test('the LeRobot and RLDS writers refuse non-finite values, naming episode, step and field', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vlm2vla-nan-'));
  for (const [name, poison, message] of poisoned) {
    const ep = episode();
    poison(ep);
    const check = (e: unknown) => isVlmError(e) && e.code === 'E_NONFINITE' && /episode nan-ep/.test(e.message) && message.test(e.message);
    const lr = LeRobotWriter.create(join(root, `lr-${name}`));
    assert.throws(() => lr.add(ep), check, `LeRobot ${name}`);
    const rlds = await RldsWriter.create(join(root, `rlds-${name}`), { datasetName: 'nan_test' });
    await assert.rejects(rlds.add(ep), check, `RLDS ${name}`);
  }
});
