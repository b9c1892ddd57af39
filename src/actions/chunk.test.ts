// Tests of chunking, motion plans and the safety envelope on random smooth trajectories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  chunkTrajectory,
  sumElements,
  getCodec,
  motionPlan,
  describeDisplacement,
  planDirections,
  SafetyEnvelope,
  BRIDGE_LIMITS,
} from './index.ts';
import { Rng } from '../util/index.ts';

/** A noisy trajectory: a few straight phases at up to 3 cm per step, gripper toggling between phases. */
function trajectory(seed: number): number[][] {
  const rng = new Rng(seed);
  const out: number[][] = [];
  let gripper = 1;
  for (let p = 0; p < rng.int(1, 5); p++) {
    const dir = [rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-3, 3)];
    for (let s = 0; s < rng.int(1, 12); s++) {
      out.push([
        ...dir.map((d) => (d + rng.normal() * 0.3) / 100),
        rng.normal() * 0.01,
        rng.normal() * 0.01,
        rng.normal() * 0.02,
        gripper + rng.normal() * 0.05,
      ]);
    }
    if (rng.next() < 0.5) gripper = 1 - gripper;
  }
  return out;
}

test('chunking covers every step once, respects thresholds and gripper changes, and decodes to the real displacement', () => {
  const codec = getCodec('list');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
      const actions = trajectory(seed);
      const elements = chunkTrajectory(actions);
      assert.equal(elements[0]!.start, 0);
      assert.equal(elements[elements.length - 1]!.end, actions.length);
      for (let i = 0; i < elements.length; i++) {
        const e = elements[i]!;
        if (i > 0) assert.equal(e.start, elements[i - 1]!.end, 'elements are contiguous');
        for (let t = e.start; t < e.end; t++) assert.equal(actions[t]![6]! >= 0.5 ? 1 : 0, e.gripper, 'one gripper command per element');
        // Without its last step, an element is below both thresholds (it closes as soon as one is reached).
        let sx = 0,
          sy = 0,
          sz = 0;
        for (let t = e.start; t < e.end - 1; t++)
          ((sx += actions[t]![0]! * 100), (sy += actions[t]![1]! * 100), (sz += actions[t]![2]! * 100));
        assert.ok(
          Math.max(Math.abs(sx), Math.abs(sy), Math.abs(sz)) < 2.5 && Math.hypot(sx, sy, sz) < 5,
          `element ${i} should have closed earlier`,
        );
      }
      const real = actions.reduce((acc, a) => [acc[0]! + a[0]! * 100, acc[1]! + a[1]! * 100, acc[2]! + a[2]! * 100], [0, 0, 0]);
      const decoded = codec.decode(codec.encode(elements));
      assert.ok(decoded.ok);
      const sum = sumElements(decoded.value);
      const tolerance = 0.05 * elements.length + 1e-6;
      assert.ok(
        Math.abs(sum.dx - real[0]!) <= tolerance && Math.abs(sum.dy - real[1]!) <= tolerance && Math.abs(sum.dz - real[2]!) <= tolerance,
      );
    }),
    { numRuns: 200, seed: 1 },
  );
});

test('chunking rules on hand-made trajectories', () => {
  const step = (dx: number, dy: number, dz: number, g = 1) => [dx / 100, dy / 100, dz / 100, 0, 0, 0, g];
  // 1 cm steps forward: the element closes at 2.5 cm → after the 3rd step.
  assert.deepEqual(
    chunkTrajectory([step(1, 0, 0), step(1, 0, 0), step(1, 0, 0), step(1, 0, 0)]).map((e) => [e.start, e.end]),
    [
      [0, 3],
      [3, 4],
    ],
  );
  // A reversal on x starts a new element.
  assert.deepEqual(
    chunkTrajectory([step(1, 0, 0), step(-1, 0, 0)]).map((e) => [e.start, e.end]),
    [
      [0, 1],
      [1, 2],
    ],
  );
  // 1.5 cm on every axis per step: after two steps an axis is at 3 cm and the total at 5.2 cm, so it closes.
  assert.deepEqual(
    chunkTrajectory([step(1.5, 1.5, 1.5), step(1.5, 1.5, 1.5), step(1, 1, 1)]).map((e) => [e.start, e.end]),
    [
      [0, 2],
      [2, 3],
    ],
  );
  // Gripper close starts a new element.
  assert.deepEqual(
    chunkTrajectory([step(0.2, 0, 0, 1), step(0, 0, 0, 0), step(0, 0, 1, 0)]).map((e) => [e.start, e.end, e.gripper]),
    [
      [0, 1, 1],
      [1, 3, 0],
    ],
  );
  assert.throws(() => chunkTrajectory([[0, 0, Number.NaN, 0, 0, 0, 1]]), /finite/);
  assert.throws(() => chunkTrajectory([[0, 0, 0]]), /expected 7/);
});

test('motion plans: wording from thresholds, and the directions read back agree with the motion', () => {
  assert.equal(describeDisplacement({ dx: 1, dy: 0.2, dz: -6 }), 'move down and slightly forward');
  assert.equal(describeDisplacement({ dx: 12, dy: -3, dz: 0 }), 'move far forward and right');
  assert.equal(describeDisplacement({ dx: 0.1, dy: -0.2, dz: 0.3 }), 'stay in place');
  const el = (dx: number, dy: number, dz: number) => ({ dx, dy, dz, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 as const, start: 0, end: 1 });
  const plan = motionPlan([el(2, 1, 0), el(2, 1, 0), el(0, 0, -2.5), el(0, 0, -2.5)]);
  assert.equal(plan, 'move forward and slightly left, then down');
  assert.deepEqual(planDirections(plan), [
    { x: 1, y: 1, z: 0 },
    { x: 0, y: 0, z: -1 },
  ]);
  assert.equal(planDirections('jump around'), null);
  assert.equal(planDirections('move left and left'), null);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
      const elements = chunkTrajectory(trajectory(seed));
      const phases = planDirections(motionPlan(elements));
      assert.ok(phases !== null && phases.length >= 1 && phases.length <= 3);
    }),
    { numRuns: 100, seed: 2 },
  );
});

test('safety envelope: non-finite values are refused before any clamp and latch the stop; steps stay within limits', () => {
  const env = new SafetyEnvelope();
  const steps = env.expand([{ dx: 12, dy: -3, dz: 0, droll: 0, dpitch: 0, dyaw: 30, gripper: 0 }]);
  assert.equal(steps.length, 3, '12 cm at 5 cm per step needs 3 steps');
  let sx = 0;
  for (const s of steps) {
    assert.ok(Math.abs(s[0]!) <= BRIDGE_LIMITS.maxStepCm / 100 + 1e-7 && Math.abs(s[5]!) <= BRIDGE_LIMITS.maxStepRad + 1e-7);
    sx += s[0]!;
  }
  assert.ok(Math.abs(sx - 0.12) < 1e-6);
  const clipped = env.clipToWorkspace([0.49, 0, 0.2], Float32Array.of(0.05, 0, 0, 0, 0, 0, 1));
  assert.ok(Math.abs(clipped[0]! - 0.01) < 1e-6);
  assert.throws(
    () => env.expand([{ dx: Number.NaN, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 }]),
    (e: unknown) => (e as { code?: string }).code === 'E_UNSAFE_ACTION',
  );
  assert.ok(env.stopped);
  assert.throws(
    () => env.expand([{ dx: 1, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 }]),
    (e: unknown) => (e as { code?: string }).code === 'E_STOPPED',
  );
  env.reset();
  assert.equal(env.expand([{ dx: 1, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0, gripper: 1 }]).length, 1);
  assert.throws(() => env.clipToWorkspace([Number.NaN, 0, 0], Float32Array.of(0, 0, 0, 0, 0, 0, 1)));
});
