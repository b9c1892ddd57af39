// The VLM2VLA controller (PAPER.md §5): stage 1 writes the subtasks once per episode from the first
// frame; then each cycle writes a motion plan (stage 2) and an action chunk (stage 3) for the
// current subtask; the chunk is decoded by the strict codec, expanded by the safety envelope and
// returned for execution; at the next cycle a verifier decides from the frames before and after
// whether to advance to the next subtask or retry it. Every stage decodes under its grammar when the
// back-end can; an answer the strict decoder refuses is regenerated (counted as malformed) and never
// moves the robot. With reasoning `none` (the -NR ablation) stage 3 alone runs, from frame and task.
import { SafetyEnvelope, BRIDGE_LIMITS } from '../actions/index.ts';
import type { ActionCodec, ActionElement, EnvelopeLimits } from '../actions/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { isVlmError } from '../errors/index.ts';
import type { SamplingConfig } from '../decode/index.ts';
import { GREEDY } from '../decode/index.ts';
import { getPrompt } from '../prompts/index.ts';
import type { Grammar } from '../actions/index.ts';
import type { ModelBackend, StageOutput } from './backend.ts';
import { PLAN_GRAMMAR, SUBTASKS_GRAMMAR, parsePlan, parseSubtasks } from './grammars.ts';
import type { Decoded } from './grammars.ts';
import type { Observation, Policy, PolicyMetadata, PolicyResult, PolicyText } from './types.ts';
import type { Verifier } from './verifiers.ts';

export type Stage = 'subtasks' | 'plan' | 'chunk' | 'act';

/** Sampling per stage. The paper's: plan T 0.1, chunk T 0.5, top-p 0.95; subtasks T 0.5
 *  in-distribution, 1.0 out of distribution. */
export interface StageSampling {
  subtasks: SamplingConfig;
  plan: SamplingConfig;
  chunk: SamplingConfig;
  verify: SamplingConfig;
}

export const PAPER_SAMPLING: StageSampling = {
  subtasks: { temperature: 0.5, topP: 0.95, topK: 0 },
  plan: { temperature: 0.1, topP: 0.95, topK: 0 },
  chunk: { temperature: 0.5, topP: 0.95, topK: 0 },
  verify: GREEDY,
};

export const GREEDY_SAMPLING: StageSampling = { subtasks: GREEDY, plan: GREEDY, chunk: GREEDY, verify: GREEDY };

export const MAX_NEW_TOKENS: Record<Stage, number> = { subtasks: 96, plan: 32, chunk: 192, act: 192 };

export interface HierarchicalOptions {
  backend: ModelBackend;
  codec: ActionCodec;
  /** How the chunk prompt names the action format (CHUNK_FORMATS[style]). */
  formatHint: string;
  reasoning: 'full' | 'none';
  verifier: Verifier;
  sampling: StageSampling;
  seed: number;
  /** Regenerations of a malformed answer per stage and cycle before the cycle gives up. */
  retries: number;
  /** Cycles on one subtask before moving on regardless of the verifier. */
  maxCyclesPerSubtask: number;
  limits: EnvelopeLimits;
  /** Decode under each stage's grammar (false: free decoding, parsed strictly and retried). */
  constrained: boolean;
  name?: string;
  describe?: Record<string, unknown>;
}

export const HIERARCHICAL_DEFAULTS = {
  retries: 3,
  maxCyclesPerSubtask: 8,
  limits: BRIDGE_LIMITS,
  constrained: true,
  reasoning: 'full' as const,
};

interface EpisodeState {
  instruction: string;
  subtasks: string[] | null;
  index: number;
  cyclesOnSubtask: number;
  cycle: number;
  previous: Observation | null;
}

/** Counts of what happened in one cycle, for traces and the harness's table. */
export interface CycleStats {
  malformed: Record<string, number>;
  /** The verifier's decision on the previous cycle (null on the first cycle or without subtasks). */
  verified: boolean | null;
  /** A stage exhausted its retries: the cycle produced no actions. */
  failedStage: string | null;
  reusedTokens: number;
  promptTokens: number;
  /** Why the envelope refused the chunk (nothing was executed). */
  refused?: string;
}

export class HierarchicalPolicy implements Policy {
  readonly metadata: PolicyMetadata;
  readonly envelope: SafetyEnvelope;
  #state: EpisodeState = { instruction: '', subtasks: null, index: 0, cyclesOnSubtask: 0, cycle: 0, previous: null };
  #episode = 0;
  /** Statistics of the last infer() call. */
  lastStats: CycleStats | null = null;

  constructor(readonly opts: HierarchicalOptions) {
    this.envelope = new SafetyEnvelope(opts.limits);
    this.metadata = {
      name: opts.name ?? (opts.reasoning === 'none' ? 'nr' : 'hierarchical'),
      semantics: BRIDGE_SEMANTICS,
      limits: opts.limits,
      actionStyle: opts.codec.style,
      reasoning: opts.reasoning,
      verifier: opts.verifier.name,
      constrained: opts.constrained,
      ...opts.backend.describe(),
      ...(opts.describe ?? {}),
    };
  }

  async reset(instruction: string, options: { seed?: number } = {}): Promise<void> {
    this.#state = { instruction, subtasks: null, index: 0, cyclesOnSubtask: 0, cycle: 0, previous: null };
    this.#episode = options.seed ?? this.#episode + 1;
    this.envelope.reset();
    this.opts.backend.reset?.();
  }

  /** Generates one stage's answer and decodes it strictly, regenerating malformed answers. */
  async #stage<T>(
    stage: Stage,
    images: Observation['image'][],
    text: string,
    grammar: Grammar,
    decode: (text: string) => Decoded<T>,
    sampling: SamplingConfig,
    stats: CycleStats,
    timing: Record<string, number>,
    raw: (s: string) => void,
  ): Promise<T | null> {
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      // The embedded engine decodes without yielding the thread; a turn of the event loop before each
      // generation lets a server read frames and answer WebSocket pings between stages.
      await new Promise((resolve) => setImmediate(resolve));
      const out: StageOutput = await this.opts.backend.generate({
        stage,
        images,
        text,
        grammar: this.opts.constrained ? grammar : null,
        sampling,
        maxNewTokens: MAX_NEW_TOKENS[stage],
        seed: this.#seed(stage, attempt),
      });
      timing[stage] = (timing[stage] ?? 0) + out.ms;
      stats.reusedTokens += out.reusedTokens;
      stats.promptTokens += out.promptTokens;
      raw(out.text);
      const decoded =
        out.finishReason === 'length' && this.opts.constrained ? { ok: false as const, error: 'cut at the token limit' } : decode(out.text);
      if (decoded.ok) return decoded.value;
      stats.malformed[stage] = (stats.malformed[stage] ?? 0) + 1;
    }
    stats.failedStage = stage;
    return null;
  }

  #seed(stage: string, attempt: number): number {
    const s = this.#state;
    let h = this.opts.seed * 1_000_003 + this.#episode * 7919 + s.cycle * 131 + attempt * 17;
    for (const ch of stage) h = (h * 31 + ch.charCodeAt(0)) % 2_147_483_647;
    return h;
  }

  async infer(obs: Observation): Promise<PolicyResult> {
    const started = performance.now();
    if (this.#state.instruction !== obs.instruction) await this.reset(obs.instruction);
    const s = this.#state;
    const timing: Record<string, number> = {};
    const stats: CycleStats = { malformed: {}, verified: null, failedStage: null, reusedTokens: 0, promptTokens: 0 };
    this.lastStats = stats;
    const text: PolicyText = {};
    const finish = (actions: Float32Array[], done = false): PolicyResult => {
      s.previous = obs;
      s.cycle++;
      const malformed = Object.values(stats.malformed).reduce((a, b) => a + b, 0);
      return {
        actions,
        text,
        done,
        malformed,
        ...(stats.verified !== null ? { verified: stats.verified } : {}),
        ...(stats.failedStage !== null
          ? {
              failed: stats.refused
                ? `envelope: ${stats.refused}`
                : `${stats.failedStage}: no well-formed answer in ${this.opts.retries + 1} tries`,
            }
          : {}),
        timing: { totalMs: performance.now() - started, stages: timing },
      };
    };
    const o = this.opts;
    const task = obs.instruction;
    if (o.reasoning === 'none') {
      const elements = await this.#stage(
        'act',
        [obs.image],
        getPrompt('act').render({ task, format: o.formatHint }),
        o.codec.grammar,
        (t) => decodeChunk(o.codec, t),
        o.sampling.chunk,
        stats,
        timing,
        (t) => (text.chunk = t),
      );
      return finish(elements ? this.#execute(elements, obs, stats) : []);
    }
    if (s.subtasks === null) {
      const subtasks = await this.#stage(
        'subtasks',
        [obs.image],
        getPrompt('subtasks').render({ task }),
        SUBTASKS_GRAMMAR,
        parseSubtasks,
        o.sampling.subtasks,
        stats,
        timing,
        (t) => (text.subtasks = [t]),
      );
      // A task whose subtasks cannot be written is worked on as one subtask: the instruction.
      s.subtasks = subtasks ?? [task];
      text.subtasks = s.subtasks;
      stats.failedStage = null;
    } else if (s.previous) {
      const decision = await o.verifier.verify({
        instruction: task,
        subtask: s.subtasks[s.index]!,
        subtaskIndex: s.index,
        subtaskCount: s.subtasks.length,
        cycles: s.cyclesOnSubtask,
        before: s.previous,
        after: obs,
        seed: this.#seed('verify', 0),
      });
      timing.verify = decision.ms;
      if (decision.malformed > 0) stats.malformed.verify = decision.malformed;
      if (decision.text !== undefined) text.verify = decision.text;
      stats.verified = decision.done;
      if (decision.done || s.cyclesOnSubtask >= o.maxCyclesPerSubtask) {
        s.index++;
        s.cyclesOnSubtask = 0;
      }
      if (s.index >= s.subtasks.length) return finish([], true);
    }
    const subtask = s.subtasks[s.index]!;
    text.subtask = subtask;
    s.cyclesOnSubtask++;
    const plan = await this.#stage(
      'plan',
      [obs.image],
      getPrompt('plan').render({ task, subtask }),
      PLAN_GRAMMAR,
      (t) => (parsePlan(t).ok ? { ok: true as const, value: t } : { ok: false as const, error: 'not a plan' }),
      o.sampling.plan,
      stats,
      timing,
      (t) => (text.plan = t),
    );
    if (plan === null) return finish([]);
    const elements = await this.#stage(
      'chunk',
      [obs.image],
      getPrompt('chunk').render({ task, subtask, plan, format: o.formatHint }),
      o.codec.grammar,
      (t) => decodeChunk(o.codec, t),
      o.sampling.chunk,
      stats,
      timing,
      (t) => (text.chunk = t),
    );
    return finish(elements ? this.#execute(elements, obs, stats) : []);
  }

  /** Envelope expansion, then the workspace box from the current state. A refused chunk latches
   *  the software stop (the next cycle starts from reset only at the next episode). */
  #execute(elements: ActionElement[], obs: Observation, stats: CycleStats): Float32Array[] {
    try {
      return this.envelope.expandWithin(elements, obs.state);
    } catch (e) {
      if (isVlmError(e) && (e.code === 'E_UNSAFE_ACTION' || e.code === 'E_STOPPED')) {
        stats.failedStage = 'envelope';
        stats.refused = e.message;
        return [];
      }
      throw e;
    }
  }
}

function decodeChunk(codec: ActionCodec, text: string): Decoded<ActionElement[]> {
  const r = codec.decode(text);
  return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error.message };
}
