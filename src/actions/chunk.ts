// Chunking: merges a trajectory's per-step 7-D deltas into action-chunk elements (DESIGN.md §3).
// A: action dims [dx, dy, dz (m), droll, dpitch, dyaw (rad), gripper (continuous, binarized at 0.5)].
import { ShapeError } from '../errors/index.ts';
import type { ChunkElement } from './types.ts';

export interface ChunkOptions {
  /** Close an element once one axis has moved this far (cm) without a sign change. */
  axisCm: number;
  /** Close an element once the translation reaches this length (cm). */
  totalCm: number;
  /** A step moving an axis by at least this much (cm) against the element's direction on that axis,
   *  after the element has moved that axis by at least this much, starts a new element. */
  signFlipCm: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { axisCm: 2.5, totalCm: 5, signFlipCm: 0.3 };

const RAD_TO_DEG = 180 / Math.PI;

/** Splits steps into elements. Rules, applied per step t in order:
 *  1. t starts a new element if its binarized gripper differs from the current element's, or if
 *     it reverses an axis (rule of `signFlipCm`);
 *  2. t is added to the current element;
 *  3. the element closes after t if one axis has reached `axisCm` or the translation `totalCm`.
 *  So a boundary step always belongs to the element it closes, and the gripper value of an element
 *  is the command of all its steps. Every step belongs to exactly one element. */
export function chunkTrajectory(actions: readonly ArrayLike<number>[], options: Partial<ChunkOptions> = {}): ChunkElement[] {
  const opt = { ...DEFAULT_CHUNKING, ...options };
  const out: ChunkElement[] = [];
  let cur: ChunkElement | null = null;
  actions.forEach((a, t) => {
    if (a.length < 7)
      throw new ShapeError(`action ${t} has ${a.length} values, expected 7 [dx, dy, dz, droll, dpitch, dyaw, gripper]`, {
        field: `actions[${t}]`,
      });
    for (let i = 0; i < 7; i++) {
      if (!Number.isFinite(a[i]!))
        throw new ShapeError(`action ${t} value ${i} is ${a[i]}, expected a finite number`, { field: `actions[${t}][${i}]` });
    }
    const step = [a[0]! * 100, a[1]! * 100, a[2]! * 100];
    const gripper: 0 | 1 = a[6]! >= 0.5 ? 1 : 0;
    if (cur !== null) {
      const c: ChunkElement = cur;
      const sums = [c.dx, c.dy, c.dz];
      const flips = sums.some(
        (s, i) => Math.abs(s) >= opt.signFlipCm && Math.abs(step[i]!) >= opt.signFlipCm && Math.sign(s) !== Math.sign(step[i]!),
      );
      if (c.gripper !== gripper || flips) {
        out.push(c);
        cur = null;
      }
    }
    const e: ChunkElement = cur ?? { dx: 0, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0, gripper, start: t, end: t };
    e.dx += step[0]!;
    e.dy += step[1]!;
    e.dz += step[2]!;
    e.droll += a[3]! * RAD_TO_DEG;
    e.dpitch += a[4]! * RAD_TO_DEG;
    e.dyaw += a[5]! * RAD_TO_DEG;
    e.end = t + 1;
    const axisDone = Math.max(Math.abs(e.dx), Math.abs(e.dy), Math.abs(e.dz)) >= opt.axisCm;
    const totalDone = Math.hypot(e.dx, e.dy, e.dz) >= opt.totalCm;
    if (axisDone || totalDone) {
      out.push(e);
      cur = null;
    } else cur = e;
  });
  if (cur !== null) out.push(cur);
  return out;
}

/** Sum of elements' translations (cm) and rotations (deg). */
export function sumElements(elements: readonly { dx: number; dy: number; dz: number; droll: number; dpitch: number; dyaw: number }[]) {
  const s = { dx: 0, dy: 0, dz: 0, droll: 0, dpitch: 0, dyaw: 0 };
  for (const e of elements) {
    s.dx += e.dx;
    s.dy += e.dy;
    s.dz += e.dz;
    s.droll += e.droll;
    s.dpitch += e.dpitch;
    s.dyaw += e.dyaw;
  }
  return s;
}
