// Episode state per client over one shared policy: a client's episode restarts (policy.reset) when its
// prompt changes or it asks for a reset, and whenever another client's episode ran on the policy in
// between — the policy holds one episode at a time, so interleaved clients each restart it on their turn.
import type { Observation, Policy, PolicyResult } from '../policy/types.ts';

/** One client's episode: the connection of a WebSocket client, or a named HTTP session. */
export interface Episode {
  instruction: string | null;
  resetPending: boolean;
}

export class EpisodeSwitch {
  #active: Episode | null = null;

  constructor(readonly policy: Policy) {}

  static newEpisode(): Episode {
    return { instruction: null, resetPending: true };
  }

  /** Marks an explicit reset; it takes effect at the episode's next observation. */
  static reset(episode: Episode, instruction?: string): void {
    episode.resetPending = true;
    if (instruction !== undefined) episode.instruction = instruction;
  }

  /** One cycle of `episode` on the policy; call it from the request queue (one at a time). */
  async infer(episode: Episode, observation: Observation, reset: boolean): Promise<PolicyResult> {
    if (reset || observation.instruction !== episode.instruction) EpisodeSwitch.reset(episode, observation.instruction);
    if (episode.resetPending || this.#active !== episode) {
      this.#active = null;
      await this.policy.reset(observation.instruction);
      episode.resetPending = false;
      this.#active = episode;
    }
    return this.policy.infer(observation);
  }

  /** The episode's client left. */
  forget(episode: Episode): void {
    if (this.#active === episode) this.#active = null;
  }
}
