// The safety envelope: the last step between decoded action text and any robot or simulator.
// Order matters: every value is checked with Number.isFinite BEFORE any clamp (NaN passes
// Math.min/Math.max), then elements are split into steps within the per-step limits, then targets
// are clipped to the workspace box. A software stop latches. It is NOT an emergency stop: a real
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
    super('E_STOPPED', `the software stop is latched (${reason}); no command is sent`, { fix: 'inspect the robot, then call reset() on the envelope' });
  }
}

const DEG = Math.PI / 180;

/** Checks and expands decoded elements into executable 7-D steps (m, rad, gripper 0/1). */
export class SafetyEnvelope {
  #stopped: string | null = null;

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
      if (e.gripper !== 0 && e.gripper !== 1) throw new UnsafeActionError(`element ${i} has gripper ${e.gripper}, expected 0 or 1`, `elements[${i}].gripper`);
    });
    const out: Float32Array[] = [];
    const { maxStepCm, maxStepRad } = this.limits;
    for (const e of elements) {
      const n = Math.max(
        1,
        Math.ceil(Math.max(Math.abs(e.dx), Math.abs(e.dy), Math.abs(e.dz)) / maxStepCm - 1e-9),
        Math.ceil(Math.max(Math.abs(e.droll), Math.abs(e.dpitch), Math.abs(e.dyaw)) * DEG / maxStepRad - 1e-9),
      );
      if (out.length + n > this.limits.maxSteps) throw new UnsafeActionError(`the chunk expands to more than ${this.limits.maxSteps} steps`, 'elements');
      for (let k = 0; k < n; k++) {
        out.push(Float32Array.of(e.dx / 100 / n, e.dy / 100 / n, e.dz / 100 / n, (e.droll * DEG) / n, (e.dpitch * DEG) / n, (e.dyaw * DEG) / n, e.gripper));
      }
    }
    return out;
  }

  /** Clips one step so the end effector at `position` (m) stays inside the workspace box. */
  clipToWorkspace(position: ArrayLike<number>, step: Float32Array): Float32Array {
    if (this.#stopped !== null) throw new StoppedError(this.#stopped);
    for (let i = 0; i < 3; i++) {
      if (!Number.isFinite(position[i]!) || !Number.isFinite(step[i]!)) {
        this.stop('non-finite position or step');
        throw new UnsafeActionError(`non-finite value on axis ${i}`, `step[${i}]`);
      }
    }
    const out = Float32Array.from(step);
    const { min, max } = this.limits.workspace;
    for (let i = 0; i < 3; i++) {
      const target = Math.min(max[i]!, Math.max(min[i]!, position[i]! + step[i]!));
      out[i] = target - position[i]!;
    }
    return out;
  }
}
