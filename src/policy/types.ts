// The Policy contract: one observation in (camera frames, robot state, instruction), executable
// actions out (7-D steps in metres and radians, gripper 1 = open / 0 = closed, already through the
// safety envelope), with the text the policy generated and its timing. Every policy — the
// hierarchical VLA, the reference policies of the harness, a remote policy behind a server —
// implements it, so the closed-loop harness and the server treat them alike.
import type { ActionSemantics } from '../data/episode.ts';
import type { RgbImage } from '../data/image.ts';
import type { EnvelopeLimits } from '../actions/index.ts';

/** What a policy sees at one control cycle. */
export interface Observation {
  /** The main camera (over the shoulder, as Bridge's image_0), uint8 RGB. */
  image: RgbImage;
  /** An optional wrist camera. */
  wristImage?: RgbImage;
  /** End-effector state [x, y, z, roll, pitch, yaw, gripper] (m, rad, 1 = open). */
  state: Float32Array;
  /** The task instruction, in any language. */
  instruction: string;
  /** Ground truth that only the simulator has (reference policies and the oracle verifier use it;
   *  a served or model policy never sees it). */
  privileged?: PrivilegedState;
}

/** The simulator's view of the episode, for reference policies and the oracle verifier. */
export interface PrivilegedState {
  /** The rollout being stepped (sim/rollout.ts): its world and task. Typed loosely so this
   *  contract does not pull the simulator into servers and clients. */
  rollout: unknown;
}

export interface PolicyMetadata {
  /** Which policy: `hierarchical`, `nr`, `expert`, `random`, `replay`, `remote`, … */
  name: string;
  /** Frame, units, dimensions and gripper convention of the actions (DESIGN.md §3). */
  semantics: ActionSemantics;
  /** The envelope every returned step respects. */
  limits: EnvelopeLimits;
  /** Action text style the model writes (`list`, `phrase`, `rot`, `tokens`), when it writes text. */
  actionStyle?: string;
  /** Free-form description (model folder, adapter, sampling). */
  [key: string]: unknown;
}

/** The text a language policy produced in one cycle, as generated. */
export interface PolicyText {
  subtasks?: string[];
  subtask?: string;
  plan?: string;
  chunk?: string;
  /** The verifier's answer for the previous cycle's subtask (`yes` / `no`). */
  verify?: string;
}

export interface PolicyTiming {
  /** Wall time of the whole infer() call (ms). */
  totalMs: number;
  /** Per stage (subtasks, plan, chunk, verify, encode, …), ms. */
  stages: Record<string, number>;
}

export interface PolicyResult {
  /** Executable steps, each a Float32Array of 7 [dx, dy, dz, droll, dpitch, dyaw, gripper]. May be
   *  empty when the policy decided the task is done. */
  actions: Float32Array[];
  text?: PolicyText;
  timing: PolicyTiming;
  /** The policy believes the task is finished (no more subtasks). */
  done?: boolean;
  /** Outputs the strict decoder refused and that were regenerated in this cycle. */
  malformed?: number;
  /** The verifier's decision on the previous cycle's subtask (undefined when none was asked). */
  verified?: boolean;
  /** Why no actions came out of this cycle (a stage that exhausted its retries, or the envelope). */
  failed?: string;
}

export interface Policy {
  readonly metadata: PolicyMetadata;
  /** Starts a new episode with this instruction (clears subtasks, cycle counts, latches). A seed
   *  makes the episode's sampling independent of what ran before (the harness passes one per
   *  episode, so results do not depend on how episodes are spread over workers). */
  reset(instruction: string, options?: { seed?: number }): Promise<void>;
  /** One control cycle. */
  infer(observation: Observation): Promise<PolicyResult>;
  /** Releases resources (engine, sockets). */
  close?(): Promise<void>;
}

/** Makes independent policies over shared resources: a server gives each client session its own
 *  policy (episode state: subtasks, cycle count, verifier, the back-end's KV cache) while the loaded
 *  model's weights and tokenizer exist once. */
export interface PolicyFactory {
  /** What every policy it makes declares. */
  readonly metadata: PolicyMetadata;
  /** A fresh policy, in no episode yet. */
  create(): Policy;
  /** Releases the shared resources; call it after every policy made is closed. */
  close?(): Promise<void>;
}
