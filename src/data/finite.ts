// Write-time check shared by the dataset writers: an episode with a NaN or ±Infinity anywhere in its
// numbers is refused before a byte is written, naming the episode, step and field (the readers
// refuse such values too, so writing them would only produce a dataset nobody can read).
import { FormatError } from '../errors/index.ts';
import type { Episode } from './episode.ts';

/** Throws E_NONFINITE for the first non-finite state, action, reward or discount value. */
export function assertFiniteEpisode(ep: Episode, file?: string): void {
  const id = ep.metadata.episodeId;
  const refuse = (t: number, field: string, value: number): never => {
    throw new FormatError('E_NONFINITE', `episode ${id} step ${t}: ${field} is ${value}; datasets hold finite numbers only`, {
      ...(file === undefined ? {} : { file }),
      field: `episode ${id} › step ${t} › ${field}`,
      fix: 'find where the value became non-finite (a division by zero, a failed sensor read) and fix or drop the episode',
    });
  };
  ep.steps.forEach((s, t) => {
    for (let i = 0; i < s.state.length; i++) if (!Number.isFinite(s.state[i]!)) refuse(t, `state[${i}]`, s.state[i]!);
    for (let i = 0; i < s.action.length; i++) if (!Number.isFinite(s.action[i]!)) refuse(t, `action[${i}]`, s.action[i]!);
    if (!Number.isFinite(s.reward)) refuse(t, 'reward', s.reward);
    if (!Number.isFinite(s.discount)) refuse(t, 'discount', s.discount);
  });
}
