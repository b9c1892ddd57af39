// LeRobotDataset v3 (the layout of huggingface/lerobot, codebase_version "v3.0"), read and written
// with hyparquet / hyparquet-writer. Layout:
//   meta/info.json        codebase_version, fps, robot_type, totals, data_path template, features
//                         ({dtype, shape, names} per column; images as dtype "image")
//   meta/stats.json       per feature: mean, std, min, max, q01, q99
//   meta/tasks.parquet    task_index, task
//   meta/episodes/chunk-000/file-000.parquet   episode_index, tasks, length, data/chunk_index,
//                         data/file_index, dataset_from_index, dataset_to_index
//   data/chunk-000/file-NNN.parquet   one row per frame: observation.state, action (list<float>),
//                         observation.images.<camera> (struct<bytes, path>), timestamp, frame_index,
//                         episode_index, index, task_index, next.reward, next.done, plus vlm2vla's
//                         is_first / is_terminal / discount columns
//   meta/vlm2vla_episodes.jsonl   (vlm2vla's own) exact episode ids, metadata and sim ground truth
// The writer stores frames inside the parquet files (dtype "image"). The reader also reads cameras
// stored as video (dtype "video", one MP4 per camera and file, as LeRobot writes by default), decoded
// through ffmpeg (lerobot/video.ts).
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { FormatError } from '../../errors/index.ts';
import { parquetWriteWithPageCrcs } from '../parquet-crc.ts';
import { writeFileAtomic, fsyncDir } from '../../util/index.ts';
import { BRIDGE_SEMANTICS } from '../episode.ts';
import type { ActionSemantics, Episode, Step } from '../episode.ts';
import { StatsAccumulator } from '../stats.ts';
import { assertFiniteEpisode } from '../finite.ts';
import type { VideoCodec } from '../video.ts';
import { EpisodeVideoWriter, VIDEO_PATH } from './video-writer.ts';

import { CODEBASE_VERSION } from './reader.ts';

export { CODEBASE_VERSION };
const DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';

const utf8 = (name: string, repetition = 'OPTIONAL') => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: repetition });
const floatList = (name: string) => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
];
const imageStruct = (name: string) => [
  { name, repetition_type: 'OPTIONAL', num_children: 2 },
  { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  utf8('path'),
];
const scalar = (name: string, type: string) => ({ name, type, repetition_type: 'OPTIONAL' });
/** meta/episodes columns locating an episode in a camera's video: chunk, file, from and to seconds. */
const videoColumns = (camera: string) =>
  ['chunk_index', 'file_index', 'from_timestamp', 'to_timestamp'].map((c) => `videos/observation.images.${camera}/${c}`);

/** Writes one Parquet file, a CRC-32 in every page header, and returns the whole file's CRC-32,
 *  recorded in meta/info.json (`vlm2vla.checksums`): the page CRCs name a damaged page to any reader
 *  that checks them, the file's also covers the footer. */
function writeParquet(path: string, columns: { name: string; data: unknown[] }[], schemaChildren: unknown[]): number {
  const bytes = parquetWriteWithPageCrcs({
    columnData: columns,
    schema: [{ name: 'schema', num_children: columns.length }, ...schemaChildren],
  } as unknown as Parameters<typeof parquetWriteWithPageCrcs>[0]);
  writeFileAtomic(path, bytes);
  return crc32(bytes);
}

export interface LeRobotWriterOptions {
  fps?: number;
  robotType?: string;
  semantics?: ActionSemantics;
  /** Episodes per data file. */
  episodesPerFile?: number;
  /** Store cameras as MP4 video in this codec (LeRobot's default layout; needs ffmpeg) instead of
   *  images inside the parquet files. Lossy: frames read back within the codec's error. */
  video?: VideoCodec;
}

interface Row {
  state: number[];
  action: number[];
  images: Record<string, { bytes: Uint8Array; path: string | null }>;
  timestamp: number;
  frame: number;
  episode: number;
  index: number;
  task: number;
  reward: number;
  done: boolean;
  first: boolean;
  terminal: boolean;
  discount: number;
}

/** Writes episodes as a LeRobot v3 dataset; nothing is visible until close() renames it in place. */
export class LeRobotWriter {
  readonly #tmp: string;
  readonly #opts: Required<Omit<LeRobotWriterOptions, 'video'>>;
  readonly #video: EpisodeVideoWriter | null;
  readonly #tasks = new Map<string, number>();
  readonly #episodes: {
    index: number;
    tasks: string[];
    length: number;
    file: number;
    from: number;
    to: number;
    video: { from: number; to: number } | null;
  }[] = [];
  readonly #sidecar: string[] = [];
  readonly #checksums: Record<string, number> = {};
  #rows: Row[] = [];
  #fileIndex = 0;
  #frames = 0;
  #cameras: string[] | null = null;
  readonly #action: StatsAccumulator;
  readonly #state: StatsAccumulator;

  private constructor(
    readonly dir: string,
    opts: LeRobotWriterOptions,
  ) {
    const { video, ...rest } = opts;
    this.#opts = { fps: 5, robotType: 'widowx', semantics: BRIDGE_SEMANTICS, episodesPerFile: 500, ...rest };
    this.#tmp = join(dir, '.partial');
    this.#video = video ? new EpisodeVideoWriter(this.#tmp, video, this.#opts.fps) : null;
    rmSync(this.#tmp, { recursive: true, force: true });
    mkdirSync(join(this.#tmp, 'data', 'chunk-000'), { recursive: true });
    mkdirSync(join(this.#tmp, 'meta', 'episodes', 'chunk-000'), { recursive: true });
    this.#action = new StatsAccumulator(this.#opts.semantics.actionDims.length);
    this.#state = new StatsAccumulator(this.#opts.semantics.stateDims.length);
  }

  static create(dir: string, opts: LeRobotWriterOptions = {}): LeRobotWriter {
    if (existsSync(join(dir, 'meta', 'info.json')))
      throw new FormatError('E_LEROBOT_EXISTS', `${dir} already holds a LeRobot dataset`, {
        file: dir,
        fix: 'choose an empty output folder',
      });
    return new LeRobotWriter(dir, opts);
  }

  add(ep: Episode): void {
    assertFiniteEpisode(ep, this.dir);
    const cams = Object.keys(ep.steps[0]?.images ?? {}).sort();
    if (this.#cameras === null) this.#cameras = cams;
    else if (cams.join() !== this.#cameras.join())
      throw new FormatError('E_LEROBOT', `episode ${ep.metadata.episodeId} has cameras [${cams}], the dataset [${this.#cameras}]`, {
        field: 'images',
        fix: 'LeRobot datasets have one set of image features; write episodes with the same cameras',
      });
    const video = this.#video?.add(ep, cams) ?? null;
    let task = this.#tasks.get(ep.instruction);
    if (task === undefined) this.#tasks.set(ep.instruction, (task = this.#tasks.size));
    const index = this.#episodes.length;
    const from = this.#frames;
    ep.steps.forEach((s: Step, t) => {
      this.#rows.push({
        state: Array.from(s.state),
        action: Array.from(s.action),
        images: this.#video
          ? {}
          : Object.fromEntries(
              cams.map((c) => [
                c,
                {
                  bytes: s.images[c]!.bytes,
                  path: `frame_${String(this.#frames).padStart(9, '0')}.${s.images[c]!.format === 'jpeg' ? 'jpg' : 'png'}`,
                },
              ]),
            ),
        timestamp: t / this.#opts.fps,
        frame: t,
        episode: index,
        index: this.#frames,
        task: task!,
        reward: s.reward,
        done: s.isLast,
        first: s.isFirst,
        terminal: s.isTerminal,
        discount: s.discount,
      });
      this.#action.add(s.action);
      this.#state.add(s.state);
      this.#frames++;
    });
    this.#episodes.push({ index, tasks: [ep.instruction], length: ep.steps.length, file: this.#fileIndex, from, to: this.#frames, video });
    const m = ep.metadata;
    this.#sidecar.push(
      JSON.stringify({
        episodeId: m.episodeId,
        source: m.source,
        ...(m.filePath !== undefined ? { filePath: m.filePath } : {}),
        ...(m.extra !== undefined ? { extra: m.extra } : {}),
        ...(ep.groundTruth ? { groundTruth: ep.groundTruth } : {}),
      }),
    );
    if (this.#episodes.filter((e) => e.file === this.#fileIndex).length >= this.#opts.episodesPerFile) this.#flush();
  }

  #flush(): void {
    if (this.#rows.length === 0) return;
    const rows = this.#rows;
    this.#video?.flush(this.#fileIndex);
    const cams = this.#video ? [] : (this.#cameras ?? []);
    const columns = [
      { name: 'observation.state', data: rows.map((r) => r.state) },
      { name: 'action', data: rows.map((r) => r.action) },
      ...cams.map((c) => ({ name: `observation.images.${c}`, data: rows.map((r) => r.images[c]) })),
      { name: 'timestamp', data: rows.map((r) => r.timestamp) },
      { name: 'frame_index', data: rows.map((r) => r.frame) },
      { name: 'episode_index', data: rows.map((r) => r.episode) },
      { name: 'index', data: rows.map((r) => r.index) },
      { name: 'task_index', data: rows.map((r) => r.task) },
      { name: 'next.reward', data: rows.map((r) => r.reward) },
      { name: 'next.done', data: rows.map((r) => r.done) },
      { name: 'is_first', data: rows.map((r) => r.first) },
      { name: 'is_terminal', data: rows.map((r) => r.terminal) },
      { name: 'discount', data: rows.map((r) => r.discount) },
    ];
    const schema = [
      ...floatList('observation.state'),
      ...floatList('action'),
      ...cams.flatMap((c) => imageStruct(`observation.images.${c}`)),
      scalar('timestamp', 'FLOAT'),
      scalar('frame_index', 'INT64'),
      scalar('episode_index', 'INT64'),
      scalar('index', 'INT64'),
      scalar('task_index', 'INT64'),
      scalar('next.reward', 'FLOAT'),
      scalar('next.done', 'BOOLEAN'),
      scalar('is_first', 'BOOLEAN'),
      scalar('is_terminal', 'BOOLEAN'),
      scalar('discount', 'FLOAT'),
    ];
    const big = columns.map((c) =>
      ['frame_index', 'episode_index', 'index', 'task_index'].includes(c.name) ? { ...c, data: (c.data as number[]).map(BigInt) } : c,
    );
    const rel = `data/chunk-000/file-${String(this.#fileIndex).padStart(3, '0')}.parquet`;
    this.#checksums[rel] = writeParquet(join(this.#tmp, rel), big, schema);
    this.#rows = [];
    this.#fileIndex++;
  }

  close(): void {
    const hadRows = this.#rows.length > 0;
    this.#flush();
    if (!hadRows && this.#fileIndex === 0)
      throw new FormatError('E_LEROBOT', 'no episodes were written', { fix: 'add at least one episode' });
    const cams = this.#cameras ?? [];
    const s = this.#opts.semantics;
    const features: Record<string, unknown> = {
      'observation.state': { dtype: 'float32', shape: [s.stateDims.length], names: [...s.stateDims] },
      action: { dtype: 'float32', shape: [s.actionDims.length], names: [...s.actionDims] },
      ...(this.#video
        ? this.#video.features(cams)
        : Object.fromEntries(
            cams.map((c) => [
              `observation.images.${c}`,
              { dtype: 'image', shape: [null, null, 3], names: ['height', 'width', 'channels'] },
            ]),
          )),
      timestamp: { dtype: 'float32', shape: [1], names: null },
      frame_index: { dtype: 'int64', shape: [1], names: null },
      episode_index: { dtype: 'int64', shape: [1], names: null },
      index: { dtype: 'int64', shape: [1], names: null },
      task_index: { dtype: 'int64', shape: [1], names: null },
      'next.reward': { dtype: 'float32', shape: [1], names: null },
      'next.done': { dtype: 'bool', shape: [1], names: null },
      is_first: { dtype: 'bool', shape: [1], names: null },
      is_terminal: { dtype: 'bool', shape: [1], names: null },
      discount: { dtype: 'float32', shape: [1], names: null },
    };
    const info = {
      codebase_version: CODEBASE_VERSION,
      robot_type: this.#opts.robotType,
      total_episodes: this.#episodes.length,
      total_frames: this.#frames,
      total_tasks: this.#tasks.size,
      chunks_size: 1000,
      data_files_size_in_mb: 100,
      fps: this.#opts.fps,
      splits: { train: `0:${this.#episodes.length}` },
      data_path: DATA_PATH,
      ...(this.#video ? { video_path: VIDEO_PATH, video_files_size_in_mb: 500 } : {}),
      features,
      vlm2vla: { semantics: s, checksums: this.#checksums },
    };
    const stat = (a: StatsAccumulator) => {
      const r = a.result();
      return { mean: r.mean, std: r.std, min: r.min, max: r.max, q01: r.q01, q99: r.q99, count: [r.count] };
    };
    writeFileAtomic(
      join(this.#tmp, 'meta', 'stats.json'),
      `${JSON.stringify({ action: stat(this.#action), 'observation.state': stat(this.#state) }, null, 2)}\n`,
    );
    const tasks = [...this.#tasks];
    this.#checksums['meta/tasks.parquet'] = writeParquet(
      join(this.#tmp, 'meta', 'tasks.parquet'),
      [
        { name: 'task_index', data: tasks.map(([, i]) => BigInt(i)) },
        { name: 'task', data: tasks.map(([t]) => t) },
      ],
      [scalar('task_index', 'INT64'), utf8('task')],
    );
    const e = this.#episodes;
    this.#checksums['meta/episodes/chunk-000/file-000.parquet'] = writeParquet(
      join(this.#tmp, 'meta', 'episodes', 'chunk-000', 'file-000.parquet'),
      [
        { name: 'episode_index', data: e.map((x) => BigInt(x.index)) },
        { name: 'tasks', data: e.map((x) => x.tasks) },
        { name: 'length', data: e.map((x) => BigInt(x.length)) },
        { name: 'data/chunk_index', data: e.map(() => 0n) },
        { name: 'data/file_index', data: e.map((x) => BigInt(x.file)) },
        { name: 'dataset_from_index', data: e.map((x) => BigInt(x.from)) },
        { name: 'dataset_to_index', data: e.map((x) => BigInt(x.to)) },
        ...(this.#video
          ? cams.flatMap((c) =>
              videoColumns(c).map((name, k) => ({ name, data: e.map((x) => [0n, BigInt(x.file), x.video!.from, x.video!.to][k]) })),
            )
          : []),
      ],
      [
        scalar('episode_index', 'INT64'),
        { name: 'tasks', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        utf8('element'),
        scalar('length', 'INT64'),
        scalar('data/chunk_index', 'INT64'),
        scalar('data/file_index', 'INT64'),
        scalar('dataset_from_index', 'INT64'),
        scalar('dataset_to_index', 'INT64'),
        ...(this.#video ? cams.flatMap((c) => videoColumns(c).map((name, k) => scalar(name, k < 2 ? 'INT64' : 'DOUBLE'))) : []),
      ],
    );
    writeFileAtomic(join(this.#tmp, 'meta', 'vlm2vla_episodes.jsonl'), this.#sidecar.map((l) => `${l}\n`).join(''));
    writeFileAtomic(join(this.#tmp, 'meta', 'info.json'), `${JSON.stringify(info, null, 2)}\n`);
    mkdirSync(this.dir, { recursive: true });
    renameSync(join(this.#tmp, 'data'), join(this.dir, 'data'));
    if (this.#video) renameSync(join(this.#tmp, 'videos'), join(this.dir, 'videos'));
    renameSync(join(this.#tmp, 'meta'), join(this.dir, 'meta'));
    rmSync(this.#tmp, { recursive: true, force: true });
    fsyncDir(this.dir);
  }
}

export { openLeRobot, formatDataPath, TIMESTAMP_TOLERANCE_S, STATS_MARGIN, MAX_EPISODES, MAX_FPS } from './reader.ts';
export type { LeRobotDataset } from './reader.ts';
