// What `vlm2vla view` browses, loaded once: a robot dataset (RLDS or LeRobot v3: episodes with their
// encoded frames and actions), or an eval sim run (journaled episodes, replayed from their traces on
// demand); optionally the episodes' annotations and the SFT chat examples built from them. Every
// episode gets a task, a suite and an outcome to filter by.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readAnnotations } from '../annotate/index.ts';
import type { AnnotationRecord } from '../annotate/index.ts';
import { openLeRobot } from '../data/lerobot/index.ts';
import { openRlds } from '../data/rlds/index.ts';
import type { Episode } from '../data/episode.ts';
import { FormatError } from '../errors/index.ts';
import { readEpisodeJournals } from '../eval/closed-loop.ts';
import type { CycleTrace, EpisodeResult, RunManifest } from '../eval/closed-loop.ts';
import { openSftDataset } from '../sft/dataset.ts';
import type { SftDataset } from '../sft/dataset.ts';
import type { ChatRecord } from '../sft/record.ts';
import { readJsonl } from '../util/index.ts';
import { readRunManifest, traceFile } from './report.ts';

export type SourceKind = 'rlds' | 'lerobot' | 'eval-sim';

export interface ViewEpisode {
  /** Position in the list (the URL's episode number). */
  n: number;
  episodeId: string;
  instruction: string;
  /** Task family where known, else the instruction. */
  task: string;
  suite: string | null;
  /** Closed-loop outcome (eval runs); null for recorded demonstrations. */
  outcome: 'success' | 'failure' | null;
  steps: number;
  /** Dataset episodes: the recorded episode. */
  episode?: Episode;
  /** Eval runs: the journaled result. */
  result?: EpisodeResult;
}

export interface ViewSource {
  kind: SourceKind;
  dir: string;
  title: string;
  episodes: ViewEpisode[];
  /** Episodes left out beyond the cap. */
  truncated: boolean;
  /** Eval runs: the manifest. */
  manifest?: RunManifest;
  annotations: Map<string, AnnotationRecord>;
  sft: { dataset: SftDataset; byEpisode: Map<string, ChatRecord[]> } | null;
}

export interface LoadViewOptions {
  dir: string;
  annotations?: string;
  sft?: string;
  split?: string;
  /** Most dataset episodes held in memory (default 500). */
  maxEpisodes?: number;
}

function sourceError(path: string, message: string, fix: string): never {
  throw new FormatError('E_VIEW_SOURCE', `${path}: ${message}`, { file: path, fix });
}

/** What kind of folder `dir` is: an eval sim run (run.json), LeRobot v3 (meta/info.json) or RLDS
 *  (dataset_info.json). */
export function detectSource(dir: string): SourceKind {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    sourceError(dir, 'is not a folder', 'give a dataset folder (RLDS or LeRobot v3) or an `eval sim` run folder');
  if (existsSync(join(dir, 'run.json'))) return 'eval-sim';
  if (existsSync(join(dir, 'meta', 'info.json'))) return 'lerobot';
  if (existsSync(join(dir, 'dataset_info.json'))) return 'rlds';
  sourceError(
    dir,
    'holds neither run.json (an eval sim run), meta/info.json (LeRobot v3) nor dataset_info.json (RLDS)',
    'give a dataset folder (RLDS or LeRobot v3) or an `eval sim` run folder',
  );
}

function annotationsOf(path: string | undefined): Map<string, AnnotationRecord> {
  const out = new Map<string, AnnotationRecord>();
  if (path === undefined) return out;
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'annotations.jsonl') : path;
  if (!existsSync(file))
    sourceError(file, 'does not exist', 'give --annotations the folder `vlm2vla annotate` wrote, or its annotations.jsonl');
  for (const r of readAnnotations(file)) out.set(r.episode.episodeId, r);
  return out;
}

function sftOf(dir: string | undefined): ViewSource['sft'] {
  if (dir === undefined) return null;
  if (!existsSync(join(dir, 'train.jsonl'))) sourceError(dir, 'holds no train.jsonl', 'give --sft the folder `vlm2vla build` wrote');
  const dataset = openSftDataset(dir);
  const byEpisode = new Map<string, ChatRecord[]>();
  for (const split of ['train', 'val'] as const) {
    if (!dataset.has(split)) continue;
    for (const r of dataset.records(split)) {
      const id = r.record.meta?.episodeId;
      if (typeof id === 'string') (byEpisode.get(id) ?? byEpisode.set(id, []).get(id)!).push(r.record);
    }
  }
  return { dataset, byEpisode };
}

/** Loads `o.dir` (and the optional annotations and SFT dataset). */
export async function loadViewSource(o: LoadViewOptions): Promise<ViewSource> {
  const kind = detectSource(o.dir);
  const annotations = annotationsOf(o.annotations);
  const sft = sftOf(o.sft);
  const max = o.maxEpisodes ?? 500;
  if (kind === 'eval-sim') {
    const manifest = readRunManifest(o.dir);
    const episodes = [...readEpisodeJournals(o.dir).values()]
      .sort((a, b) => manifest.suites.indexOf(a.suite) - manifest.suites.indexOf(b.suite) || a.index - b.index)
      .map((r, n): ViewEpisode => ({
        n,
        episodeId: r.key,
        instruction: r.instruction,
        task: r.family,
        suite: r.suite,
        outcome: r.success ? 'success' : 'failure',
        steps: r.steps,
        result: r,
      }));
    return {
      kind,
      dir: o.dir,
      title: `eval sim run ${o.dir} (policy ${JSON.stringify(manifest.policy)})`,
      episodes,
      truncated: false,
      manifest,
      annotations,
      sft,
    };
  }
  const ds = kind === 'lerobot' ? openLeRobot(o.dir) : openRlds(o.dir, o.split ?? 'train');
  const episodes: ViewEpisode[] = [];
  let truncated = false;
  for await (const ep of ds.episodes()) {
    if (episodes.length >= max) {
      truncated = true;
      break;
    }
    const gt = ep.groundTruth?.task;
    episodes.push({
      n: episodes.length,
      episodeId: ep.metadata.episodeId,
      instruction: ep.instruction,
      task: gt?.family ?? ep.instruction,
      suite: gt?.suite ?? null,
      outcome: null,
      steps: ep.steps.length,
      episode: ep,
    });
  }
  return {
    kind,
    dir: o.dir,
    title: `${kind === 'lerobot' ? 'LeRobot v3' : 'RLDS'} dataset ${o.dir}`,
    episodes,
    truncated,
    annotations,
    sft,
  };
}

/** An eval episode's cycle traces. */
export function readTraces(source: ViewSource, key: string): { file: string; traces: CycleTrace[] } {
  const file = traceFile(source.dir, key);
  if (!existsSync(file))
    throw new FormatError('E_REPORT_TRACE', `${file} does not exist (episode ${key} is journaled)`, {
      file,
      fix: 'the run folder is incomplete; rerun its `vlm2vla eval sim` command',
    });
  return { file, traces: readJsonl<CycleTrace>(file) };
}
