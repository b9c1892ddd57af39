// The scripted expert: waypoints above the object, down to it, close, lift, over the target, open
// (and lift again), followed at up to 4 cm per step at 5 Hz with Gaussian noise (σ 3 mm). Produces
// an Episode with the commanded 7-D actions, states, object poses per step and subtask spans.
import type { Rng } from '../util/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import type { Episode, GroundTruth, ObjectPose, Step, EncodedImage } from '../data/episode.ts';
import { getObject } from './catalogue.ts';
import type { World } from './world.ts';
import { Rollout, GRIPPER_START } from './rollout.ts';
import { prepositionFor } from './tasks.ts';
import type { Task } from './tasks.ts';

interface Phase {
  /** Subtask index this phase belongs to. */
  subtask: number;
  target: () => [number, number, number];
  gripper: 0 | 1;
  /** Steps to hold still after arriving (gripper actuation). */
  settle: number;
  /** Evaluate the target once, when the phase starts (targets relative to the gripper). */
  fixed?: boolean;
}

const SPEED = 0.04;
const NOISE = 0.003;
const MAX_STEPS = 120;

export interface ExpertOptions {
  /** Renders the camera frame of a world (none: episodes carry no images). */
  render?: (world: World) => EncodedImage;
  episodeId: string;
}

/** The subtask texts of a task, worded as the rules annotator words them. */
export function subtaskTexts(task: Task): string[] {
  const x = getObject(task.object).names.en;
  const y = task.target ? getObject(task.target).names.en : '';
  switch (task.family) {
    case 'pick':
      return [`pick up the ${x}`];
    case 'pick-place':
      return [`pick up the ${x}`, `put the ${x} ${prepositionFor(task.target!)} the ${y}`];
    case 'pick-place-lift':
      return [`pick up the ${x}`, `put the ${x} ${prepositionFor(task.target!)} the ${y}`, `lift the ${x}`];
    case 'move-next-to':
      return [`pick up the ${x}`, `move the ${x} next to the ${y}`];
  }
}

/** One expert step: the 7-D action and the subtask it serves. */
export interface ExpertStep {
  action: Float32Array;
  subtask: number;
}

/** The expert's actions for a task, one at a time, read from the world as it is when each is
 *  asked for: the caller applies every action to `world` (through a Rollout) before the next. At
 *  most 120 actions; the generator ends when the last phase is done. */
export function* expertActions(task: Task, world: World, rng: Rng): Generator<ExpertStep, void, void> {
  const obj = world.object(task.object);
  const top = () => obj.z + obj.spec.size[2];
  const tgt = task.target ? world.object(task.target) : null;
  const phases: Phase[] = [];
  const above = (): [number, number, number] => [obj.x, obj.y, top() + 0.1];
  phases.push({ subtask: 0, target: above, gripper: 1, settle: 0 });
  phases.push({ subtask: 0, target: () => [obj.x, obj.y, top()], gripper: 1, settle: 0 });
  phases.push({ subtask: 0, target: () => [world.gripper.x, world.gripper.y, world.gripper.z], gripper: 0, settle: 1 });
  // Lift 10 cm above the grasp height (at least to 20 cm) so tall objects clear the table too.
  const liftTo = () =>
    [world.gripper.x, world.gripper.y, Math.min(0.33, Math.max(0.2, obj.spec.size[2] * 2 + 0.1))] as [number, number, number];
  phases.push({ subtask: 0, target: liftTo, gripper: 0, settle: 0 });
  if (tgt) {
    let place: () => [number, number, number];
    if (task.family === 'move-next-to') {
      // Beside the target, on the side facing the gripper's approach (toward +y or −y).
      const side = tgt.y > 0 ? -1 : 1;
      place = () => [tgt.x, tgt.y + side * 0.09, obj.spec.size[2] * 2 + 0.01];
    } else {
      place = () => [tgt.x, tgt.y, tgt.z + tgt.spec.size[2] + obj.spec.size[2] * 2 + 0.02];
    }
    phases.push({ subtask: 1, target: () => [place()[0], place()[1], 0.2], gripper: 0, settle: 0 });
    phases.push({ subtask: 1, target: place, gripper: 0, settle: 0 });
    phases.push({ subtask: 1, target: () => [world.gripper.x, world.gripper.y, world.gripper.z], gripper: 1, settle: 1 });
    if (task.family === 'pick-place-lift') {
      phases.push({ subtask: 2, target: () => [obj.x, obj.y, top()], gripper: 1, settle: 0 });
      phases.push({ subtask: 2, target: () => [world.gripper.x, world.gripper.y, world.gripper.z], gripper: 0, settle: 1 });
      phases.push({ subtask: 2, target: liftTo, gripper: 0, settle: 0 });
    } else {
      phases.push({
        subtask: 1,
        target: () => [world.gripper.x, world.gripper.y, world.gripper.z + 0.06],
        gripper: 1,
        settle: 0,
        fixed: true,
      });
    }
  }
  let count = 0;
  for (const phase of phases) {
    const start = phase.fixed ? phase.target() : null;
    for (let guard = 0; guard < 40 && count < MAX_STEPS; guard++) {
      const [tx, ty, tz] = start ?? phase.target();
      const g = world.gripper;
      const d = [tx - g.x, ty - g.y, tz - g.z];
      const dist = Math.hypot(d[0]!, d[1]!, d[2]!);
      if (dist < 0.006 && guard > 0) break;
      const k = dist > SPEED ? SPEED / dist : 1;
      const noisy = d.map((v) => Math.max(-0.05, Math.min(0.05, v * k + rng.normal() * NOISE * (dist > 0.02 ? 1 : 0.2))));
      count++;
      yield { action: Float32Array.of(...noisy, 0, 0, 0, phase.gripper), subtask: phase.subtask };
      if (dist < 0.006) break;
    }
    for (let s = 0; s < phase.settle && count < MAX_STEPS; s++) {
      count++;
      yield { action: Float32Array.of(0, 0, 0, 0, 0, 0, phase.gripper), subtask: phase.subtask };
    }
  }
}

export function runExpert(task: Task, rng: Rng, opts: ExpertOptions): { episode: Episode; success: boolean } {
  const rollout = new Rollout(task, {
    x: GRIPPER_START.x + rng.uniform(-0.05, 0.05),
    y: GRIPPER_START.y + rng.uniform(-0.05, 0.05),
    z: GRIPPER_START.z,
  });
  const world = rollout.world;
  const steps: Step[] = [];
  const poses: ObjectPose[][] = [];
  const subtaskOfStep: number[] = [];
  for (const { action, subtask } of expertActions(task, world, rng)) {
    const image = opts.render?.(world);
    steps.push({
      images: image ? { image_0: image } : {},
      state: world.state(),
      action,
      isFirst: steps.length === 0,
      isLast: false,
      isTerminal: false,
      reward: 0,
      discount: 1,
    });
    poses.push(world.poses());
    subtaskOfStep.push(subtask);
    rollout.step(action);
  }
  const last = steps[steps.length - 1];
  if (last) {
    last.isLast = true;
    last.isTerminal = true;
  }
  const success = rollout.success();
  if (last && success) last.reward = 1;
  const texts = subtaskTexts(task);
  const spans = texts
    .map((text, k) => {
      const idx = subtaskOfStep.flatMap((s, t) => (s === k ? [t] : []));
      return { text, start: idx[0] ?? steps.length, end: (idx[idx.length - 1] ?? steps.length - 1) + 1 };
    })
    .filter((s) => s.end > s.start);
  const groundTruth: GroundTruth = {
    objectPoses: poses,
    subtasks: spans,
    task: {
      family: task.family,
      object: task.object,
      ...(task.target ? { target: task.target } : {}),
      suite: task.suite,
      language: task.language,
    },
    success,
  };
  return {
    episode: {
      instruction: task.instruction,
      steps,
      metadata: { source: 'sim', episodeId: opts.episodeId, semantics: BRIDGE_SEMANTICS },
      groundTruth,
    },
    success,
  };
}
