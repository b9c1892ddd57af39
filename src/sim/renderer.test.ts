// Renderer tests: deterministic frames, height visible (a 5 cm lift changes the image), objects and
// shadows where they should be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './world.ts';
import { render } from './renderer.ts';

const scene = () => new World([{ id: 'apple', x: 0.3, y: 0.1 }, { id: 'bowl', x: 0.4, y: -0.12 }], { x: 0.35, y: 0, z: 0.1 });

test('rendering is deterministic and the frame changes when the gripper moves up 5 cm', () => {
  const a = render(scene(), 128, 128);
  const b = render(scene(), 128, 128);
  assert.deepEqual(a.rgb, b.rgb);
  const w = scene();
  w.step([0, 0, 0.05, 0, 0, 0, 1]);
  const c = render(w, 128, 128);
  let changed = 0;
  for (let i = 0; i < a.rgb.length; i += 3) if (a.rgb[i] !== c.rgb[i] || a.rgb[i + 1] !== c.rgb[i + 1] || a.rgb[i + 2] !== c.rgb[i + 2]) changed++;
  assert.ok(changed > 100, `only ${changed} pixels changed`);
});

test('the apple (left of the robot) is drawn left of the bowl, in its colours', () => {
  const img = render(scene(), 128, 128);
  let redX = 0, redN = 0, blueX = 0, blueN = 0;
  for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) {
    const i = (y * 128 + x) * 3;
    const [r, g, b] = [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
    if (r > 120 && g < 60 && b < 60) (redX += x), redN++;
    if (b > 120 && r < 80) (blueX += x), blueN++;
  }
  assert.ok(redN > 20 && blueN > 50, `red ${redN}, blue ${blueN} pixels`);
  assert.ok(redX / redN < blueX / blueN, 'apple left of bowl');
});
