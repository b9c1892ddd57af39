// Rollouts: replaying an expert's recorded actions from its first state reproduces its ground-truth
// poses and success; pick-place-lift needs the placement in the history, not just the final lift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/index.ts';
import { TASK_FAMILIES, sampleTask } from './tasks.ts';
import { runExpert } from './expert.ts';
import { Rollout } from './rollout.ts';
import type { Task } from './tasks.ts';

test('replaying recorded actions reproduces the poses and the success of the expert', () => {
  for (let i = 0; i < 8; i++) {
    const rng = new Rng(300 + i);
    const task = sampleTask(TASK_FAMILIES[i % 4]!, rng, 'semantic');
    const { episode, success } = runExpert(task, rng, { episodeId: 'r' });
    const s0 = episode.steps[0]!.state;
    const r = new Rollout(task, { x: s0[0]!, y: s0[1]!, z: s0[2]! });
    episode.steps.forEach((s, t) => {
      // The recorded state is float32, so the replay starts within 1e-7 m of the expert's start.
      const want = episode.groundTruth!.objectPoses[t]!;
      r.world.poses().forEach((p, k) => {
        const q = want[k]!;
        assert.deepEqual([p.id, p.support], [q.id, q.support], `step ${t}`);
        for (const f of ['x', 'y', 'z', 'yaw'] as const)
          assert.ok(Math.abs(p[f] - q[f]) < 1e-6, `step ${t} ${p.id}.${f}: ${p[f]} vs ${q[f]}`);
      });
      r.step(s.action);
    });
    assert.equal(r.steps, episode.steps.length);
    assert.equal(r.success(), success);
    assert.ok(success);
  }
});

test('pick-place-lift succeeds only after the object rested on the target; frames are encoded', () => {
  const task: Task = {
    family: 'pick-place-lift',
    object: 'apple',
    target: 'bowl',
    placements: [
      { id: 'apple', x: 0.3, y: 0, yaw: 0 },
      { id: 'bowl', x: 0.3, y: 0.2, yaw: 0 },
    ],
    instruction: 'x',
    language: 'en',
    suite: 'in-distribution',
  };
  const r = new Rollout(task, { x: 0.3, y: 0, z: 0.07 });
  r.step([0, 0, 0, 0, 0, 0, 0]); // grasp
  for (let i = 0; i < 3; i++) r.step([0, 0, 0.05, 0, 0, 0, 0]);
  assert.equal(r.placedOnce, false);
  assert.equal(r.success(), false, 'lifted but never placed');
  for (let i = 0; i < 4; i++) r.step([0, 0.05, 0, 0, 0, 0, 0]);
  r.step([0, 0, 0, 0, 0, 0, 1]); // release over the bowl
  assert.equal(r.placedOnce, true);
  assert.equal(r.success(), false, 'placed but not lifted again');
  for (const dz of [-0.05, -0.05, -0.04]) r.step([0, 0, dz, 0, 0, 0, 1]); // down to the apple's top in the bowl
  r.step([0, 0, 0, 0, 0, 0, 0]); // re-grasp
  for (let i = 0; i < 3; i++) r.step([0, 0, 0.05, 0, 0, 0, 0]);
  assert.equal(r.success(), true);
  const f = r.frame(32, 'png');
  assert.equal(f.format, 'png');
  assert.deepEqual([f.width, f.height], [32, 32]);
  assert.deepEqual([...f.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
});
