// The safety envelope: the last step between decoded action text and any robot or simulator.
// Order matters: every value is checked with Number.isFinite BEFORE any clamp (NaN passes
// Math.min/Math.max), an element that moves farther than one chunk may (maxElementCm) is refused,
// then elements are split into steps within the per-step limits, then every step's target is clipped
// to the workspace box. A refusal latches the software stop. It is NOT an emergency stop: a real
// robot needs its hardware e-stop; this only stops sending commands.
import { VlmError } from '../errors/index.ts';
import type { ActionElement } from './types.ts';

export interface EnvelopeLimits {
  /** Largest translation per step per axis (cm). Bridge: 5. */
  maxStepCm: number;
  /** Largest rotation per step per axis (rad). Bridge: 0.25. */
  maxStepRad: number;
  /** Workspace box for the end effector (m), base frame. */
  workspace: { min: [number, number, number]; max: [number, number, number] };
  /** Most steps one chunk may expand to. */
  maxSteps: number;
  /** Longest translation one element may ask for (cm, Euclidean). Beyond it the chunk is refused and
   *  the stop latches. Default DEFAULT_MAX_ELEMENT_CM; from training data use elementLimitFromData. */
  maxElementCm?: number;
}

/** Without training data: chunking closes an element once it has moved 5 cm in total (DEFAULT_CHUNKING),
 *  so an element is at most 5 cm plus one step of at most 5 cm; 1.5 × 10 cm. */
export const DEFAULT_MAX_ELEMENT_CM = 15;
/** A step over a per-step limit by at most this factor is clamped (counted); beyond it, refused. */
export const STEP_CLAMP_FACTOR = 1.5;

/** The element limit from the training data: 1.5 × the largest element displacement in it (cm). */
export function elementLimitFromData(elements: Iterable<ActionElement>): number {
  let largest = 0;
  for (const e of elements) if ([e.dx, e.dy, e.dz].every(Number.isFinite)) largest = Math.max(largest, Math.hypot(e.dx, e.dy, e.dz));
  return largest > 0 ? 1.5 * largest : DEFAULT_MAX_ELEMENT_CM;
}

export const BRIDGE_LIMITS: EnvelopeLimits = {
  maxStepCm: 5,
  maxStepRad: 0.25,
  workspace: { min: [0.1, -0.3, 0.0], max: [0.5, 0.3, 0.4] },
  maxSteps: 200,
};

export class UnsafeActionError extends VlmError {
  constructor(message: string, field: string) {
    super('E_UNSAFE_ACTION', message, { field, fix: 'the action was not executed; regenerate it' });
  }
}

export class StoppedError extends VlmError {
  constructor(reason: string) {
    super('E_STOPPED', `the software stop is latched (${reason}); no command is sent`, {
      fix: 'inspect the robot, then call reset() on the envelope',
    });
  }
}

const DEG = Math.PI / 180;

/** Checks and expands decoded elements into executable 7-D steps (m, rad, gripper 0/1). */
export class SafetyEnvelope {
  #stopped: string | null = null;
  #clamped = 0;

  constructor(readonly limits: EnvelopeLimits = BRIDGE_LIMITS) {}

  get stopped(): boolean {
    return this.#stopped !== null;
  }

  /** Latches the software stop; every later call throws until reset(). */
  stop(reason: string): void {
    this.#stopped ??= reason;
  }

  reset(): void {
    this.#stopped = null;
  }

  /** Steps that clipToWorkspace clamped to the per-step limits (over by at most STEP_CLAMP_FACTOR). */
  get clampedSteps(): number {
    return this.#clamped;
  }

  #refuse(message: string, field: string): never {
    this.stop(message);
    throw new UnsafeActionError(message, field);
  }

  /** Steps in metres/radians. Throws UnsafeActionError on any non-finite value (and latches). */
  expand(elements: readonly ActionElement[]): Float32Array[] {
    if (this.#stopped !== null) throw new StoppedError(this.#stopped);
    elements.forEach((e, i) => {
      for (const key of ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'] as const) {
        if (!Number.isFinite(e[key])) {
          this.stop(`non-finite ${key} in element ${i}`);
          throw new UnsafeActionError(`element ${i} has ${key} = ${e[key]}`, `elements[${i}].${key}`);
        }
      }
      if (e.gripper !== 0 && e.gripper !== 1)
        throw new UnsafeActionError(`element ${i} has gripper ${e.gripper}, expected 0 or 1`, `elements[${i}].gripper`);
      const cm = Math.hypot(e.dx, e.dy, e.dz);
      const limit = this.limits.maxElementCm ?? DEFAULT_MAX_ELEMENT_CM;
      if (cm > limit)
        this.#refuse(`element ${i} asks to move ${cm.toFixed(1)} cm, more than one element may (${limit} cm)`, `elements[${i}]`);
    });
    const out: Float32Array[] = [];
    const { maxStepCm, maxStepRad } = this.limits;
    for (const e of elements) {
      const n = Math.max(
        1,
        Math.ceil(Math.max(Math.abs(e.dx), Math.abs(e.dy), Math.abs(e.dz)) / maxStepCm - 1e-9),
        Math.ceil((Math.max(Math.abs(e.droll), Math.abs(e.dpitch), Math.abs(e.dyaw)) * DEG) / maxStepRad - 1e-9),
      );
      if (out.length + n > this.limits.maxSteps)
        throw new UnsafeActionError(`the chunk expands to more than ${this.limits.maxSteps} steps`, 'elements');
      for (let k = 0; k < n; k++) {
        out.push(
          Float32Array.of(
            e.dx / 100 / n,
            e.dy / 100 / n,
            e.dz / 100 / n,
            (e.droll * DEG) / n,
            (e.dpitch * DEG) / n,
            (e.dyaw * DEG) / n,
            e.gripper,
          ),
        );
      }
    }
    return out;
  }

  /** Expands a chunk and clips every step to the workspace box from `position` (m) onward: the
   *  steps an executor may send, in order. */
  expandWithin(elements: readonly ActionElement[], position: ArrayLike<number>): Float32Array[] {
    const steps = this.expand(elements);
    const at = [position[0]!, position[1]!, position[2]!];
    return steps.map((step) => {
      const clipped = this.clipToWorkspace(at, step);
      for (let i = 0; i < 3; i++) at[i]! += clipped[i]!;
      return clipped;
    });
  }

  /** Checks one 7-D step (finite; within the per-step limits, clamped when over by at most
   *  STEP_CLAMP_FACTOR, refused beyond; gripper 0 or 1) and clips it so the end effector at
   *  `position` (m) stays inside the workspace box. */
  clipToWorkspace(position: ArrayLike<number>, step: Float32Array): Float32Array {
    if (this.#stopped !== null) throw new StoppedError(this.#stopped);
    for (let i = 0; i < 3; i++) if (!Number.isFinite(position[i]!)) this.#refuse(`non-finite position on axis ${i}`, `position[${i}]`);
    if (step.length !== 7) this.#refuse(`a step has ${step.length} values, expected 7`, 'step');
    for (let i = 0; i < 7; i++) if (!Number.isFinite(step[i]!)) this.#refuse(`non-finite value on axis ${i}`, `step[${i}]`);
    if (step[6] !== 0 && step[6] !== 1) this.#refuse(`step gripper is ${step[6]}, expected 0 or 1`, 'step[6]');
    const out = Float32Array.from(step);
    let clamped = false;
    for (let i = 0; i < 6; i++) {
      const limit = i < 3 ? this.limits.maxStepCm / 100 : this.limits.maxStepRad;
      const v = out[i]!;
      if (Math.abs(v) > limit * STEP_CLAMP_FACTOR)
        this.#refuse(`step axis ${i} is ${v}, more than ${STEP_CLAMP_FACTOR}× the per-step limit ${limit}`, `step[${i}]`);
      // Float32 steps from expand() may sit a rounding error above the limit; those are not clamps.
      if (Math.abs(v) > limit * (1 + 1e-6)) {
        out[i] = Math.sign(v) * limit;
        clamped = true;
      }
    }
    if (clamped) this.#clamped++;
    const { min, max } = this.limits.workspace;
    for (let i = 0; i < 3; i++) {
      const target = Math.min(max[i]!, Math.max(min[i]!, position[i]! + out[i]!));
      out[i] = target - position[i]!;
    }
    return out;
  }
}
