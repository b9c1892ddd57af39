// Renderer throughput: frames per second at 128×128 and 256×256 on one core (a 4-object scene with
// the gripper). Run: node --import tsx bench/render.ts
import { World } from '../src/sim/world.ts';
import { render } from '../src/sim/renderer.ts';
import { printMachineLoad, verdict } from './machine.ts';

const load = printMachineLoad();

const world = new World(
  [
    { id: 'apple', x: 0.3, y: 0.1 },
    { id: 'bowl', x: 0.4, y: -0.12 },
    { id: 'carrot', x: 0.25, y: -0.1, yaw: 0.5 },
    { id: 'cup', x: 0.45, y: 0.12 },
  ],
  { x: 0.32, y: 0.05, z: 0.12 },
);
for (const size of [128, 256]) {
  for (let i = 0; i < 20; i++) render(world, size, size);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 2000) {
    render(world, size, size);
    n++;
  }
  const fps = n / ((performance.now() - t0) / 1000);
  console.log(`${size}×${size}: ${fps.toFixed(0)} frames/s${size === 128 ? ` (target ≥ 300: ${verdict(fps >= 300, load)})` : ''}`);
}
