// Reference policies for the closed-loop harness: `expert` (the scripted expert reading the
// simulator's state — an upper bound), `random` (uniform steps within the envelope — a lower
// bound) and `replay` (a recorded episode's actions, step by step). They need the simulator's
// privileged state (expert) or nothing at all (random, replay); none reads the camera.
import { BRIDGE_LIMITS } from '../actions/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { UsageError } from '../errors/index.ts';
import { expertActions } from '../sim/expert.ts';
import type { ExpertStep } from '../sim/expert.ts';
import type { Rollout } from '../sim/rollout.ts';
import { Rng } from '../util/index.ts';
import type { Observation, Policy, PolicyMetadata, PolicyResult } from './types.ts';

const metadataOf = (name: string, extra: Record<string, unknown> = {}): PolicyMetadata => ({
  name,
  semantics: BRIDGE_SEMANTICS,
  limits: BRIDGE_LIMITS,
  ...extra,
});

function rolloutOf(obs: Observation, who: string): Rollout {
  const rollout = obs.privileged?.rollout as Rollout | undefined;
  if (!rollout || typeof rollout !== 'object' || !('world' in rollout))
    throw new UsageError(
      `the ${who} policy reads the simulator's state, and this observation has none`,
      'use it in `vlm2vla eval sim`, not behind a server or on a real robot',
    );
  return rollout;
}

/** The scripted expert (sim/expert.ts), one action per cycle, seeded per episode. */
export class ExpertPolicy implements Policy {
  readonly metadata = metadataOf('expert');
  #actions: Generator<ExpertStep, void, void> | null = null;
  #rollout: Rollout | null = null;
  #episode = 0;

  constructor(readonly seed = 0) {}

  async reset(_instruction: string, options: { seed?: number } = {}): Promise<void> {
    this.#actions = null;
    this.#rollout = null;
    this.#episode = options.seed ?? this.#episode + 1;
  }

  async infer(obs: Observation): Promise<PolicyResult> {
    const started = performance.now();
    const rollout = rolloutOf(obs, 'expert');
    if (this.#rollout !== rollout) {
      this.#rollout = rollout;
      this.#actions = expertActions(rollout.task, rollout.world, new Rng(this.seed * 1_000_003 + this.#episode));
    }
    const next = this.#actions!.next();
    const ms = performance.now() - started;
    if (next.done) return { actions: [], done: true, timing: { totalMs: ms, stages: { expert: ms } } };
    return { actions: [next.value.action], timing: { totalMs: ms, stages: { expert: ms } } };
  }
}

/** Uniform random steps within the per-step limits and a random gripper, seeded. */
export class RandomPolicy implements Policy {
  readonly metadata = metadataOf('random');
  #rng: Rng;

  constructor(
    readonly seed = 0,
    readonly stepsPerCycle = 4,
  ) {
    this.#rng = new Rng(seed);
  }

  async reset(_instruction: string, options: { seed?: number } = {}): Promise<void> {
    if (options.seed !== undefined) this.#rng = new Rng(this.seed * 1_000_003 + options.seed);
  }

  async infer(_obs: Observation): Promise<PolicyResult> {
    const started = performance.now();
    const m = BRIDGE_LIMITS.maxStepCm / 100;
    const actions = Array.from({ length: this.stepsPerCycle }, () =>
      Float32Array.of(
        this.#rng.uniform(-m, m),
        this.#rng.uniform(-m, m),
        this.#rng.uniform(-m, m),
        0,
        0,
        0,
        this.#rng.uniform(0, 1) < 0.5 ? 0 : 1,
      ),
    );
    const ms = performance.now() - started;
    return { actions, timing: { totalMs: ms, stages: { random: ms } } };
  }
}

/** A recorded episode's actions, `stepsPerCycle` at a time; done when they run out. */
export class ReplayPolicy implements Policy {
  readonly metadata = metadataOf('replay');
  #at = 0;

  constructor(
    readonly actions: readonly Float32Array[],
    readonly stepsPerCycle = 1,
  ) {
    actions.forEach((a, i) => {
      if (a.length !== 7 || ![...a].every(Number.isFinite))
        throw new UsageError(
          `replay action ${i} is not 7 finite values`,
          'replay an episode whose actions are [dx, dy, dz, droll, dpitch, dyaw, gripper]',
        );
    });
  }

  async reset(_instruction: string): Promise<void> {
    this.#at = 0;
  }

  async infer(_obs: Observation): Promise<PolicyResult> {
    const chunk = this.actions.slice(this.#at, this.#at + this.stepsPerCycle).map((a) => Float32Array.from(a));
    this.#at += chunk.length;
    return { actions: chunk, done: chunk.length === 0, timing: { totalMs: 0, stages: {} } };
  }
}
