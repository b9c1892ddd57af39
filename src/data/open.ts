// One way for commands to open a robot dataset of either layout: a folder with meta/info.json is a
// LeRobot v3 dataset, anything else is read as RLDS (Bridge schema), so every command that takes a
// dataset (annotate, build, sim play, data inspect, the viewer) reads both.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Episode } from './episode.ts';
import { openLeRobot } from './lerobot/index.ts';
import { openRlds } from './rlds/index.ts';

export interface RobotDataset {
  dir: string;
  layout: 'rlds' | 'lerobot';
  /** Episodes the metadata promises, when it says. */
  count: number | null;
  episodes(): AsyncGenerator<Episode>;
}

/** Opens `dir` as LeRobot v3 when it has meta/info.json, else as RLDS (`split` applies to RLDS). */
export function openDataset(dir: string, split = 'train'): RobotDataset {
  if (existsSync(join(dir, 'meta', 'info.json'))) {
    const l = openLeRobot(dir);
    return { dir, layout: 'lerobot', count: l.count, episodes: () => l.episodes() };
  }
  const r = openRlds(dir, split);
  return { dir, layout: 'rlds', count: r.count, episodes: () => r.episodes() };
}
