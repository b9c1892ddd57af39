// The Episode: one robot trajectory (images, state, 7-D actions, instruction) shared by every module.
//
// Conventions (DESIGN.md §3): +x forward, +y left, +z up; metres and radians; actions are relative
// end-effector deltas [dx, dy, dz, droll, dpitch, dyaw, gripper] with gripper 1 = open, 0 = closed
// (continuous in real data; binarize at 0.5). State is [x, y, z, roll, pitch, yaw, gripper].

/** Declared meaning of the action and state vectors. Datasets, checkpoints and servers carry it;
 *  a mismatch between two of them is an error, never a guess. */
export interface ActionSemantics {
  /** Coordinate frame name; 'bridge-widowx' = Bridge V2 base frame, +x forward, +y left, +z up. */
  frame: string;
  translationUnit: 'm';
  rotationUnit: 'rad';
  /** Names of the action dimensions, in order. */
  actionDims: readonly string[];
  /** Names of the state dimensions, in order. */
  stateDims: readonly string[];
  /** Gripper value meaning "open" (the other end of [0, 1] means closed). */
  gripperOpen: 1;
  /** Control rate of the recorded steps. */
  controlHz: number;
}

export const BRIDGE_SEMANTICS: ActionSemantics = Object.freeze({
  frame: 'bridge-widowx',
  translationUnit: 'm',
  rotationUnit: 'rad',
  actionDims: Object.freeze(['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper']),
  stateDims: Object.freeze(['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'gripper']),
  gripperOpen: 1,
  controlHz: 5,
}) as ActionSemantics;

/** An encoded camera frame. Bytes are kept encoded (JPEG or PNG) so round trips are byte-exact;
 *  `data/image.ts` decodes to RGB when pixels are needed. */
export interface EncodedImage {
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  bytes: Uint8Array;
}

export interface Step {
  /** Camera name → frame. Bridge names: image_0 (over the shoulder, main), image_1..image_3. */
  images: Record<string, EncodedImage>;
  /** [x, y, z, roll, pitch, yaw, gripper] (7 values). */
  state: Float32Array;
  /** [dx, dy, dz, droll, dpitch, dyaw, gripper] (7 values). */
  action: Float32Array;
  isFirst: boolean;
  isLast: boolean;
  isTerminal: boolean;
  reward: number;
  discount: number;
}

/** Pose of one object at one step (sim ground truth). */
export interface ObjectPose {
  id: string;
  x: number;
  y: number;
  z: number;
  yaw: number;
  /** Id of the container the object rests in or on, or null on the table; "gripper" when held. */
  support: string | null;
}

/** A subtask with its step range [start, end) (sim ground truth or an annotation). */
export interface SubtaskSpan {
  text: string;
  start: number;
  end: number;
}

export interface GroundTruth {
  /** Per step, the pose of every object. */
  objectPoses: ObjectPose[][];
  subtasks: SubtaskSpan[];
  /** Task family and arguments, e.g. { family: 'put', object: 'carrot', target: 'pot' }. */
  task: Record<string, string>;
  success: boolean;
}

export interface EpisodeMetadata {
  /** Where the episode came from: 'sim', 'bridge', 'lerobot', … */
  source: string;
  /** Stable id inside its dataset. */
  episodeId: string;
  /** Original file the episode was read from, when read from disk. */
  filePath?: string;
  semantics: ActionSemantics;
  /** Anything else the source records (kept, not interpreted). */
  extra?: Record<string, unknown>;
}

export interface Episode {
  instruction: string;
  steps: Step[];
  metadata: EpisodeMetadata;
  groundTruth?: GroundTruth;
}

/** Binarize a continuous gripper value at 0.5 (1 = open). */
export function gripperOpen(value: number): 0 | 1 {
  return value >= 0.5 ? 1 : 0;
}
