// Verifiers decide after each cycle whether the current subtask is done: the model itself (the
// verify prompt with the frames before and after the cycle), any OpenAI-compatible VLM (the same
// prompt through an OpenAIBackend), the simulator's ground truth (an oracle that separates policy
// errors from verifier errors), or a fixed budget of cycles per subtask.
import { getPrompt } from '../prompts/index.ts';
import { UsageError } from '../errors/index.ts';
import type { SamplingConfig } from '../decode/index.ts';
import type { Rollout } from '../sim/rollout.ts';
import type { ModelBackend } from './backend.ts';
import { VERIFY_GRAMMAR, parseVerify } from './grammars.ts';
import type { Observation } from './types.ts';

export interface VerifyContext {
  instruction: string;
  subtask: string;
  subtaskIndex: number;
  subtaskCount: number;
  /** Cycles already run on this subtask (≥ 1 when asked). */
  cycles: number;
  before: Observation;
  after: Observation;
  seed: number;
}

export interface VerifyDecision {
  done: boolean;
  /** The verifier's raw answer (model verifiers). */
  text?: string;
  ms: number;
  /** Answers that were not yes/no and were asked again. */
  malformed: number;
}

export interface Verifier {
  readonly name: string;
  verify(ctx: VerifyContext): Promise<VerifyDecision>;
}

/** Tokens the verifier may write (`yes` or `no` and the end of the turn). */
export const VERIFY_MAX_NEW_TOKENS = 4;

/** Asks a model (the policy's own back-end or a remote VLM) the verify prompt; a malformed answer is
 *  asked again up to `retries` times, then counts as "no". */
export class ModelVerifier implements Verifier {
  constructor(
    readonly backend: ModelBackend,
    readonly name: string,
    readonly sampling: SamplingConfig,
    readonly retries = 2,
  ) {}

  async verify(ctx: VerifyContext): Promise<VerifyDecision> {
    const started = performance.now();
    let malformed = 0;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      const out = await this.backend.generate({
        stage: 'verify',
        images: [ctx.before.image, ctx.after.image],
        text: getPrompt('verify').render({ subtask: ctx.subtask }),
        grammar: VERIFY_GRAMMAR,
        sampling: this.sampling,
        maxNewTokens: VERIFY_MAX_NEW_TOKENS,
        seed: ctx.seed + attempt,
      });
      const parsed = parseVerify(out.text);
      if (parsed.ok) return { done: parsed.value, text: out.text, ms: performance.now() - started, malformed };
      malformed++;
    }
    return { done: false, ms: performance.now() - started, malformed };
  }
}

/** Advances after a fixed number of cycles per subtask (for models not trained to verify). */
export class BudgetVerifier implements Verifier {
  readonly name: string;
  constructor(readonly cycles: number) {
    if (!(Number.isInteger(cycles) && cycles >= 1 && cycles <= 1000))
      throw new UsageError(`the verifier budget must be a whole number of cycles in 1…1000, got ${cycles}`, 'e.g. --verifier budget:3');
    this.name = `budget:${cycles}`;
  }

  async verify(ctx: VerifyContext): Promise<VerifyDecision> {
    return { done: ctx.cycles >= this.cycles, ms: 0, malformed: 0 };
  }
}

/** What kind of subtask a text names, from its verb: grasping, placing, lifting or moving next to. */
export type SubtaskKind = 'pick' | 'place' | 'lift' | 'next-to' | 'unknown';

export function subtaskKind(text: string): SubtaskKind {
  const t = text.toLowerCase().trim();
  if (/next to|beside/.test(t)) return 'next-to';
  if (/^(pick|grab|grasp|take)\b/.test(t)) return 'pick';
  if (/^(put|place|drop|set)\b/.test(t)) return 'place';
  if (/^(lift|raise)\b/.test(t)) return 'lift';
  return 'unknown';
}

/** Whether a subtask is done in the simulator's true state: the task's object is held and lifted
 *  (pick, lift), rests on the target and is released (place), or stands next to the target
 *  (next-to). A subtask whose kind cannot be told is judged by the whole task's success. */
export function subtaskDoneInSim(rollout: Rollout, subtask: string): boolean {
  const world = rollout.world;
  const task = rollout.task;
  const o = world.object(task.object);
  const lifted = world.gripper.holding === o.id && o.z - o.spec.size[2] >= 0.05;
  switch (subtaskKind(subtask)) {
    case 'pick':
    case 'lift':
      return lifted;
    case 'place':
      return task.target !== null && o.support === task.target && world.gripper.holding === null;
    case 'next-to': {
      if (!task.target) return false;
      const t = world.object(task.target);
      const d = Math.hypot(o.x - t.x, o.y - t.y);
      return o.support === null && world.gripper.holding === null && d >= 0.04 && d <= 0.15;
    }
    case 'unknown':
      return rollout.success();
  }
}

/** The simulator's ground truth as a verifier (needs the privileged state). */
export class OracleVerifier implements Verifier {
  readonly name = 'oracle';

  async verify(ctx: VerifyContext): Promise<VerifyDecision> {
    const rollout = ctx.after.privileged?.rollout as Rollout | undefined;
    if (!rollout || typeof rollout !== 'object' || !('world' in rollout))
      throw new UsageError(
        "the oracle verifier reads the simulator's state, and this observation has none",
        'use --verifier model, budget:K or openai outside the simulator',
      );
    return { done: subtaskDoneInSim(rollout, ctx.subtask), ms: 0, malformed: 0 };
  }
}
