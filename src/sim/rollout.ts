// A rollout: one task's world stepped by any policy (the scripted expert, a model in closed-loop
// evaluation), with the history the success predicates need (whether the object was ever placed)
// and the camera frame of the current state.
import { World } from './world.ts';
import type { Gripper } from './world.ts';
import { isSuccess } from './tasks.ts';
import type { Task } from './tasks.ts';
import { renderEncoded } from './renderer.ts';
import type { EncodedImage } from '../data/episode.ts';

/** Where every episode's gripper starts (the expert adds up to ±5 cm in x and y). */
export const GRIPPER_START = { x: 0.3, y: 0, z: 0.25 } as const;

export class Rollout {
  readonly world: World;
  #placedOnce = false;
  #steps = 0;

  constructor(
    readonly task: Task,
    gripper: Partial<Gripper> = {},
  ) {
    this.world = new World(task.placements, { ...GRIPPER_START, ...gripper });
  }

  /** Applies one 7-D action (World.step rules: finite values or SimActionError, then the limits). */
  step(action: ArrayLike<number>): void {
    this.world.step(action);
    this.#steps++;
    if (this.task.target && this.world.object(this.task.object).support === this.task.target) this.#placedOnce = true;
  }

  get steps(): number {
    return this.#steps;
  }

  /** Whether the task's object has rested on its target at some step (pick-place-lift). */
  get placedOnce(): boolean {
    return this.#placedOnce;
  }

  /** The task's success predicate on the current state and history. */
  success(): boolean {
    return isSuccess(this.task, this.world, this.#placedOnce);
  }

  /** The over-the-shoulder camera frame of the current state. */
  frame(size = 256, format: 'jpeg' | 'png' = 'jpeg'): EncodedImage {
    return renderEncoded(this.world, size, format);
  }
}
