// Motion plans: coarse direction words for a displacement, in the gripper frame (DESIGN.md §3), e.g.
// "move down and slightly forward"; several phases joined by ", then ". And the inverse: the
// per-axis directions a plan states, for audits against the real motion.
import type { ChunkElement } from './types.ts';

export interface MotionThresholds {
  /** Below this (cm) an axis is not mentioned. */
  ignoreCm: number;
  /** Below this (cm) an axis is "slightly". */
  slightCm: number;
  /** At or above this (cm) an axis is "far". */
  farCm: number;
}

export const DEFAULT_MOTION: MotionThresholds = { ignoreCm: 0.75, slightCm: 2.5, farCm: 10 };

const WORDS = [
  ['forward', 'backward'],
  ['left', 'right'],
  ['up', 'down'],
] as const;

export type Sign = -1 | 0 | 1;
export interface PlanPhase {
  x: Sign;
  y: Sign;
  z: Sign;
}

/** Rotates a base-frame displacement into the gripper frame (yaw in radians about +z). */
export function toGripperFrame(d: { dx: number; dy: number; dz: number }, yaw: number): { dx: number; dy: number; dz: number } {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return { dx: c * d.dx + s * d.dy, dy: -s * d.dx + c * d.dy, dz: d.dz };
}

/** One phase: significant axes, largest first; "stay" when nothing is significant. */
export function describeDisplacement(d: { dx: number; dy: number; dz: number }, t: MotionThresholds = DEFAULT_MOTION): string {
  const axes = [d.dx, d.dy, d.dz]
    .map((v, i) => ({ v, i, mag: Math.abs(v) }))
    .filter((a) => a.mag >= t.ignoreCm)
    .sort((a, b) => b.mag - a.mag || a.i - b.i);
  if (axes.length === 0) return 'stay in place';
  const words = axes.map((a) => {
    const dir = WORDS[a.i]![a.v > 0 ? 0 : 1];
    const q = a.mag < t.slightCm ? 'slightly ' : a.mag >= t.farCm ? 'far ' : '';
    return `${q}${dir}`;
  });
  return `move ${words.join(' and ')}`;
}

/** The plan of a segment: its chunk elements grouped into phases by their dominant direction (the
 *  axis and sign of the largest component; at most `maxPhases`, the rest joins the last phase),
 *  each phase described with all its significant axes, joined by ", then ". Elements that barely
 *  move join the current phase. */
export function motionPlan(elements: readonly ChunkElement[], t: MotionThresholds = DEFAULT_MOTION, maxPhases = 3, yaw = 0): string {
  const phases: { dx: number; dy: number; dz: number }[] = [];
  let key = '';
  for (const e of elements) {
    const d = toGripperFrame(e, yaw);
    const comps = [d.dx, d.dy, d.dz];
    const axis = comps.reduce((best, v, i) => (Math.abs(v) > Math.abs(comps[best]!) ? i : best), 0);
    const moving = Math.abs(comps[axis]!) >= t.ignoreCm / 2;
    const k = moving ? `${axis}${comps[axis]! > 0 ? '+' : '-'}` : key;
    if (phases.length === 0 || (k !== key && phases.length < maxPhases)) phases.push({ dx: 0, dy: 0, dz: 0 });
    const last = phases[phases.length - 1]!;
    last.dx += d.dx;
    last.dy += d.dy;
    last.dz += d.dz;
    key = k;
  }
  const described = phases.map((p) => describeDisplacement(p, t)).filter((s) => s !== 'stay in place');
  // Adjacent phases that read the same are one phase.
  const merged = described.filter((s, i) => i === 0 || s !== described[i - 1]);
  if (merged.length === 0) return 'stay in place';
  // "move up, then move forward" reads better as "move up, then forward".
  return merged.map((s, i) => (i === 0 ? s : s.replace(/^move /, ''))).join(', then ');
}

const DIRECTION: Record<string, [keyof PlanPhase, Sign]> = {
  forward: ['x', 1],
  backward: ['x', -1],
  left: ['y', 1],
  right: ['y', -1],
  up: ['z', 1],
  down: ['z', -1],
};

/** The per-axis signs each phase of a plan states; null if the text is not a plan. */
export function planDirections(text: string): PlanPhase[] | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'stay in place') return [{ x: 0, y: 0, z: 0 }];
  if (!trimmed.startsWith('move ')) return null;
  const phases: PlanPhase[] = [];
  for (const part of trimmed.slice(5).split(/,\s*then\s+(?:move\s+)?/)) {
    const phase: PlanPhase = { x: 0, y: 0, z: 0 };
    for (const word of part.split(/\s+and\s+/)) {
      const m = /^(?:slightly\s+|far\s+)?(forward|backward|left|right|up|down)$/.exec(word.trim());
      if (!m) return null;
      const [axis, sign] = DIRECTION[m[1]!]!;
      if (phase[axis] !== 0) return null;
      phase[axis] = sign;
    }
    phases.push(phase);
  }
  return phases;
}
