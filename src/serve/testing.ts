// Test policies for the server, the client and the serving benchmark: an echo policy whose answer
// shows what it was sent (and that can be slowed down, made to fail or declare the task done), counting
// resets and calls.
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { BRIDGE_LIMITS } from '../actions/index.ts';
import type { Observation, Policy, PolicyMetadata, PolicyResult } from '../policy/types.ts';

export interface EchoOptions {
  /** Milliseconds each infer() takes (a timer, so the event loop stays free). */
  delayMs?: number;
  /** infer() throws this message. */
  failWith?: string;
  /** The episode's cycle `doneAt` answers done (no actions). */
  doneAt?: number;
}

/** Answers one step [state0..5, image's first red value / 255] and text naming the cycle. */
export class EchoPolicy implements Policy {
  readonly metadata: PolicyMetadata = { name: 'echo', semantics: BRIDGE_SEMANTICS, limits: BRIDGE_LIMITS, actionStyle: 'list' };
  resets: string[] = [];
  calls = 0;
  finished = 0;
  #cycle = 0;

  constructor(readonly options: EchoOptions = {}) {}

  async reset(instruction: string): Promise<void> {
    this.resets.push(instruction);
    this.#cycle = 0;
  }

  async infer(observation: Observation): Promise<PolicyResult> {
    this.calls++;
    if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
    if (this.options.failWith) throw new Error(this.options.failWith);
    this.#cycle++;
    this.finished++;
    const timing = { totalMs: this.options.delayMs ?? 0, stages: { echo: this.options.delayMs ?? 0 } };
    if (this.#cycle === this.options.doneAt) return { actions: [], text: { subtask: `cycle ${this.#cycle}` }, done: true, timing };
    const s = observation.state;
    const step = Float32Array.of(s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, observation.image.rgb[0]! / 255);
    return {
      actions: [step],
      text: { subtask: `cycle ${this.#cycle}`, chunk: observation.instruction },
      timing,
    };
  }
}
