// World rules: grasping (reach, closing edge, containers never grasped), carrying, releasing onto a
// container or the table (falling objects land), per-step limits, unknown ids as typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, MAX_STEP_RAD } from './world.ts';
import { getObject } from './catalogue.ts';
import { isVlmError } from '../errors/index.ts';

const OPEN = 1;
const CLOSED = 0;
const apple = getObject('apple');

/** Gripper fingertips at the apple's top, offset by dx. */
const atApple = (dx: number) =>
  new World(
    [
      { id: 'apple', x: 0.3, y: 0 },
      { id: 'bowl', x: 0.3, y: 0.2 },
    ],
    { x: 0.3 + dx, y: 0, z: apple.size[2] * 2 },
  );

test('closing within reach grasps; the object moves and turns with the gripper', () => {
  const w = atApple(0.02);
  w.step([0, 0, 0, 0, 0, 0, CLOSED]);
  assert.equal(w.gripper.holding, 'apple');
  assert.equal(w.object('apple').support, 'gripper');
  w.step([0, 0, 0.05, 0, 0, 0.1, CLOSED]);
  const a = w.object('apple');
  assert.ok(Math.abs(a.z + apple.size[2] - w.gripper.z) < 1e-12, 'top of the apple at the fingertips');
  assert.ok(Math.abs(a.x - w.gripper.x) < 1e-12 && Math.abs(a.yaw - 0.1) < 1e-12);
});

test('no grasp out of reach, without the closing edge, or of a container', () => {
  const far = atApple(0.035);
  far.step([0, 0, 0, 0, 0, 0, CLOSED]);
  assert.equal(far.gripper.holding, null);
  const high = new World([{ id: 'apple', x: 0.3, y: 0 }], { x: 0.3, y: 0, z: apple.size[2] * 2 + 0.03 });
  high.step([0, 0, 0, 0, 0, 0, CLOSED]);
  assert.equal(high.gripper.holding, null, 'fingertips 3 cm above the top');
  const closedFirst = atApple(0);
  closedFirst.gripper.aperture = 0;
  closedFirst.step([0, 0, 0, 0, 0, 0, CLOSED]);
  assert.equal(closedFirst.gripper.holding, null, 'already closed: no new grasp');
  const bowl = getObject('bowl');
  const atBowl = new World([{ id: 'bowl', x: 0.3, y: 0 }], { x: 0.3, y: 0, z: bowl.size[2] * 2 });
  atBowl.step([0, 0, 0, 0, 0, 0, CLOSED]);
  assert.equal(atBowl.gripper.holding, null);
  assert.equal(atBowl.gripper.aperture, 0);
});

test('opening releases: into a bowl (inner bottom) or onto the table; dropped objects land', () => {
  const w = atApple(0);
  w.step([0, 0, 0, 0, 0, 0, CLOSED]);
  for (let i = 0; i < 4; i++) w.step([0, 0.05, 0.05, 0, 0, 0, CLOSED]);
  assert.ok(w.object('apple').z > 0.2);
  w.step([0, 0, 0, 0, 0, 0, OPEN]);
  const a = w.object('apple');
  const bowl = w.object('bowl');
  assert.equal(a.support, 'bowl');
  assert.equal(w.gripper.holding, null);
  assert.ok(Math.abs(a.z - (bowl.z - bowl.spec.size[2] + 0.01 + apple.size[2])) < 1e-12);
  const t = atApple(0);
  t.step([0, 0, 0, 0, 0, 0, CLOSED]);
  for (let i = 0; i < 4; i++) t.step([0.05, 0, 0.05, 0, 0, 0, CLOSED]);
  t.step([0, 0, 0, 0, 0, 0, 0.7]); // 0.7 binarizes to open
  assert.equal(t.object('apple').support, null);
  assert.equal(t.object('apple').z, apple.size[2]);
  assert.ok(Math.abs(t.object('apple').x - 0.5) < 1e-9);
});

test('yaw is limited per step; unknown object ids are typed errors', () => {
  const w = atApple(0);
  w.step([0, 0, 0, 0, 0, 3, OPEN]);
  assert.equal(w.gripper.yaw, MAX_STEP_RAD);
  w.step([0, 0, 0, 0, 0, -3, OPEN]);
  assert.equal(w.gripper.yaw, 0);
  assert.throws(
    () => w.step([0, 0, 0, 0, 0, Number.POSITIVE_INFINITY, OPEN]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_ACTION' && e.field === 'action[5]',
  );
  assert.equal(w.gripper.yaw, 0, 'a rejected action changes nothing');
  assert.throws(
    () => w.object('teapot'),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_OBJECT',
  );
  assert.throws(
    () => getObject('teapot'),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_OBJECT' && e.field === 'id',
  );
});

test('container footprints: a bowl is a disc, a towel is its yawed rectangle', () => {
  /** Grasps the apple at (0.3, 0), carries it to (x, y) in ≤ 5 cm steps and releases it. */
  const dropAt = (w: World, x: number, y: number) => {
    w.step([0, 0, 0, 0, 0, 0, CLOSED]);
    w.step([0, 0, 0.05, 0, 0, 0, CLOSED]);
    for (let i = 0; i < 20; i++) w.step([x - w.gripper.x, y - w.gripper.y, 0, 0, 0, 0, CLOSED]);
    w.step([0, 0, 0, 0, 0, 0, OPEN]);
    return w.object('apple');
  };
  const scene = (id: string, yaw: number) =>
    new World(
      [
        { id: 'apple', x: 0.3, y: 0 },
        { id, x: 0.4, y: 0.15, yaw },
      ],
      { x: 0.3, y: 0, z: apple.size[2] * 2 },
    );
  assert.equal(dropAt(scene('bowl', 0), 0.4 + 0.045, 0.15 + 0.045).support, 'bowl', 'inside the disc');
  assert.equal(dropAt(scene('bowl', 0), 0.4 + 0.06, 0.15 + 0.06).support, null, 'in the square around the bowl but outside its disc');
  assert.equal(dropAt(scene('towel', Math.PI / 2), 0.4, 0.15 + 0.08).support, 'towel', 'along the turned towel’s long side');
  assert.equal(dropAt(scene('towel', Math.PI / 2), 0.4 + 0.08, 0.15).support, null, 'beyond the turned towel’s short side');
  const onTowel = dropAt(scene('towel', 0), 0.4, 0.15);
  assert.equal(onTowel.z, getObject('towel').size[2] * 2 + apple.size[2], 'resting on top of the towel');
});

test('bad actions and scenes are typed errors', () => {
  const w = atApple(0);
  assert.throws(
    () => w.step([0, 0, 0, 0, 0, 0]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_ACTION' && e.field === 'action' && /got 6/.test(e.message),
  );
  assert.throws(
    () => w.step([0, 0, 0, 0, 0, 0, Number.NaN]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_ACTION' && e.field === 'action[6]',
  );
  assert.throws(
    () => new World([{ id: 'apple', x: Number.NaN, y: 0 }]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_SCENE' && e.field === 'placements[0].x',
  );
  assert.throws(
    () =>
      new World([
        { id: 'apple', x: 0.3, y: 0 },
        { id: 'apple', x: 0.4, y: 0 },
      ]),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_SCENE' && e.field === 'placements[1].id',
  );
  assert.throws(
    () => new World([], { z: Number.POSITIVE_INFINITY }),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_SCENE' && e.field === 'gripper.z',
  );
});
