// The scripted expert succeeds on (nearly) every seeded episode of every task family; the world
// refuses non-finite actions and keeps the gripper in its workspace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/index.ts';
import { TASK_FAMILIES, sampleTask } from './tasks.ts';
import { runExpert } from './expert.ts';
import { World, WORKSPACE } from './world.ts';
import { isVlmError } from '../errors/index.ts';

const EPISODES = 200;

for (const family of TASK_FAMILIES) {
  test(`the expert succeeds on ≥ 98% of ${EPISODES} seeded ${family} episodes`, () => {
    let ok = 0;
    for (let seed = 0; seed < EPISODES; seed++) {
      const rng = new Rng(seed * 7 + 1);
      const task = sampleTask(family, rng);
      const { success, episode } = runExpert(task, rng, { episodeId: `${family}-${seed}` });
      if (success) ok++;
      assert.ok(episode.steps.length > 3);
      for (const s of episode.steps) {
        for (let i = 0; i < 3; i++) {
          assert.ok(Math.abs(s.action[i]!) <= 0.05 + 1e-6);
          // The expert never pushes against the workspace bounds (commands that would be clamped).
          const next = s.state[i]! + s.action[i]!;
          assert.ok(
            next >= WORKSPACE.min[i]! - 1e-6 && next <= WORKSPACE.max[i]! + 1e-6,
            `${family} seed ${seed}: axis ${i} leaves the workspace`,
          );
        }
      }
      assert.equal(episode.groundTruth!.subtasks[0]!.start, 0);
    }
    assert.ok(ok / EPISODES >= 0.98, `${family}: ${ok}/${EPISODES}`);
  });
}

test('the world rejects non-finite actions before clamping and clamps to the workspace', () => {
  const w = new World([{ id: 'apple', x: 0.3, y: 0 }]);
  assert.throws(
    () => w.step([0, Number.NaN, 0, 0, 0, 0, 1]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_ACTION' && e.field === 'action[1]',
  );
  for (let i = 0; i < 20; i++) w.step([0.05, 0.05, 0.05, 0, 0, 0, 1]);
  assert.deepEqual([w.gripper.x, w.gripper.y, w.gripper.z], [WORKSPACE.max[0], WORKSPACE.max[1], WORKSPACE.max[2]]);
  w.step([1, 0, 0, 0, 0, 0, 1]);
  assert.equal(w.gripper.x, WORKSPACE.max[0]);
});
