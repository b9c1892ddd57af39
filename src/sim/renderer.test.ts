// Renderer tests: deterministic frames, height visible (a 5 cm lift changes the image), objects and
// shadows where they should be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './world.ts';
import { render, projectPoint, GRIPPER_OWNER, NO_OWNER } from './renderer.ts';
import type { RgbImage } from '../data/image.ts';

const scene = () =>
  new World(
    [
      { id: 'apple', x: 0.3, y: 0.1 },
      { id: 'bowl', x: 0.4, y: -0.12 },
    ],
    { x: 0.35, y: 0, z: 0.1 },
  );

test('rendering is deterministic and the frame changes when the gripper moves up 5 cm', () => {
  const a = render(scene(), 128, 128);
  const b = render(scene(), 128, 128);
  assert.deepEqual(a.rgb, b.rgb);
  const w = scene();
  w.step([0, 0, 0.05, 0, 0, 0, 1]);
  const c = render(w, 128, 128);
  let changed = 0;
  for (let i = 0; i < a.rgb.length; i += 3)
    if (a.rgb[i] !== c.rgb[i] || a.rgb[i + 1] !== c.rgb[i + 1] || a.rgb[i + 2] !== c.rgb[i + 2]) changed++;
  assert.ok(changed > 100, `only ${changed} pixels changed`);
});

test('the apple (left of the robot) is drawn left of the bowl, in its colours', () => {
  const img = render(scene(), 128, 128);
  let redX = 0,
    redN = 0,
    blueX = 0,
    blueN = 0;
  for (let y = 0; y < 128; y++)
    for (let x = 0; x < 128; x++) {
      const i = (y * 128 + x) * 3;
      const [r, g, b] = [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
      if (r > 120 && g < 60 && b < 60) ((redX += x), redN++);
      if (b > 120 && r < 80) ((blueX += x), blueN++);
    }
  assert.ok(redN > 20 && blueN > 50, `red ${redN}, blue ${blueN} pixels`);
  assert.ok(redX / redN < blueX / blueN, 'apple left of bowl');
});

test('the gripper casts a shadow straight down; lifting it moves the gripper in the image, not the shadow', () => {
  const at = (z: number) => new World([{ id: 'bowl', x: 0.45, y: -0.15 }], { x: 0.35, y: 0.05, z });
  const ground = projectPoint([0.35, 0.05, 0], 128, 128)!;
  const far = projectPoint([0.25, -0.15, 0], 128, 128)!; // bare table, off the grid lines
  const px = (img: RgbImage, [x, y]: [number, number]) => {
    const i = (Math.round(y) * img.width + Math.round(x)) * 3;
    return [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
  };
  const palmRow = (img: RgbImage, z: number) => {
    // The row where the gripper's palm (dark grey) appears in the column above its ground point.
    const col = Math.round(projectPoint([0.35, 0.05, z + 0.07], 128, 128)![0]);
    for (let y = 0; y < img.height; y++) {
      const i = (y * img.width + col) * 3;
      if (img.rgb[i]! < 90 && img.rgb[i + 2]! < 100 && Math.abs(img.rgb[i]! - img.rgb[i + 2]!) < 30) return y;
    }
    return -1;
  };
  const table = px(render(at(0.1), 128, 128), far);
  let previousRow = Infinity;
  for (const z of [0.1, 0.2]) {
    const img = render(at(z), 128, 128);
    const shadow = px(img, ground);
    for (let c = 0; c < 3; c++)
      assert.ok(shadow[c]! < table[c]! * 0.7, `z ${z}: ground under the gripper ${shadow} is not in shadow (table ${table})`);
    const row = palmRow(img, z);
    assert.ok(row >= 0 && row < ground[1], `z ${z}: palm row ${row} should be above the shadow's row ${ground[1]}`);
    assert.ok(row < previousRow, 'a higher gripper appears higher in the image');
    previousRow = row;
  }
  // The projection agrees with the renderer: the apple's centre is drawn in apple red.
  const w = new World([{ id: 'apple', x: 0.3, y: 0.1 }], { x: 0.45, y: -0.2, z: 0.2 });
  const c = px(render(w, 128, 128), projectPoint([0.3, 0.1, 0.035], 128, 128)!);
  assert.ok(c[0]! > 90 && c[0]! > 3 * c[1]! && c[0]! > 3 * c[2]!, `apple centre is ${c}`);
});

test('bowls and pots are open: an object inside is seen from the camera', () => {
  const w = new World(
    [
      { id: 'pot', x: 0.35, y: 0.1 },
      { id: 'block', x: 0.25, y: -0.1 },
    ],
    { x: 0.3, y: -0.2, z: 0.25 },
  );
  // Put the block in the pot by the world's rules (grasp, carry, release).
  w.gripper = { ...w.gripper, x: 0.25, y: -0.1, z: 0.05 };
  w.step([0, 0, 0, 0, 0, 0, 0]);
  for (let i = 0; i < 3; i++) w.step([0, 0, 0.05, 0, 0, 0, 0]);
  for (let i = 0; i < 6; i++)
    w.step(
      [0.1 - (w.gripper.x - 0.25), 0.2 - (w.gripper.y + 0.1), 0, 0, 0, 0, 0].map((v, k) =>
        k < 2 ? Math.max(-0.05, Math.min(0.05, v)) : v,
      ),
    );
  w.step([0, 0, 0, 0, 0, 0, 1]);
  const block = w.object('block');
  assert.equal(block.support, 'pot');
  const pot = w.object('pot');
  assert.ok(block.z + block.spec.size[2] < pot.z + pot.spec.size[2], 'the block is below the rim');
  const img = render(w, 128, 128);
  const [x, y] = projectPoint([block.x, block.y, block.z + block.spec.size[2]], 128, 128)!;
  const i = (Math.round(y) * 128 + Math.round(x)) * 3;
  const [r, g, b] = [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
  assert.ok(g > 100 && b > 100 && r < 40, `the block's top is drawn teal, got ${[r, g, b]}`);
});

test('the owner map says which object each pixel shows, and does not change the image', () => {
  const owners = new Int16Array(128 * 128);
  const img = render(scene(), 128, 128, undefined, owners);
  assert.deepEqual(img.rgb, render(scene(), 128, 128).rgb);
  const at = (p: [number, number, number]) => {
    const [x, y] = projectPoint(p, 128, 128)!;
    return owners[Math.round(y) * 128 + Math.round(x)];
  };
  // Object tops (the apple is a 3.5 cm sphere, the bowl a shallow container) and the gripper's palm.
  assert.equal(at([0.3, 0.1, 0.07]), 0, 'apple');
  assert.equal(at([0.4, -0.12, 0.01]), 1, 'bowl');
  assert.equal(at([0.35, 0, 0.17]), GRIPPER_OWNER, 'gripper palm');
  assert.equal(at([0.6, 0.35, 0]), NO_OWNER, 'bare table');
  const counts = new Map<number, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  assert.deepEqual(
    [...counts.keys()].sort((a, b) => a - b),
    [GRIPPER_OWNER, NO_OWNER, 0, 1],
  );
  assert.throws(() => render(scene(), 128, 128, undefined, new Int16Array(10)), RangeError);
});
