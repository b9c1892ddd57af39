// `build`: annotations + episodes → an SFT chat dataset. Output folder:
//   train.jsonl, val.jsonl   one {images, messages, meta} object per line (HF chat-message shape)
//   train.parquet, val.parquet  with --format parquet: the same as a `datasets`-shaped table
//   images/                  the frames the examples use, as stored in the dataset (JPEG or PNG)
//   build_info.json          counts per stage and split, prompt versions, options
// The split is by episode (sha256 of seed + episode id), so no episode is on both sides. Everything
// is written into a temp folder and renamed into place at the end.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError } from '../errors/index.ts';
import type { Episode } from '../data/episode.ts';
import { ANNOTATIONS_FILE } from '../annotate/index.ts';
import type { AnnotationRecord } from '../annotate/index.ts';
import { promptVersions } from '../prompts/index.ts';
import { ACTION_MARKERS, getCodec, tokenBinRanges } from '../actions/index.ts';
import { writeFileAtomic, fsyncDir, checkOutputDir } from '../util/index.ts';
import { episodeExamples, codecFor } from './examples.ts';
import { writeSftParquet } from './parquet.ts';
import type { ExampleOptions, SftExample } from './examples.ts';
import type { ChatRecord } from './record.ts';

export const SFT_SCHEMA = 'vlm2vla.sft/1';

export interface BuildOptions extends ExampleOptions {
  outDir: string;
  format: 'jsonl' | 'parquet';
  valFraction: number;
  seed: number;
  onEpisode?: () => void;
}

export type { ChatRecord } from './record.ts';

export interface BuildInfo {
  schema: typeof SFT_SCHEMA;
  episodes: { train: number; val: number; withoutAnnotation: number; failedAnnotation: number };
  examples: { train: Record<string, number>; val: Record<string, number> };
  images: number;
  prompts: Record<string, string>;
  options: Omit<BuildOptions, 'outDir' | 'onEpisode' | 'format'> & {
    /** Style `tokens`: the bin ranges (cm) of dx, dy, dz and the marker tokens. */
    tokens?: { low: [number, number, number]; high: [number, number, number]; markers: string };
  };
}

export function isValidation(episodeId: string, seed: number, fraction: number): boolean {
  const h = createHash('sha256').update(`${seed}:${episodeId}`).digest();
  return h.readUInt32BE(0) / 2 ** 32 < fraction;
}

export function toChatRecord(ex: SftExample, imagePaths: string[]): ChatRecord {
  return {
    images: imagePaths,
    messages: [
      { role: 'user', content: [...imagePaths.map(() => ({ type: 'image' as const })), { type: 'text' as const, text: ex.user }] },
      { role: 'assistant', content: [{ type: 'text' as const, text: ex.assistant }] },
    ],
    meta: { stage: ex.stage, episodeId: ex.episodeId },
  };
}

/** Files that mark a folder as holding a dataset `build` must not write into, and what it holds. */
const HELD_DATASETS: [string, string][] = [
  ['build_info.json', 'a built SFT dataset'],
  ['dataset_info.json', 'an RLDS dataset'],
  [join('meta', 'info.json'), 'a LeRobot dataset'],
  [ANNOTATIONS_FILE, 'annotations'],
];

/** Pre-flight of `build`'s output folder, before any work: it is (or can be made) a writable folder
 *  on a disk with room for a file (EnvironmentError naming the path), and it holds no dataset —
 *  another build, robot data or annotations (E_BUILD_EXISTS). */
export function checkBuildOutput(outDir: string): void {
  checkOutputDir(outDir, { what: 'the SFT dataset folder' });
  for (const [marker, what] of HELD_DATASETS) {
    if (existsSync(join(outDir, marker))) {
      throw new FormatError('E_BUILD_EXISTS', `${outDir} already holds ${what} (${marker})`, {
        file: outDir,
        fix: 'give --out a new or empty folder (or delete the old build)',
      });
    }
  }
}

export async function buildSft(
  episodes: AsyncIterable<Episode>,
  annotations: readonly AnnotationRecord[],
  opts: BuildOptions,
): Promise<BuildInfo> {
  if (!(opts.valFraction >= 0 && opts.valFraction < 1)) throw new UsageError(`--val-fraction must be in [0, 1), got ${opts.valFraction}`);
  checkBuildOutput(opts.outDir);
  // Style `tokens` bins each axis between the dataset's 1st and 99th percentiles (over every
  // annotated chunk element) and writes bins as the markers <a000>…<a255>.
  const bins =
    opts.actionStyle === 'tokens'
      ? tokenBinRanges(annotations.filter((a) => a.status === 'ok').flatMap((a) => a.segments.flatMap((s) => s.chunk)))
      : null;
  const codec = bins ? getCodec('tokens', { tokens: { ...bins, tokens: ACTION_MARKERS } }) : codecFor(opts.actionStyle);
  const byEpisode = new Map<string, AnnotationRecord>();
  const failed = new Set<string>();
  for (const a of annotations) {
    if (a.status === 'ok') byEpisode.set(a.episode.episodeId, a);
    else failed.add(a.episode.episodeId);
  }
  const tmp = join(opts.outDir, '.partial');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'images'), { recursive: true });
  const lines: Record<'train' | 'val', string[]> = { train: [], val: [] };
  const info: BuildInfo = {
    schema: SFT_SCHEMA,
    episodes: { train: 0, val: 0, withoutAnnotation: 0, failedAnnotation: 0 },
    examples: { train: {}, val: {} },
    images: 0,
    prompts: promptVersions(),
    options: {
      actionStyle: opts.actionStyle,
      camera: opts.camera,
      maxChunkElements: opts.maxChunkElements,
      directionCm: opts.directionCm,
      reasoning: opts.reasoning ?? 'full',
      valFraction: opts.valFraction,
      seed: opts.seed,
      ...(bins ? { tokens: { ...bins, markers: `${ACTION_MARKERS[0]}…${ACTION_MARKERS.at(-1)}` } } : {}),
    },
  };
  const written = new Set<string>();
  let episodeIndex = 0;
  for await (const ep of episodes) {
    const ann = byEpisode.get(ep.metadata.episodeId);
    opts.onEpisode?.();
    episodeIndex++;
    if (!ann) {
      if (failed.has(ep.metadata.episodeId)) info.episodes.failedAnnotation++;
      else info.episodes.withoutAnnotation++;
      continue;
    }
    if (ann.episode.steps !== ep.steps.length) {
      throw new FormatError(
        'E_BUILD_MISMATCH',
        `annotation of ${ep.metadata.episodeId} covers ${ann.episode.steps} steps, the episode has ${ep.steps.length}`,
        { field: 'episode.steps', fix: 'the annotations belong to another version of the dataset; re-annotate' },
      );
    }
    if (!(opts.camera in (ep.steps[0]?.images ?? {}))) {
      throw new UsageError(
        `episode ${ep.metadata.episodeId} has no camera ${opts.camera} (it has ${Object.keys(ep.steps[0]?.images ?? {}).join(', ')})`,
        'choose one with --camera',
      );
    }
    const split = isValidation(ep.metadata.episodeId, opts.seed, opts.valFraction) ? 'val' : 'train';
    info.episodes[split]++;
    const tag = createHash('sha256').update(ep.metadata.episodeId).digest('hex').slice(0, 12);
    for (const ex of episodeExamples(ep, ann, opts, codec)) {
      const paths = ex.images.map((ref) => {
        const image = ep.steps[ref.step]!.images[ref.camera]!;
        const rel = `images/${tag}_${ref.camera}_${String(ref.step).padStart(4, '0')}.${image.format === 'jpeg' ? 'jpg' : 'png'}`;
        if (!written.has(rel)) {
          writeFileSync(join(tmp, rel), image.bytes);
          written.add(rel);
        }
        return rel;
      });
      lines[split].push(JSON.stringify(toChatRecord(ex, paths)));
      info.examples[split][ex.stage] = (info.examples[split][ex.stage] ?? 0) + 1;
    }
  }
  if (episodeIndex === 0) throw new UsageError('the dataset has no episodes');
  info.images = written.size;
  const files = ['images'];
  for (const split of ['train', 'val'] as const) {
    writeFileAtomic(join(tmp, `${split}.jsonl`), lines[split].map((l) => `${l}\n`).join(''));
    files.push(`${split}.jsonl`);
    if (opts.format === 'parquet') {
      writeSftParquet(
        join(tmp, `${split}.parquet`),
        lines[split].map((l) => JSON.parse(l) as ChatRecord),
        tmp,
      );
      files.push(`${split}.parquet`);
    }
  }
  mkdirSync(opts.outDir, { recursive: true });
  for (const name of files) {
    rmSync(join(opts.outDir, name), { recursive: true, force: true });
    renameSync(join(tmp, name), join(opts.outDir, name));
  }
  writeFileAtomic(join(opts.outDir, 'build_info.json'), `${JSON.stringify(info, null, 2)}\n`);
  rmSync(tmp, { recursive: true, force: true });
  fsyncDir(opts.outDir);
  return info;
}
