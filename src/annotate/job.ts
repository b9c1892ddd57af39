// The annotation job: episodes in, one JSONL record per episode out, journaled (one write + fsync
// per record) so a crash loses at most the episodes in flight and a rerun skips finished ones.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Episode } from '../data/episode.ts';
import { Journal, readJsonl, trimTornTail, writeFileAtomic, crashPoint } from '../util/index.ts';
import { FormatError } from '../errors/index.ts';
import { annotationKey, validateAnnotation } from './schema.ts';
import type { AnnotationRecord } from './schema.ts';
import type { Annotator } from './rules.ts';

export const ANNOTATIONS_FILE = 'annotations.jsonl';

export interface JobOptions {
  outDir: string;
  maxEpisodes?: number;
  concurrency?: number;
  onProgress?: (done: number, skipped: number, failed: number) => void;
  /** Extra fields for summary.json (token usage and cost of API annotators). */
  extraSummary?: () => Record<string, unknown>;
  /** Annotate again the episodes whose last record failed (the new record supersedes it). */
  retryFailed?: boolean;
}

export interface JobSummary {
  annotator: string;
  written: number;
  skipped: number;
  ok: number;
  failed: number;
  failures: { episodeId: string; reason: string }[];
  seconds: number;
}

/** Records already in an output folder, validated; a torn last line (crash mid-write) is trimmed.
 *  When an episode has several records (a failed one retried), the last one counts, in the place of
 *  the first. */
export function readAnnotations(path: string): AnnotationRecord[] {
  trimTornTail(path);
  const records = readJsonl(path, (line, text) => {
    throw new FormatError('E_ANNOTATION', `${path}:${line} is not JSON: ${text.slice(0, 80)}`, {
      file: path,
      field: `line ${line}`,
      fix: 'delete that line and rerun',
    });
  }).map((r, i) => validateAnnotation(r, `${path}:${i + 1}`));
  const latest = new Map<string, AnnotationRecord>();
  for (const r of records) latest.set(r.key, r);
  return latest.size === records.length ? records : [...latest.values()];
}

export async function runAnnotationJob(episodes: AsyncIterable<Episode>, annotator: Annotator, opts: JobOptions): Promise<JobSummary> {
  const t0 = performance.now();
  mkdirSync(opts.outDir, { recursive: true });
  const path = join(opts.outDir, ANNOTATIONS_FILE);
  // Every episode with a record (annotated, or failed with its reason) is finished: a rerun skips it,
  // unless retryFailed asks for the failed ones again.
  const existing = existsSync(path) ? readAnnotations(path) : [];
  const done = new Set(existing.filter((r) => !(opts.retryFailed && r.status === 'failed')).map((r) => r.key));
  // Resuming means the same episodes at the same places; another dataset's annotations are refused
  // before anything is appended to them.
  const priorIdAt = new Map(existing.map((r) => [r.episode.index, r.episode.episodeId]));
  const journal = new Journal(path);
  const summary: JobSummary = {
    annotator: `${annotator.identity.name}@${annotator.identity.version}`,
    written: 0,
    skipped: 0,
    ok: 0,
    failed: 0,
    failures: [],
    seconds: 0,
  };
  const limit = Math.max(1, opts.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  let index = -1;
  let started = 0;
  try {
    for await (const ep of episodes) {
      index++;
      if (opts.maxEpisodes !== undefined && started >= opts.maxEpisodes) break;
      const prior = priorIdAt.get(index);
      if (prior !== undefined && prior !== ep.metadata.episodeId) {
        throw new FormatError(
          'E_ANNOTATION',
          `${path} holds annotations of another dataset: its episode ${index} is ${prior}, the input's is ${ep.metadata.episodeId}`,
          { file: path, field: `episode ${index}`, fix: "annotate into an empty folder (or the folder of this dataset's earlier run)" },
        );
      }
      const key = annotationKey(ep.metadata.episodeId, annotator.identity);
      if (done.has(key)) {
        summary.skipped++;
        opts.onProgress?.(summary.written, summary.skipped, summary.failed);
        continue;
      }
      started++;
      const i = index;
      const task = annotator
        .annotate(ep, i)
        .catch((e: unknown): AnnotationRecord => ({
          schema: 'vlm2vla.annotation/1',
          key,
          episode: { source: ep.metadata.source, episodeId: ep.metadata.episodeId, index: i, steps: ep.steps.length },
          instruction: ep.instruction,
          annotator: annotator.identity,
          status: 'failed',
          reason: e instanceof Error ? e.message : String(e),
          subtasks: [],
          segments: [],
        }))
        .then((record) => {
          journal.append(record);
          crashPoint('annotate:after-append');
          summary.written++;
          if (record.status === 'ok') summary.ok++;
          else {
            summary.failed++;
            summary.failures.push({ episodeId: record.episode.episodeId, reason: record.reason ?? '' });
          }
          opts.onProgress?.(summary.written, summary.skipped, summary.failed);
        });
      const tracked = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    journal.close();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  writeFileAtomic(join(opts.outDir, 'summary.json'), `${JSON.stringify({ ...summary, ...(opts.extraSummary?.() ?? {}) }, null, 2)}\n`);
  return summary;
}
