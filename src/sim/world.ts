// The tabletop world: a table at z = 0, objects with poses, containers that hold objects, and a
// gripper (x, y, z, yaw, aperture) moved by 7-D relative actions (metres, radians; gripper 1 = open,
// 0 = closed, binarized at 0.5). Rules, applied in step():
// 1. every action value must be finite (checked before any clamp), else SimActionError;
// 2. translations are clamped to ±5 cm and yaw to ±0.25 rad per step, then the gripper position to
//    the workspace box (x 0.15…0.55, y −0.3…0.3, z 0.0…0.35 m above the table);
// 3. closing the gripper grasps the nearest non-container object whose centre is within 3 cm
//    horizontally and whose top is within 2.5 cm of the fingertips' height; a held object moves
//    (and turns) with the gripper, its top at the fingertips;
// 4. opening the gripper releases the object: it lands on the container under it (if the
//    container's footprint — a disc, or the yawed rectangle of a towel — contains its centre;
//    containers hold any number of objects; bowls and pots on their inner bottom 1 cm above the
//    base, plates and towels on top), else on the table.
// There are no collisions: the gripper and held objects pass through other objects.
import { VlmError } from '../errors/index.ts';
import type { ObjectPose } from '../data/episode.ts';
import { getObject } from './catalogue.ts';
import type { CatalogueObject } from './catalogue.ts';

export class SimActionError extends VlmError {
  constructor(index: number, value: unknown, message = `action value ${index} is ${String(value)}; actions must be finite numbers`) {
    super('E_SIM_ACTION', message, {
      field: index < 0 ? 'action' : `action[${index}]`,
      fix: 'the policy produced an invalid action; it was not executed',
    });
  }
}

const sceneError = (field: string, message: string) =>
  new VlmError('E_SIM_SCENE', message, {
    field,
    fix: 'give finite positions in metres (table x 0.15…0.55, y −0.3…0.3) and unique object ids',
  });

export const WORKSPACE = { min: [0.15, -0.3, 0.0] as const, max: [0.55, 0.3, 0.35] as const };
export const MAX_STEP_M = 0.05;
export const MAX_STEP_RAD = 0.25;
const GRASP_XY = 0.03;
const GRASP_Z = 0.025;

/** Height of an open container's inner bottom above its base (m). */
export const INNER_FLOOR = 0.01;

/** Bowls and pots: open cylinders that objects rest inside (plates, towels, baskets: on top). */
export function isOpenContainer(spec: CatalogueObject): boolean {
  return spec.container && spec.shape === 'cylinder' && spec.size[2] > 0.02;
}

/** Whether (x, y) lies over an object's footprint: a disc for cylinders, spheres and ellipsoids
 *  (an ellipse), the yawed rectangle for boxes. */
export function insideFootprint(o: { x: number; y: number; yaw: number; spec: CatalogueObject }, x: number, y: number): boolean {
  const dx = x - o.x;
  const dy = y - o.y;
  const c = Math.cos(o.yaw);
  const s = Math.sin(o.yaw);
  const lx = c * dx + s * dy;
  const ly = -s * dx + c * dy;
  const [hx, hy] = o.spec.size;
  if (o.spec.shape === 'box') return Math.abs(lx) <= hx && Math.abs(ly) <= hy;
  const ry = o.spec.shape === 'sphere' ? hx : hy;
  return (lx / hx) ** 2 + (ly / ry) ** 2 <= 1;
}

export interface SimObject {
  id: string;
  spec: CatalogueObject;
  x: number;
  y: number;
  z: number;
  yaw: number;
  /** id of the container it rests on, 'gripper' when held, null on the table. */
  support: string | null;
}

export interface Gripper {
  x: number;
  y: number;
  z: number;
  yaw: number;
  /** 1 open, 0 closed. */
  aperture: 0 | 1;
  holding: string | null;
}

export class World {
  readonly objects: SimObject[];
  gripper: Gripper;

  constructor(placements: { id: string; x: number; y: number; yaw?: number }[], gripper: Partial<Gripper> = {}) {
    const seen = new Set<string>();
    this.objects = placements.map((p, i) => {
      const spec = getObject(p.id);
      if (seen.has(p.id)) throw sceneError(`placements[${i}].id`, `object "${p.id}" is placed twice`);
      seen.add(p.id);
      for (const f of ['x', 'y', 'yaw'] as const)
        if (p[f] !== undefined && !Number.isFinite(p[f]))
          throw sceneError(`placements[${i}].${f}`, `placement of "${p.id}" has ${f} = ${p[f]}`);
      return { id: p.id, spec, x: p.x, y: p.y, z: spec.size[2], yaw: p.yaw ?? 0, support: null };
    });
    this.gripper = { x: 0.3, y: 0, z: 0.25, yaw: 0, aperture: 1, holding: null, ...gripper };
    for (const f of ['x', 'y', 'z', 'yaw'] as const)
      if (!Number.isFinite(this.gripper[f])) throw sceneError(`gripper.${f}`, `the gripper's start ${f} is ${this.gripper[f]}`);
  }

  object(id: string): SimObject {
    const o = this.objects.find((x) => x.id === id);
    if (!o)
      throw new VlmError('E_SIM_OBJECT', `no object "${id}" in the scene`, {
        field: 'id',
        fix: `the scene holds ${this.objects.map((x) => x.id).join(', ')}`,
      });
    return o;
  }

  /** Height of the top surface under (x, y), ignoring `except` (containers only). */
  #surfaceUnder(x: number, y: number, except: string): { z: number; support: string | null } {
    for (const c of this.objects) {
      if (c.id === except || !c.spec.container || c.support === 'gripper') continue;
      if (insideFootprint(c, x, y)) {
        // Objects rest inside bowls and pots (on the inner bottom) and on plates and towels.
        const floor = isOpenContainer(c.spec) ? c.z - c.spec.size[2] + INNER_FLOOR : c.z + c.spec.size[2];
        return { z: floor, support: c.id };
      }
    }
    return { z: 0, support: null };
  }

  step(action: ArrayLike<number>): void {
    if (action.length !== 7)
      throw new SimActionError(
        -1,
        action.length,
        `an action has 7 values [dx, dy, dz, droll, dpitch, dyaw, gripper], got ${action.length}`,
      );
    for (let i = 0; i < 7; i++) if (!Number.isFinite(action[i]!)) throw new SimActionError(i, action[i]);
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
    const g = this.gripper;
    g.x = clamp(g.x + clamp(action[0]!, -MAX_STEP_M, MAX_STEP_M), WORKSPACE.min[0], WORKSPACE.max[0]);
    g.y = clamp(g.y + clamp(action[1]!, -MAX_STEP_M, MAX_STEP_M), WORKSPACE.min[1], WORKSPACE.max[1]);
    g.z = clamp(g.z + clamp(action[2]!, -MAX_STEP_M, MAX_STEP_M), WORKSPACE.min[2], WORKSPACE.max[2]);
    const dyaw = clamp(action[5]!, -MAX_STEP_RAD, MAX_STEP_RAD);
    g.yaw += dyaw;
    const open: 0 | 1 = action[6]! >= 0.5 ? 1 : 0;
    if (g.holding) {
      const o = this.object(g.holding);
      o.x = g.x;
      o.y = g.y;
      o.z = g.z - o.spec.size[2];
      o.yaw += dyaw; // a held object turns with the gripper
    }
    if (open === 0 && g.aperture === 1 && !g.holding) {
      let best: SimObject | null = null;
      let bestD = Infinity;
      for (const o of this.objects) {
        if (o.spec.container) continue; // containers stay on the table (too wide for the gripper)
        const d = Math.hypot(o.x - g.x, o.y - g.y);
        const top = o.z + o.spec.size[2];
        if (d <= GRASP_XY && Math.abs(top - g.z) <= GRASP_Z && d < bestD) {
          best = o;
          bestD = d;
        }
      }
      if (best) {
        g.holding = best.id;
        best.support = 'gripper';
        for (const o of this.objects) if (o.support === best.id) o.support = null;
      }
    }
    if (open === 1 && g.holding) {
      const o = this.object(g.holding);
      const s = this.#surfaceUnder(o.x, o.y, o.id);
      o.support = s.support;
      o.z = s.z + o.spec.size[2];
      g.holding = null;
    }
    g.aperture = open;
  }

  poses(): ObjectPose[] {
    return this.objects.map((o) => ({ id: o.id, x: o.x, y: o.y, z: o.z, yaw: o.yaw, support: o.support }));
  }

  /** State vector [x, y, z, roll, pitch, yaw, gripper] of the end effector. */
  state(): Float32Array {
    const g = this.gripper;
    return Float32Array.of(g.x, g.y, g.z, 0, 0, g.yaw, g.aperture);
  }
}
