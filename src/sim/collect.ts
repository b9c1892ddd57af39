// Collecting demonstrations: seeded tasks, the scripted expert, rendered frames, written as RLDS in
// Bridge's schema (with ground truth in the dataset's sidecar). Only successful demonstrations are
// kept unless `keepFailures` is set; the seed of episode k is seed + k, so a run is reproducible.
import { Rng } from '../util/index.ts';
import { RldsWriter } from '../data/rlds/index.ts';
import { sampleTask, TASK_FAMILIES } from './tasks.ts';
import type { Suite, TaskFamily } from './tasks.ts';
import { runExpert } from './expert.ts';
import { renderEncoded } from './renderer.ts';
import { UsageError } from '../errors/index.ts';

export interface CollectOptions {
  out: string;
  tasks: TaskFamily[];
  episodes: number;
  seed: number;
  size: number;
  suite: Suite;
  /** JPEG as in Bridge (default; jpeg-js costs ~22 ms per frame here) or lossless PNG (faster). */
  imageFormat?: 'jpeg' | 'png';
  keepFailures?: boolean;
  onEpisode?: (done: number, failed: number) => void;
}

export async function collectEpisodes(opts: CollectOptions): Promise<{ written: number; failed: number }> {
  for (const t of opts.tasks) if (!TASK_FAMILIES.includes(t)) throw new UsageError(`unknown task family "${t}"`, `use ${TASK_FAMILIES.join(', ')}`);
  const writer = await RldsWriter.create(opts.out, { datasetName: 'vlm2vla_sim', episodesPerShard: 100 });
  let written = 0;
  let failed = 0;
  for (let k = 0; written < opts.episodes; k++) {
    if (k > opts.episodes * 2 + 10) throw new UsageError('the expert failed on more than half of the episodes', 'report this as a bug');
    const rng = new Rng(opts.seed + k);
    const family = opts.tasks[k % opts.tasks.length]!;
    const task = sampleTask(family, rng, opts.suite);
    const { episode, success } = runExpert(task, rng, { episodeId: `sim-${opts.seed}-${k}`, render: (w) => renderEncoded(w, opts.size, opts.imageFormat ?? 'jpeg') });
    if (!success && !opts.keepFailures) {
      failed++;
      continue;
    }
    await writer.add(episode);
    written++;
    opts.onEpisode?.(written, failed);
  }
  await writer.close();
  return { written, failed };
}
