// LeRobot v3 reader: every Parquet read goes through the guard (data/parquet-guard.ts), and what
// decodes is checked against the metadata before an episode is yielded: episode list against
// meta/info.json totals, each episode's rows against meta/episodes (file, count, global index),
// frame_index 0..n-1 in order (no gap, no duplicate), timestamps 1/fps apart within LeRobot's
// tolerance, task_index known, every value finite and within the dataset's stats. A failure is a
// FormatError (code E_LEROBOT) naming the file and field. Cameras stored as video (dtype "video") are
// decoded by ffmpeg, one episode and camera at a time (lerobot/video.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { FormatError } from '../../errors/index.ts';
import { readParquetGuarded } from '../parquet-guard.ts';
import type { ParquetReadResult } from '../parquet-guard.ts';
import { BRIDGE_SEMANTICS } from '../episode.ts';
import type { ActionSemantics, EncodedImage, Episode, GroundTruth, Step } from '../episode.ts';
import { probeImage } from '../image.ts';
import { decodeEpisodeFrames, videoFeatures } from './video.ts';
import type { EpisodeVideo, VideoFeature } from './video.ts';

export const CODEBASE_VERSION = 'v3.0';
/** LeRobot's `tolerance_s`: consecutive timestamps are 1/fps apart within this many seconds. */
export const TIMESTAMP_TOLERANCE_S = 1e-4;
/** Bounds on what meta/info.json may declare. */
export const MAX_EPISODES = 10_000_000;
export const MAX_FRAMES = 2 ** 40;
export const MAX_FPS = 1000;
/** A value is "far outside" the dataset's stats when it leaves [min, max] widened by this share of
 *  the range on each side (stats written by other tools may be rounded or come from a sample). */
export const STATS_MARGIN = 0.1;

const DEFAULT_FIX = 'the dataset is damaged or not a LeRobot v3 dataset';

function fail(file: string, field: string, message: string, fix = DEFAULT_FIX): never {
  throw new FormatError('E_LEROBOT', `${file}: ${message}`, { file, field, fix });
}

const text = (v: unknown) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v));

/** An integer column value (int64 arrives as bigint); anything else is an error naming the field. */
function int(v: unknown, file: string, field: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || (typeof v === 'bigint' && BigInt(n) !== v))
    fail(file, field, `${field} is ${String(v)}, not an integer`);
  return n;
}

function count(info: Record<string, unknown>, key: string, file: string, max: number): number {
  const v = info[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    fail(file, key, `${key} is ${JSON.stringify(v)}, expected an integer in 0..${max}`);
  return v;
}

/** Fills a LeRobot path template such as `data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet`
 *  (`key` names the template in errors: data_path or video_path). */
export function formatDataPath(template: string, values: Record<string, number | string>, file: string, key = 'data_path'): string {
  const out = template.replace(/\{(\w+)(?::0(\d)d)?\}/g, (_, name: string, width: string | undefined) => {
    const v = values[name];
    if (v === undefined) fail(file, key, `${key} names {${name}}, which meta/episodes does not give`);
    return width === undefined ? String(v) : String(v).padStart(Number(width), '0');
  });
  if (/[{}]/.test(out) || isAbsolute(out) || normalize(out).split(sep).includes('..'))
    fail(file, key, `${key} ${JSON.stringify(template)} is not a relative path template inside the dataset`);
  return out;
}

interface SidecarRecord {
  episodeId: string;
  source: string;
  filePath?: string;
  extra?: Record<string, unknown>;
  groundTruth?: GroundTruth;
}

interface EpisodeMeta {
  index: number;
  length: number;
  from: number;
  path: string;
  /** Per video feature key, where its frames are. */
  videos: Map<string, EpisodeVideo>;
}

interface Bounds {
  lo: number[];
  hi: number[];
}

export interface LeRobotDataset {
  dir: string;
  info: Record<string, unknown>;
  count: number;
  episodes(): AsyncGenerator<Episode>;
}

function readStats(dir: string, dims: Record<string, number>): Record<string, Bounds> {
  const path = join(dir, 'meta', 'stats.json');
  if (!existsSync(path)) return {};
  let stats: Record<string, { min?: unknown; max?: unknown } | undefined>;
  try {
    stats = JSON.parse(readFileSync(path, 'utf8')) as typeof stats;
  } catch (cause) {
    throw new FormatError('E_LEROBOT', `${path} is not JSON`, {
      file: path,
      fix: 'restore meta/stats.json or delete it (it is recomputed by lerobot)',
      cause,
    });
  }
  const out: Record<string, Bounds> = {};
  for (const [name, n] of Object.entries(dims)) {
    const s = stats?.[name];
    if (!s) continue;
    const ok = (a: unknown): a is number[] =>
      Array.isArray(a) && a.length === n && a.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!ok(s.min) || !ok(s.max)) fail(path, `${name}.min/max`, `stats of ${name} are not ${n} finite numbers each`);
    const lo = s.min;
    const hi = s.max;
    out[name] = {
      lo: lo.map((m, i) => m - STATS_MARGIN * (hi[i]! - m) - 1e-6 * Math.max(1, Math.abs(m))),
      hi: hi.map((m, i) => m + STATS_MARGIN * (m - lo[i]!) + 1e-6 * Math.max(1, Math.abs(m))),
    };
  }
  return out;
}

/** CRC-32 per file that vlm2vla's writer recorded in info.json (`vlm2vla.checksums`), if any. */
function readChecksums(info: Record<string, unknown>, infoPath: string): Map<string, number> {
  const raw = (info.vlm2vla as { checksums?: unknown } | undefined)?.checksums;
  const out = new Map<string, number>();
  if (raw === undefined) return out;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail(infoPath, 'vlm2vla.checksums', 'vlm2vla.checksums is not an object');
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
      fail(infoPath, `vlm2vla.checksums.${k}`, `the checksum of ${k} is ${JSON.stringify(v)}`);
    out.set(k, v);
  }
  return out;
}

function readSidecar(path: string, total: number): SidecarRecord[] {
  if (!existsSync(path)) return [];
  const out: SidecarRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let r: unknown;
      try {
        r = JSON.parse(line);
      } catch {
        fail(
          path,
          `line ${i + 1}`,
          `line ${i + 1} is not JSON`,
          'restore meta/vlm2vla_episodes.jsonl or delete it (episode ids then default to <dir>#<index>)',
        );
      }
      const rec = r as Partial<SidecarRecord> | null;
      if (!rec || typeof rec !== 'object' || typeof rec.episodeId !== 'string' || typeof rec.source !== 'string') {
        fail(
          path,
          `line ${i + 1}`,
          `line ${i + 1} is not an episode record {episodeId, source}`,
          'restore meta/vlm2vla_episodes.jsonl or delete it',
        );
      }
      out.push(rec as SidecarRecord);
    });
  if (out.length !== total)
    fail(
      path,
      'episodes',
      `holds ${out.length} episode records, meta/info.json says ${total} episodes`,
      'restore meta/vlm2vla_episodes.jsonl or delete it',
    );
  return out;
}

/** Where episode `index`'s frames of each video feature are (meta/episodes columns `videos/<key>/…`). */
function episodeVideos(
  r: Record<string, unknown>,
  k: number,
  index: number,
  videos: readonly VideoFeature[],
  template: string,
  file: string,
  infoPath: string,
): Map<string, EpisodeVideo> {
  const out = new Map<string, EpisodeVideo>();
  for (const v of videos) {
    const column = (name: string) => {
      const c = `videos/${v.key}/${name}`;
      if (r[c] === undefined || r[c] === null)
        fail(file, c, `episode ${index} has no ${c} (meta/episodes must place every episode in the video of ${v.key})`);
      return c;
    };
    const seconds = (name: string) => {
      const c = column(name);
      const x = typeof r[c] === 'bigint' ? Number(r[c]) : r[c];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
        fail(file, c, `${c} of episode ${index} is ${String(r[c])}, expected seconds ≥ 0`);
      return x;
    };
    const from = seconds('from_timestamp');
    const to = seconds('to_timestamp');
    if (to <= from)
      fail(file, `videos/${v.key}/to_timestamp`, `episode ${index} of ${v.key} ends at ${to} s, not after its start ${from} s`);
    const chunk = int(r[column('chunk_index')], file, `row ${k} videos/${v.key}/chunk_index`);
    const fileIndex = int(r[column('file_index')], file, `row ${k} videos/${v.key}/file_index`);
    out.set(v.key, {
      path: formatDataPath(
        template,
        { video_key: v.key, chunk_index: chunk, file_index: fileIndex, episode_chunk: chunk, episode_index: index },
        infoPath,
        'video_path',
      ),
      from,
      to,
    });
  }
  return out;
}

async function readEpisodeMeta(
  dir: string,
  template: string,
  totalEpisodes: number,
  totalFrames: number,
  infoPath: string,
  read: (rel: string) => Promise<ParquetReadResult>,
  videos: readonly VideoFeature[],
  videoTemplate: string,
): Promise<EpisodeMeta[]> {
  const root = join(dir, 'meta', 'episodes');
  const files: string[] = [];
  if (existsSync(root)) {
    for (const c of readdirSync(root)
      .filter((d) => /^chunk-\d+$/.test(d))
      .sort()) {
      for (const f of readdirSync(join(root, c))
        .filter((x) => /^file-\d+\.parquet$/.test(x))
        .sort())
        files.push(join('meta', 'episodes', c, f));
    }
  }
  if (files.length === 0) fail(root, 'meta/episodes', 'holds no episode files', 'the dataset is incomplete: restore meta/episodes/');
  const byIndex = new Map<number, EpisodeMeta>();
  for (const rel of files) {
    const file = join(dir, rel);
    for (const [k, r] of (await read(rel)).rows.entries()) {
      const field = (name: string) => int(r[name], file, `row ${k} ${name}`);
      const index = field('episode_index');
      if (index < 0 || index >= totalEpisodes)
        fail(file, 'episode_index', `episode_index ${index} is past total_episodes ${totalEpisodes} in meta/info.json`);
      if (byIndex.has(index)) fail(file, 'episode_index', `episode ${index} is listed twice`);
      const length = field('length');
      const from = field('dataset_from_index');
      const to = field('dataset_to_index');
      if (length < 1 || to - from !== length)
        fail(file, `episode ${index}`, `episode ${index} has length ${length} but dataset indices ${from}..${to}`);
      const path = formatDataPath(
        template,
        {
          chunk_index: field('data/chunk_index'),
          file_index: field('data/file_index'),
          episode_chunk: field('data/chunk_index'),
          episode_index: index,
        },
        infoPath,
      );
      byIndex.set(index, { index, length, from, path, videos: episodeVideos(r, k, index, videos, videoTemplate, file, infoPath) });
    }
  }
  const list: EpisodeMeta[] = [];
  let frames = 0;
  for (let i = 0; i < totalEpisodes; i++) {
    const e = byIndex.get(i);
    if (!e)
      fail(
        root,
        `episode ${i}`,
        `episode ${i} is missing from meta/episodes (meta/info.json says ${totalEpisodes} episodes)`,
        'the dataset is incomplete: restore meta/episodes/',
      );
    if (e.from !== frames)
      fail(root, `episode ${i}`, `episode ${i} starts at global index ${e.from}, expected ${frames} (episodes must be contiguous)`);
    frames += e.length;
    list.push(e);
  }
  if (frames !== totalFrames) fail(infoPath, 'total_frames', `total_frames is ${totalFrames}, meta/episodes lists ${frames} frames`);
  return list;
}

/** Opens a LeRobot v3 folder; the metadata is checked now, episodes are read one data file at a time. */
export function openLeRobot(dir: string): LeRobotDataset {
  const infoPath = join(dir, 'meta', 'info.json');
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(readFileSync(infoPath, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError('E_LEROBOT', `${infoPath} is missing or not JSON`, {
      file: infoPath,
      fix: 'give the root folder of a LeRobot v3 dataset',
      cause,
    });
  }
  if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(infoPath, 'info', 'is not a JSON object');
  if (info.codebase_version !== CODEBASE_VERSION)
    fail(
      infoPath,
      'codebase_version',
      `codebase_version is ${JSON.stringify(info.codebase_version)}, this reader reads ${CODEBASE_VERSION}`,
      "convert the dataset with lerobot's v3 conversion script",
    );
  const features = info.features as Record<string, { dtype?: string; shape?: unknown[] }> | undefined;
  if (!features || typeof features !== 'object') fail(infoPath, 'features', 'has no features');
  for (const req of ['action', 'observation.state'])
    if (!features[req]) fail(infoPath, `features.${req}`, `required feature ${req} is missing`);
  const declaredFps = info.fps;
  if (typeof declaredFps !== 'number' || !Number.isFinite(declaredFps) || declaredFps <= 0 || declaredFps > MAX_FPS)
    fail(infoPath, 'fps', `fps is ${JSON.stringify(declaredFps)}, expected a number in (0, ${MAX_FPS}]`);
  const fps: number = declaredFps;
  const totalEpisodes = count(info, 'total_episodes', infoPath, MAX_EPISODES);
  const totalFrames = count(info, 'total_frames', infoPath, MAX_FRAMES);
  const template = typeof info.data_path === 'string' ? info.data_path : fail(infoPath, 'data_path', 'data_path is missing');
  formatDataPath(template, { chunk_index: 0, file_index: 0, episode_chunk: 0, episode_index: 0 }, infoPath);
  const cameras = Object.keys(features)
    .filter((k) => k.startsWith('observation.images.') && features[k]?.dtype !== 'video')
    .map((k) => k.slice('observation.images.'.length));
  const videos = videoFeatures(features, infoPath);
  const videoTemplate =
    videos.length === 0
      ? ''
      : typeof info.video_path === 'string'
        ? info.video_path
        : fail(infoPath, 'video_path', `video_path is missing, and features ${videos.map((v) => v.key).join(', ')} are stored as video`);
  if (videos.length > 0)
    formatDataPath(
      videoTemplate,
      { video_key: videos[0]!.key, chunk_index: 0, file_index: 0, episode_chunk: 0, episode_index: 0 },
      infoPath,
      'video_path',
    );
  for (const v of videos) if (cameras.includes(v.camera)) fail(infoPath, `features.${v.key}`, `camera ${v.camera} is declared twice`);
  const semantics = (info.vlm2vla as { semantics?: ActionSemantics } | undefined)?.semantics ?? BRIDGE_SEMANTICS;
  const dims = { 'observation.state': semantics.stateDims.length, action: semantics.actionDims.length };
  const bounds = readStats(dir, dims);
  const checksums = readChecksums(info, infoPath);
  const read = (rel: string) => readParquetGuarded(join(dir, rel), 'E_LEROBOT', checksums.get(rel.split(sep).join('/')));
  return {
    dir,
    info,
    count: totalEpisodes,
    async *episodes() {
      const tasksPath = join(dir, 'meta', 'tasks.parquet');
      const tasks = new Map<number, string>();
      for (const [k, r] of (await read(join('meta', 'tasks.parquet'))).rows.entries()) {
        const index = int(r.task_index, tasksPath, `row ${k} task_index`);
        if (tasks.has(index)) fail(tasksPath, 'task_index', `task_index ${index} is listed twice`);
        // LeRobot writes the task text as the pandas index of the table: a column named `task`, or
        // `__index_level_0__` when the index is unnamed (LeRobotDatasetMetadata.save_episode_tasks).
        const task = r.task ?? r.__index_level_0__;
        if (typeof task !== 'string' && !(task instanceof Uint8Array))
          fail(tasksPath, `row ${k} task`, `row ${k} has no task text (column task or __index_level_0__)`);
        tasks.set(index, text(task));
      }
      const metas = await readEpisodeMeta(dir, template, totalEpisodes, totalFrames, infoPath, read, videos, videoTemplate);
      const sidecar = readSidecar(join(dir, 'meta', 'vlm2vla_episodes.jsonl'), totalEpisodes);
      const byFile = new Map<string, EpisodeMeta[]>();
      for (const m of metas) {
        let list = byFile.get(m.path);
        if (!list) byFile.set(m.path, (list = []));
        list.push(m);
      }
      for (const [rel, expected] of byFile) {
        const path = join(dir, rel);
        if (!existsSync(path))
          fail(
            path,
            'data',
            `data file ${rel} is missing (meta/episodes places ${expected.length} episode(s) in it)`,
            'the dataset is incomplete: restore the file or re-download the dataset',
          );
        const { rows } = await read(rel);
        const wanted = new Map(expected.map((m) => [m.index, m]));
        const byEpisode = new Map<number, Record<string, unknown>[]>();
        rows.forEach((r, k) => {
          const e = int(r.episode_index, path, `row ${k} episode_index`);
          if (e < 0 || e >= totalEpisodes)
            fail(path, 'episode_index', `row ${k} has episode_index ${e}, past total_episodes ${totalEpisodes} in meta/info.json`);
          if (!wanted.has(e)) fail(path, 'episode_index', `row ${k} belongs to episode ${e}, which meta/episodes places in another file`);
          let list = byEpisode.get(e);
          if (!list) byEpisode.set(e, (list = []));
          list.push(r);
        });
        for (const m of expected) {
          const list = byEpisode.get(m.index) ?? [];
          if (list.length !== m.length)
            fail(path, `episode ${m.index}`, `episode ${m.index} has ${list.length} frames here, meta/episodes says ${m.length}`);
          const timestamps = checkTimeline(m, list, path);
          const decoded = new Map<string, EncodedImage[]>();
          for (const v of videos) {
            const video = m.videos.get(v.key)!;
            const file = join(dir, video.path);
            if (!existsSync(file))
              fail(
                file,
                `videos/${v.key}`,
                `video file ${video.path} is missing (meta/episodes places episode ${m.index} of ${v.key} in it)`,
                'the dataset is incomplete: restore the file or re-download the dataset',
              );
            decoded.set(v.camera, await decodeEpisodeFrames(file, v, video, timestamps, fps, m.index));
          }
          yield toEpisode(m, list, path, decoded);
        }
      }

      /** frame_index 0..n-1, the global index, and timestamps 1/fps apart: the episode's timestamps. */
      function checkTimeline(m: EpisodeMeta, list: Record<string, unknown>[], path: string): number[] {
        let previous = 0;
        return list.map((r, t) => {
          const where = `episode ${m.index} frame ${t}`;
          const frame = int(r.frame_index, path, `${where} frame_index`);
          if (frame !== t)
            fail(
              path,
              'frame_index',
              `${where}: frame_index is ${frame} (frames must run 0..${m.length - 1} in order, without gaps or duplicates)`,
            );
          if (r.index !== undefined && int(r.index, path, `${where} index`) !== m.from + t)
            fail(path, 'index', `${where}: index is ${String(r.index)}, expected ${m.from + t}`);
          const ts = Number(r.timestamp);
          if (!Number.isFinite(ts) || ts < 0) fail(path, 'timestamp', `${where}: timestamp is ${String(r.timestamp)}`);
          // LeRobot's check: consecutive timestamps 1/fps apart within tolerance_s (plus float32 rounding).
          if (t > 0 && Math.abs(ts - previous - 1 / fps) > TIMESTAMP_TOLERANCE_S + ts * 2 ** -22)
            fail(
              path,
              'timestamp',
              `${where}: timestamp ${ts} s follows ${previous} s; frames must be 1/${fps} s apart (LeRobot's tolerance ${TIMESTAMP_TOLERANCE_S} s)`,
            );
          previous = ts;
          return ts;
        });
      }

      function toEpisode(m: EpisodeMeta, list: Record<string, unknown>[], path: string, decoded: Map<string, EncodedImage[]>): Episode {
        const e = m.index;
        const steps: Step[] = list.map((r, t) => {
          const where = `episode ${e} frame ${t}`;
          const task = int(r.task_index, path, `${where} task_index`);
          if (!tasks.has(task)) fail(path, 'task_index', `${where}: task_index ${task} has no task in meta/tasks.parquet`);
          const vec = (name: 'observation.state' | 'action') => {
            const v = r[name];
            const n = dims[name];
            if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
              fail(path, `${name}[${t}]`, `${name} of ${where} is not ${n} finite numbers`);
            const b = bounds[name];
            if (b) {
              (v as number[]).forEach((x, i) => {
                if (x < b.lo[i]! || x > b.hi[i]!)
                  fail(path, `${name}[${t}][${i}]`, `${name}[${i}] of ${where} is ${x}, far outside the dataset's stats (meta/stats.json)`);
              });
            }
            return Float32Array.from(v as number[]);
          };
          const images: Record<string, EncodedImage> = {};
          for (const c of cameras) {
            const im = r[`observation.images.${c}`] as { bytes?: unknown } | null;
            if (!im || !(im.bytes instanceof Uint8Array)) fail(path, `observation.images.${c}`, `${where} has no image bytes for ${c}`);
            images[c] = probeImage(new Uint8Array(im.bytes as Uint8Array), `${path}: ${where} observation.images.${c}`);
          }
          for (const [c, frames] of decoded) images[c] = frames[t]!;
          const scalar = (name: string, fallback: number) => {
            const v = r[name];
            if (v === undefined || v === null) return fallback;
            const x = Number(v);
            if (!Number.isFinite(x)) fail(path, name, `${name} of ${where} is ${String(v)}`);
            return x;
          };
          return {
            images,
            state: vec('observation.state'),
            action: vec('action'),
            isFirst: r.is_first === undefined ? t === 0 : Boolean(r.is_first),
            isLast: Boolean(r['next.done']),
            isTerminal: r.is_terminal === undefined ? Boolean(r['next.done']) : Boolean(r.is_terminal),
            reward: scalar('next.reward', 0),
            discount: scalar('discount', 1),
          };
        });
        const side = sidecar[e];
        const ep: Episode = {
          instruction: tasks.get(int(list[0]!.task_index, path, 'task_index')) ?? '',
          steps,
          metadata: side
            ? {
                source: side.source,
                episodeId: side.episodeId,
                semantics,
                ...(side.filePath !== undefined ? { filePath: side.filePath } : {}),
                ...(side.extra !== undefined ? { extra: side.extra } : {}),
              }
            : { source: 'lerobot', episodeId: `${dir}#${e}`, semantics },
        };
        if (side?.groundTruth) ep.groundTruth = side.groundTruth;
        return ep;
      }
    },
  };
}
