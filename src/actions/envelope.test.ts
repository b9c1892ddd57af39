// The safety envelope refuses (and latches on) an element that moves farther than one chunk may,
// checks and clips every step (finite, per-step limits, gripper, workspace box), and properties
// hold for arbitrary chunks: no step leaves the box or exceeds the per-step limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SafetyEnvelope, BRIDGE_LIMITS, DEFAULT_MAX_ELEMENT_CM, elementLimitFromData } from './envelope.ts';
import type { ActionElement } from './types.ts';
import { chunkTrajectory } from './chunk.ts';
import { isVlmError } from '../errors/index.ts';

const el = (dx: number, dy = 0, dz = 0, gripper: 0 | 1 = 1): ActionElement => ({ dx, dy, dz, droll: 0, dpitch: 0, dyaw: 0, gripper });
const code = (c: string) => (e: unknown) => isVlmError(e) && e.code === c;

test('a chunk asking for 10 m is refused and latches the stop, not executed as 200 steps', () => {
  const env = new SafetyEnvelope();
  assert.throws(
    () => env.expand([el(999.99)]),
    (e: unknown) => code('E_UNSAFE_ACTION')(e) && /999\.99? cm|1000\.0 cm|more than one element may/.test((e as Error).message),
  );
  assert.ok(env.stopped);
  assert.throws(() => env.expand([el(1)]), code('E_STOPPED'));
  env.reset();
  assert.equal(env.expand([el(DEFAULT_MAX_ELEMENT_CM - 0.1)]).length, 3);
  assert.throws(() => env.expand([el(0, 12, 12)]), code('E_UNSAFE_ACTION'));
  const strict = new SafetyEnvelope({ ...BRIDGE_LIMITS, maxElementCm: 4 });
  assert.throws(() => strict.expand([el(4.5)]), code('E_UNSAFE_ACTION'));
});

test('the element limit from training data is 1.5 × its largest element displacement', () => {
  assert.equal(elementLimitFromData([el(3, 4), el(-1)]), 7.5);
  assert.equal(elementLimitFromData([]), DEFAULT_MAX_ELEMENT_CM);
  const steps = Array.from({ length: 40 }, (_, t) => Float32Array.of(0.012 * Math.cos(t / 6), 0.01, -0.004, 0, 0, 0, t < 20 ? 1 : 0));
  const limit = elementLimitFromData(chunkTrajectory(steps));
  const env = new SafetyEnvelope({ ...BRIDGE_LIMITS, maxElementCm: limit });
  assert.doesNotThrow(() => env.expand(chunkTrajectory(steps)));
});

test('every step is checked: non-finite, wrong gripper and far-over-limit steps latch; slightly over is clamped', () => {
  const env = new SafetyEnvelope();
  const at = [0.3, 0, 0.2];
  const clamped = env.clipToWorkspace(at, Float32Array.of(0.06, 0, 0, 0, 0, 0, 1));
  assert.ok(Math.abs(clamped[0]! - 0.05) < 1e-7);
  assert.equal(env.clampedSteps, 1);
  for (const bad of [
    Float32Array.of(0.2, 0, 0, 0, 0, 0, 1),
    Float32Array.of(0, 0, 0, 0, 0, Number.NaN, 1),
    Float32Array.of(0, 0, 0, 0, 0, 0, 0.5),
    Float32Array.of(0, 0, 0),
  ]) {
    const fresh = new SafetyEnvelope();
    assert.throws(() => fresh.clipToWorkspace(at, bad), code('E_UNSAFE_ACTION'), String([...bad]));
    assert.ok(fresh.stopped);
  }
});

test('property: whatever finite chunk comes in, every emitted step is within the limits and the box', () => {
  const { min, max } = BRIDGE_LIMITS.workspace;
  const coord = fc.double({ min: -30, max: 30, noNaN: true });
  const element = fc.record({
    dx: coord,
    dy: coord,
    dz: coord,
    droll: fc.double({ min: -40, max: 40, noNaN: true }),
    dpitch: fc.constant(0),
    dyaw: fc.constant(0),
    gripper: fc.constantFrom(0 as const, 1 as const),
  });
  fc.assert(
    fc.property(
      fc.array(element, { maxLength: 8 }),
      fc.tuple(
        fc.double({ min: min[0], max: max[0], noNaN: true }),
        fc.double({ min: min[1], max: max[1], noNaN: true }),
        fc.double({ min: min[2], max: max[2], noNaN: true }),
      ),
      (elements, start) => {
        const env = new SafetyEnvelope();
        let steps: Float32Array[];
        try {
          steps = env.expandWithin(elements, start);
        } catch (e) {
          assert.ok(code('E_UNSAFE_ACTION')(e), String(e));
          assert.ok(env.stopped);
          return;
        }
        const at = [...start];
        for (const s of steps) {
          for (let i = 0; i < 3; i++) {
            assert.ok(Math.abs(s[i]!) <= BRIDGE_LIMITS.maxStepCm / 100 + 1e-6);
            at[i]! += s[i]!;
            assert.ok(at[i]! >= min[i]! - 1e-6 && at[i]! <= max[i]! + 1e-6, `axis ${i} at ${at[i]}`);
          }
          for (let i = 3; i < 6; i++) assert.ok(Math.abs(s[i]!) <= BRIDGE_LIMITS.maxStepRad + 1e-6);
        }
      },
    ),
    { seed: 24, numRuns: 500 },
  );
});
