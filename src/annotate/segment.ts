// Segmentation of a trajectory into its subtasks from gripper events and motion: a pick subtask
// ends when the lift after the grasp ends (a grasp subtask at the grasp), a put subtask ends
// at the release, lift/manipulate subtasks take what follows. A = 7-D actions (m, rad, gripper).
import type { PlannedSubtask } from './instruction.ts';

export interface SegmentSpan {
  start: number;
  end: number;
  subtask: number;
}

export interface SegmentOptions {
  /** After the grasp, steps rising at least this much (cm) and more up than sideways are still
   *  part of the pick ("pick up" ends when the lift ends and transport begins). */
  liftStepCm: number;
}

export const DEFAULT_SEGMENTS: SegmentOptions = { liftStepCm: 0.5 };

const closed = (a: ArrayLike<number>) => a[6]! < 0.5;

/** Step ranges per planned subtask; subtasks the trajectory never reaches (truncated episodes) get
 *  no span, and the last reached subtask takes the remaining steps. */
export function segmentTrajectory(
  actions: readonly ArrayLike<number>[],
  subtasks: readonly PlannedSubtask[],
  opt: SegmentOptions = DEFAULT_SEGMENTS,
): SegmentSpan[] {
  const T = actions.length;
  const spans: SegmentSpan[] = [];
  let t = 0;
  for (let k = 0; k < subtasks.length && t < T; k++) {
    const kind = subtasks[k]!.kind;
    const last = k === subtasks.length - 1;
    let end = T;
    if (!last) {
      if (kind === 'pick' || kind === 'grasp') {
        let g = t;
        while (g < T && !closed(actions[g]!)) g++;
        if (g < T) {
          end = g + 1;
          if (kind === 'pick') {
            const lifting = (a: ArrayLike<number>) => a[2]! * 100 >= opt.liftStepCm && a[2]! >= 0.5 * Math.hypot(a[0]!, a[1]!);
            // Skip the steps that hold still while the fingers close, then take the lift.
            while (
              end < T &&
              closed(actions[end]!) &&
              Math.hypot(actions[end]![0]!, actions[end]![1]!, actions[end]![2]!) * 100 < opt.liftStepCm
            )
              end++;
            while (end < T && closed(actions[end]!) && lifting(actions[end]!)) end++;
          }
        }
      } else if (kind === 'put') {
        let r = t;
        while (r < T && closed(actions[r]!)) r++;
        if (r < T) end = r + 1;
      }
    }
    if (end <= t) end = Math.min(T, t + 1);
    spans.push({ start: t, end, subtask: k });
    t = end;
  }
  if (spans.length > 0) spans[spans.length - 1]!.end = T;
  return spans;
}
