// Collecting demonstrations: seeded tasks, the scripted expert, rendered frames, written as RLDS in
// Bridge's schema (with ground truth in the dataset's sidecar). Only successful demonstrations are
// kept unless `keepFailures` is set; attempt k uses seed + k, so a run is reproducible.
// Resumable: each finished attempt is checkpointed in DIR/.sim-collect/ (ep-<k>.json, then a line in
// attempts.jsonl); a rerun with the same options skips them. When all are done the RLDS dataset is
// written from the checkpoints, DIR/sim_collect.json records the options, and the checkpoints go.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, Rng, crashPoint, readJsonl, writeFileAtomic } from '../util/index.ts';
import { RldsWriter } from '../data/rlds/index.ts';
import { LeRobotWriter } from '../data/lerobot/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { requireFfmpeg } from '../data/video.ts';
import type { VideoCodec } from '../data/video.ts';
import { sampleTask, TASK_FAMILIES } from './tasks.ts';
import type { Suite, TaskFamily } from './tasks.ts';
import { runExpert } from './expert.ts';
import { renderEncoded } from './renderer.ts';
import { readEpisodeCache, writeEpisodeCache } from './episode-cache.ts';
import { ConfigError, FormatError, UsageError, VlmError } from '../errors/index.ts';

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
  /** Dataset layout written at the end: RLDS in Bridge's schema (default) or LeRobot v3. */
  format?: 'rlds' | 'lerobot';
  /** LeRobot only: store the camera as MP4 video in this codec (LeRobot's default layout; needs ffmpeg). */
  video?: VideoCodec;
  /** Called after every attempt (resumed or new) that counts toward the total. */
  onEpisode?: (done: number, failed: number) => void;
}

export interface CollectResult {
  written: number;
  failed: number;
  /** Attempts taken from checkpoints of an earlier, interrupted run. */
  resumed: number;
  /** Attempts simulated by this run. */
  simulated: number;
  /** The folder already held this dataset: nothing was done. */
  alreadyComplete: boolean;
}

export const CACHE_DIR = '.sim-collect';
export const DONE_FILE = 'sim_collect.json';

interface Manifest {
  version: 1;
  tasks: TaskFamily[];
  seed: number;
  size: number;
  suite: Suite;
  imageFormat: 'jpeg' | 'png';
  keepFailures: boolean;
  /** Present only for LeRobot, so manifests of RLDS runs stay as they were. */
  format?: 'lerobot';
  /** Present only for LeRobot with video. */
  video?: VideoCodec;
}

interface Attempt {
  k: number;
  success: boolean;
  /** Checkpoint file name (kept attempts only). */
  file: string | null;
}

function manifestOf(o: CollectOptions): Manifest {
  return {
    version: 1,
    tasks: [...o.tasks],
    seed: o.seed,
    size: o.size,
    suite: o.suite,
    imageFormat: o.imageFormat ?? 'jpeg',
    keepFailures: o.keepFailures ?? false,
    ...(o.format === 'lerobot' ? { format: 'lerobot' as const } : {}),
    ...(o.video ? { video: o.video } : {}),
  };
}

function readJson(path: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError('E_SIM_CACHE', `${path} is not a JSON object`, {
      file: path,
      fix: 'delete it (and the .sim-collect folder) and rerun sim collect',
      cause,
    });
  }
}

const sameManifest = (a: unknown, b: Manifest) => JSON.stringify(a) === JSON.stringify(b);

export async function collectEpisodes(opts: CollectOptions): Promise<CollectResult> {
  for (const t of opts.tasks)
    if (!TASK_FAMILIES.includes(t)) throw new UsageError(`unknown task family "${t}"`, `use ${TASK_FAMILIES.join(', ')}`);
  if (opts.tasks.length === 0) throw new UsageError('no task families given', `use ${TASK_FAMILIES.join(', ')}`);
  if (opts.video) {
    // Checked before any simulation, not when the dataset is written at the end.
    if (opts.format !== 'lerobot')
      throw new UsageError('--video stores cameras as video in a LeRobot v3 dataset', 'add --format lerobot, or drop --video');
    if (opts.size % 2 !== 0)
      throw new UsageError(`--size ${opts.size} is odd; video frames (yuv420p) need an even size`, 'choose an even --size');
    requireFfmpeg(opts.video, opts.size, opts.size);
  }
  const manifest = manifestOf(opts);
  const cacheDir = join(opts.out, CACHE_DIR);
  const donePath = join(opts.out, DONE_FILE);

  // A dataset of either layout (RLDS dataset_info.json, LeRobot meta/info.json) is finished work.
  if (existsSync(join(opts.out, 'dataset_info.json')) || existsSync(join(opts.out, 'meta', 'info.json'))) {
    const done = existsSync(donePath) ? readJson(donePath) : null;
    if (done && sameManifest(done.manifest, manifest) && done.episodes === opts.episodes) {
      rmSync(cacheDir, { recursive: true, force: true }); // left over by a crash after the dataset was complete
      const written = Number(done.written);
      const failed = Number(done.failed);
      opts.onEpisode?.(written, failed);
      return { written, failed, resumed: 0, simulated: 0, alreadyComplete: true };
    }
    throw new ConfigError('E_SIM_COLLECT_EXISTS', `${opts.out} already holds a dataset${done ? ' collected with other options' : ''}`, {
      file: opts.out,
      fix: 'choose another --out, or rerun with the options recorded in sim_collect.json',
    });
  }

  const manifestPath = join(cacheDir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const old = readJson(manifestPath);
    if (!sameManifest(old, manifest)) {
      throw new ConfigError('E_SIM_RESUME', `${opts.out} holds an interrupted collection with other options (${JSON.stringify(old)})`, {
        file: manifestPath,
        fix: 'rerun with the same --tasks, --seed, --size, --suite, --image-format, --format and --video, or delete the .sim-collect folder to start over',
      });
    }
  } else {
    writeFileAtomic(manifestPath, `${JSON.stringify(manifest)}\n`);
  }

  const journalPath = join(cacheDir, 'attempts.jsonl');
  const journal = new Journal(journalPath); // trims a line torn by a crash
  const finished = new Map<number, Attempt>();
  for (const a of readJsonl<Attempt>(journalPath, (line) => {
    throw new FormatError('E_SIM_CACHE', `${journalPath}:${line} is not JSON`, {
      file: journalPath,
      field: `line ${line}`,
      fix: 'delete the .sim-collect folder and rerun sim collect',
    });
  })) {
    if (!Number.isInteger(a.k) || a.k < 0 || typeof a.success !== 'boolean' || (a.file !== null && typeof a.file !== 'string')) {
      throw new FormatError('E_SIM_CACHE', `${journalPath}: bad attempt record ${JSON.stringify(a)}`, {
        file: journalPath,
        field: 'k',
        fix: 'delete the .sim-collect folder and rerun sim collect',
      });
    }
    if (a.file !== null && !existsSync(join(cacheDir, a.file))) continue; // deleted by hand: simulate it again
    finished.set(a.k, a);
  }

  const kept: string[] = [];
  let failed = 0;
  let resumed = 0;
  let simulated = 0;
  try {
    for (let k = 0; kept.length < opts.episodes; k++) {
      if (k > opts.episodes * 2 + 10)
        throw new VlmError('E_SIM_EXPERT', `the scripted expert failed on ${failed} of ${k} attempts`, {
          field: 'tasks',
          fix: 'report this as a bug (the expert succeeds on ≥ 98% of episodes in tests)',
        });
      let attempt = finished.get(k);
      if (attempt) {
        resumed++;
      } else {
        const rng = new Rng(opts.seed + k);
        const family = opts.tasks[k % opts.tasks.length]!;
        const task = sampleTask(family, rng, opts.suite);
        const { episode, success } = runExpert(task, rng, {
          episodeId: `sim-${opts.seed}-${k}`,
          render: (w) => renderEncoded(w, opts.size, manifest.imageFormat),
        });
        const keep = success || manifest.keepFailures;
        const file = keep ? `ep-${String(k).padStart(6, '0')}.json` : null;
        if (file) writeEpisodeCache(join(cacheDir, file), episode);
        attempt = { k, success, file };
        journal.append(attempt);
        simulated++;
        crashPoint('sim-collect-attempt');
      }
      if (!attempt.success) failed++;
      if (attempt.file) {
        kept.push(attempt.file);
        opts.onEpisode?.(kept.length, failed);
      }
    }
  } finally {
    journal.close();
  }

  const writer =
    opts.format === 'lerobot'
      ? LeRobotWriter.create(opts.out, { fps: BRIDGE_SEMANTICS.controlHz, ...(opts.video ? { video: opts.video } : {}) })
      : await RldsWriter.create(opts.out, { datasetName: 'vlm2vla_sim', episodesPerShard: 100 });
  for (const file of kept) await writer.add(readEpisodeCache(join(cacheDir, file)));
  // Before close(): close() makes the dataset visible last (dataset_info.json, or meta/ for LeRobot),
  // so a dataset folder always has this file.
  writeFileAtomic(donePath, `${JSON.stringify({ manifest, episodes: opts.episodes, written: kept.length, failed }, null, 1)}\n`);
  crashPoint('sim-collect-before-close');
  await writer.close();
  crashPoint('sim-collect-after-close');
  rmSync(cacheDir, { recursive: true, force: true });
  return { written: kept.length, failed, resumed, simulated, alreadyComplete: false };
}
