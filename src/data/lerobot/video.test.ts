// LeRobot v3 datasets with cameras stored as video, laid out as LeRobot writes them by default: info.json
// with dtype "video" features and video_path, meta/episodes with videos/<key>/{chunk_index, file_index,
// from_timestamp, to_timestamp}, tasks.parquet with the task as pandas index (__index_level_0__), data
// parquet without image columns, and MP4s that ffmpeg encodes here from frames the simulator renders
// (H.264 with libx264, AV1 with this ffmpeg's AV1 encoder). Two cameras: `front` holds both episodes in
// one file (episode 1 starts mid-file), `wrist` one file per episode. Every frame read back is compared
// with the rendered one. Without ffmpeg the decoding tests skip with a message; the missing-ffmpeg error
// is tested everywhere.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { LeRobotWriter, openLeRobot } from './index.ts';
import { Rng } from '../../util/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../../sim/index.ts';
import type { Episode } from '../episode.ts';
import { decodeImage, encodePng } from '../image.ts';
import { FFMPEG_ENV, ffmpegAvailable, ffmpegPath } from '../video.ts';
import { isVlmError } from '../../errors/index.ts';
import { capture } from '../../cli/testing.ts';

const SIZE = 32;
const FPS = 10;
const STEPS = [7, 6];
/** Mean absolute error per frame and channel, in 0..255 units, allowed after yuv420p lossy coding of
 *  32×32 sim frames: about twice the largest measured (H.264 libx264 crf 18: 3.2, mean 2.8; AV1
 *  libaom-av1 crf 30: 2.6, mean 2.2). A frame one step off is far beyond it (the step marker moves). */
const MAE_BOUND = 6;

const HAVE_FFMPEG = ffmpegAvailable();
const NO_FFMPEG = HAVE_FFMPEG ? false : `ffmpeg is not installed (apt-get install ffmpeg): LeRobot video decoding is not tested`;
const encoders = HAVE_FFMPEG ? spawnSync(ffmpegPath(), ['-hide_banner', '-encoders'], { encoding: 'latin1' }).stdout : '';
const has = (name: string) => new RegExp(`^ V\\S* ${name.replace('-', '\\-')} `, 'm').test(encoders);
/** The AV1 encoder of this ffmpeg that takes 32×32 frames (SVT-AV1 needs 64 a side). */
const AV1 = ['libaom-av1', 'librav1e'].find(has) ?? null;
const ENCODER_ARGS: Record<string, string[]> = {
  libx264: ['-preset', 'veryfast', '-crf', '18'],
  'libaom-av1': ['-cpu-used', '8', '-crf', '30', '-b:v', '0'],
  librav1e: ['-speed', '10', '-qp', '75'],
};

function episodes(): Episode[] {
  return STEPS.map((n, i) => {
    const rng = new Rng(900 + i);
    const ep = runExpert(sampleTask('pick', rng), rng, { episodeId: `v-${i}`, render: (w) => renderEncoded(w, SIZE, 'png') }).episode;
    const steps = ep.steps.slice(0, n).map((s, t) => {
      // A white 6×6 marker that moves with the step, so a frame one step off is plain to see; the
      // wrist camera sees the scene upside down, so the two cameras differ.
      const rgb = decodeImage(s.images.image_0!).rgb;
      for (let y = 2; y < 8; y++) rgb.fill(255, (y * SIZE + 2 + 4 * t) * 3, (y * SIZE + 8 + 4 * t) * 3);
      const flipped = new Uint8Array(rgb.length);
      for (let y = 0; y < SIZE; y++) flipped.set(rgb.subarray(y * SIZE * 3, (y + 1) * SIZE * 3), (SIZE - 1 - y) * SIZE * 3);
      return { ...s, images: { front: rgbToPng(rgb), wrist: rgbToPng(flipped) }, isLast: t === n - 1, isTerminal: t === n - 1 };
    });
    return { ...ep, steps };
  });
}

const rgbToPng = (rgb: Uint8Array) => encodePng({ width: SIZE, height: SIZE, rgb });

const eps = episodes();
const rgbOf = (e: number, cam: 'front' | 'wrist') => eps[e]!.steps.map((s) => decodeImage(s.images[cam]!).rgb);

/** Encodes RGB frames to an MP4 at FPS with `encoder` (LeRobot's settings: yuv420p, a key frame every 2). */
function encode(file: string, frames: Uint8Array[], encoder: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const r = spawnSync(
    ffmpegPath(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${SIZE}x${SIZE}`,
      '-r',
      String(FPS),
      '-i',
      'pipe:0',
      '-c:v',
      encoder,
      ...ENCODER_ARGS[encoder]!,
      '-g',
      '2',
      '-pix_fmt',
      'yuv420p',
      file,
    ],
    { input: Buffer.concat(frames), encoding: 'latin1' },
  );
  assert.equal(r.status, 0, r.stderr);
}

const floatList = (name: string) => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
];
const scalar = (name: string, type: string) => ({ name, type, repetition_type: 'OPTIONAL' });
const utf8 = (name: string) => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
function parquet(path: string, columns: { name: string; data: unknown[] }[], schema: unknown[]): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const buffer = parquetWriteBuffer({
    columnData: columns,
    schema: [{ name: 'schema', num_children: columns.length }, ...schema],
  } as unknown as Parameters<typeof parquetWriteBuffer>[0]);
  writeFileSync(path, new Uint8Array(buffer));
}

/** Writes the dataset as LeRobot v3 does; `encoder` null writes placeholder MP4s (no ffmpeg needed). */
function writeDataset(dir: string, encoder: string | null): void {
  const cams = ['observation.images.front', 'observation.images.wrist'];
  const videoFeature = {
    dtype: 'video',
    shape: [SIZE, SIZE, 3],
    names: ['height', 'width', 'channels'],
    info: {
      'video.height': SIZE,
      'video.width': SIZE,
      'video.codec': encoder === 'libx264' ? 'h264' : 'av1',
      'video.pix_fmt': 'yuv420p',
      'video.is_depth_map': false,
      'video.fps': FPS,
      'video.channels': 3,
      has_audio: false,
    },
  };
  const total = STEPS.reduce((a, b) => a + b, 0);
  const info = {
    codebase_version: 'v3.0',
    robot_type: 'widowx',
    total_episodes: eps.length,
    total_frames: total,
    total_tasks: new Set(eps.map((ep) => ep.instruction)).size,
    chunks_size: 1000,
    data_files_size_in_mb: 100,
    video_files_size_in_mb: 500,
    fps: FPS,
    splits: { train: `0:${eps.length}` },
    data_path: 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
    video_path: 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4',
    features: {
      action: { dtype: 'float32', shape: [7], names: ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'] },
      'observation.state': { dtype: 'float32', shape: [7], names: ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'gripper'] },
      ...Object.fromEntries(cams.map((c) => [c, videoFeature])),
      timestamp: { dtype: 'float32', shape: [1], names: null },
      frame_index: { dtype: 'int64', shape: [1], names: null },
      episode_index: { dtype: 'int64', shape: [1], names: null },
      index: { dtype: 'int64', shape: [1], names: null },
      task_index: { dtype: 'int64', shape: [1], names: null },
    },
  };
  mkdirSync(join(dir, 'meta'), { recursive: true });
  writeFileSync(join(dir, 'meta', 'info.json'), JSON.stringify(info, null, 4));
  const tasks = [...new Set(eps.map((ep) => ep.instruction))];
  const taskOf = (e: number) => BigInt(tasks.indexOf(eps[e]!.instruction));
  parquet(
    join(dir, 'meta', 'tasks.parquet'),
    [
      { name: 'task_index', data: tasks.map((_, i) => BigInt(i)) },
      { name: '__index_level_0__', data: tasks },
    ],
    [scalar('task_index', 'INT64'), utf8('__index_level_0__')],
  );
  const rows = eps.flatMap((ep, e) => ep.steps.map((s, t) => ({ s, t, e })));
  parquet(
    join(dir, 'data', 'chunk-000', 'file-000.parquet'),
    [
      { name: 'action', data: rows.map((r) => Array.from(r.s.action)) },
      { name: 'observation.state', data: rows.map((r) => Array.from(r.s.state)) },
      { name: 'timestamp', data: rows.map((r) => r.t / FPS) },
      { name: 'frame_index', data: rows.map((r) => BigInt(r.t)) },
      { name: 'episode_index', data: rows.map((r) => BigInt(r.e)) },
      { name: 'index', data: rows.map((_, k) => BigInt(k)) },
      { name: 'task_index', data: rows.map((r) => taskOf(r.e)) },
    ],
    [
      ...floatList('action'),
      ...floatList('observation.state'),
      scalar('timestamp', 'FLOAT'),
      scalar('frame_index', 'INT64'),
      scalar('episode_index', 'INT64'),
      scalar('index', 'INT64'),
      scalar('task_index', 'INT64'),
    ],
  );
  const starts = STEPS.map((_, e) => STEPS.slice(0, e).reduce((a, b) => a + b, 0));
  // front: both episodes in file-000, episode 1 from STEPS[0]/FPS s; wrist: file-00e per episode, from 0 s.
  const place = { front: (e: number) => ({ file: 0, from: starts[e]! / FPS }), wrist: (e: number) => ({ file: e, from: 0 }) };
  const videoColumns = (['front', 'wrist'] as const).flatMap((cam) => {
    const key = `videos/observation.images.${cam}`;
    return [
      { name: `${key}/chunk_index`, data: eps.map(() => 0n) },
      { name: `${key}/file_index`, data: eps.map((_, e) => BigInt(place[cam](e).file)) },
      { name: `${key}/from_timestamp`, data: eps.map((_, e) => place[cam](e).from) },
      { name: `${key}/to_timestamp`, data: eps.map((_, e) => place[cam](e).from + STEPS[e]! / FPS) },
    ];
  });
  parquet(
    join(dir, 'meta', 'episodes', 'chunk-000', 'file-000.parquet'),
    [
      { name: 'episode_index', data: eps.map((_, e) => BigInt(e)) },
      { name: 'data/chunk_index', data: eps.map(() => 0n) },
      { name: 'data/file_index', data: eps.map(() => 0n) },
      { name: 'dataset_from_index', data: starts.map(BigInt) },
      { name: 'dataset_to_index', data: starts.map((s, e) => BigInt(s + STEPS[e]!)) },
      ...videoColumns,
      { name: 'tasks', data: eps.map((ep) => [ep.instruction]) },
      { name: 'length', data: STEPS.map(BigInt) },
      { name: 'meta/episodes/chunk_index', data: eps.map(() => 0n) },
      { name: 'meta/episodes/file_index', data: eps.map(() => 0n) },
    ],
    [
      scalar('episode_index', 'INT64'),
      scalar('data/chunk_index', 'INT64'),
      scalar('data/file_index', 'INT64'),
      scalar('dataset_from_index', 'INT64'),
      scalar('dataset_to_index', 'INT64'),
      ...(['front', 'wrist'] as const).flatMap((cam) => [
        scalar(`videos/observation.images.${cam}/chunk_index`, 'INT64'),
        scalar(`videos/observation.images.${cam}/file_index`, 'INT64'),
        scalar(`videos/observation.images.${cam}/from_timestamp`, 'DOUBLE'),
        scalar(`videos/observation.images.${cam}/to_timestamp`, 'DOUBLE'),
      ]),
      { name: 'tasks', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      utf8('element'),
      scalar('length', 'INT64'),
      scalar('meta/episodes/chunk_index', 'INT64'),
      scalar('meta/episodes/file_index', 'INT64'),
    ],
  );
  const video = (cam: string, file: number) =>
    join(dir, 'videos', `observation.images.${cam}`, 'chunk-000', `file-${String(file).padStart(3, '0')}.mp4`);
  const write = (path: string, frames: Uint8Array[]) => {
    if (encoder) encode(path, frames, encoder);
    else {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'not a video');
    }
  };
  write(video('front', 0), [...rgbOf(0, 'front'), ...rgbOf(1, 'front')]);
  eps.forEach((_, e) => write(video('wrist', e), rgbOf(e, 'wrist')));
}

async function readAll(dir: string): Promise<Episode[]> {
  const out: Episode[] = [];
  for await (const e of openLeRobot(dir).episodes()) out.push(e);
  return out;
}

const mae = (a: Uint8Array, b: Uint8Array) => a.reduce((s, x, i) => s + Math.abs(x - b[i]!), 0) / a.length;

const root = mkdtempSync(join(tmpdir(), 'vlm2vla-lr-video-'));
after(() => rmSync(root, { recursive: true, force: true }));
let h264: string | null = null;
/** The H.264 dataset, written once and copied by the tests that damage it. */
function h264Dataset(): string {
  if (!h264) writeDataset((h264 = join(root, 'h264')), 'libx264');
  return h264;
}
let copies = 0;
/** A copy of `dir`; `frontOnly` drops the wrist camera from info.json (fewer decodes for tests of one
 *  camera's failures; meta/episodes' extra columns are ignored). */
function copyOf(dir: string, frontOnly = true): string {
  const out = join(root, `copy-${copies++}`);
  cpSync(dir, out, { recursive: true });
  if (frontOnly) {
    const p = join(out, 'meta', 'info.json');
    const info = JSON.parse(readFileSync(p, 'utf8')) as { features: Record<string, unknown> };
    delete info.features['observation.images.wrist'];
    writeFileSync(p, JSON.stringify(info));
  }
  return out;
}

async function readsBack(dir: string, codec: string): Promise<void> {
  const got = await readAll(dir);
  assert.equal(got.length, eps.length);
  got.forEach((ep, e) => {
    assert.equal(ep.instruction, eps[e]!.instruction);
    assert.equal(ep.steps.length, STEPS[e]);
    for (const cam of ['front', 'wrist'] as const) {
      const want = rgbOf(e, cam);
      ep.steps.forEach((s, t) => {
        const img = s.images[cam]!;
        assert.equal(img.format, 'png');
        assert.deepEqual([img.width, img.height], [SIZE, SIZE]);
        const err = mae(decodeImage(img).rgb, want[t]!);
        assert.ok(err <= MAE_BOUND, `${codec} episode ${e} ${cam} step ${t}: mean abs error ${err.toFixed(2)} > ${MAE_BOUND}`);
        // The right frame, not a neighbour: closer to its own rendered frame than to any other.
        want.forEach((other, u) => {
          if (u !== t) assert.ok(err < mae(decodeImage(img).rgb, other), `${codec} episode ${e} ${cam} step ${t} looks like step ${u}`);
        });
      });
      assert.deepEqual(
        ep.steps.map((s) => Array.from(s.action)),
        eps[e]!.steps.map((s) => Array.from(s.action)),
      );
    }
  });
}

test(
  'H.264 videos (libx264): every frame of both cameras reads back within the lossy tolerance; episode 1 starts mid-file',
  { skip: NO_FFMPEG },
  async () => {
    await readsBack(h264Dataset(), 'h264');
  },
);

test(
  `AV1 videos (${AV1 ?? 'no encoder'}): every frame reads back within the lossy tolerance`,
  { skip: NO_FFMPEG || (AV1 ? false : 'this ffmpeg has no AV1 encoder for 32×32 frames (libaom-av1 or librav1e): AV1 is not tested') },
  async () => {
    const dir = join(root, 'av1');
    writeDataset(dir, AV1);
    await readsBack(dir, 'av1');
  },
);

test('a video with fewer frames than meta/episodes says is E_VIDEO_FRAMES naming the file and the fix', { skip: NO_FFMPEG }, async () => {
  const dir = copyOf(h264Dataset());
  encode(
    join(dir, 'videos', 'observation.images.front', 'chunk-000', 'file-000.mp4'),
    [...rgbOf(0, 'front'), ...rgbOf(1, 'front')].slice(0, -1),
    'libx264',
  );
  await assert.rejects(readAll(dir), (e: unknown) => {
    assert.ok(isVlmError(e), String(e));
    assert.equal(e.code, 'E_VIDEO_FRAMES');
    assert.match(e.file!, /observation\.images\.front[/\\]chunk-000[/\\]file-000\.mp4$/);
    assert.match(e.message, /episode 1 of observation\.images\.front: decoded 5 frame\(s\).*meta\/episodes says 6/);
    assert.match(e.fix!, /re-encode the video at 10 fps/);
    return true;
  });
});

test('a from_timestamp that points past the frames is E_VIDEO_FRAMES', { skip: NO_FFMPEG }, async () => {
  const dir = copyOf(h264Dataset());
  const p = join(dir, 'meta', 'episodes', 'chunk-000', 'file-000.parquet');
  const bytes = readFileSync(p);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
  const meta = parquetMetadata(ab);
  rows[0]!['videos/observation.images.front/from_timestamp'] = 1.0;
  rows[0]!['videos/observation.images.front/to_timestamp'] = 1.0 + STEPS[0]! / FPS;
  const names = Object.keys(rows[0]!);
  const buffer = parquetWriteBuffer({
    columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]) })),
    schema: meta.schema,
  } as unknown as Parameters<typeof parquetWriteBuffer>[0]);
  writeFileSync(p, new Uint8Array(buffer));
  await assert.rejects(
    readAll(dir),
    (e: unknown) =>
      isVlmError(e) && e.code === 'E_VIDEO_FRAMES' && /episode 0 of observation\.images\.front: decoded 3 frame/.test(e.message),
  );
});

test('a garbage or truncated mp4 is E_VIDEO naming the file, never a stack trace', { skip: NO_FFMPEG }, async () => {
  const front = (dir: string) => join(dir, 'videos', 'observation.images.front', 'chunk-000', 'file-000.mp4');
  let dir = copyOf(h264Dataset());
  writeFileSync(
    front(dir),
    Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251),
  );
  const check = (e: unknown, dir: string) => {
    assert.ok(isVlmError(e), String(e));
    assert.equal(e.code, 'E_VIDEO');
    assert.equal(e.file, front(dir));
    assert.match(e.message, /cannot be decoded/);
    assert.match(e.fix!, /truncated or corrupt/);
    return true;
  };
  await assert.rejects(readAll(dir), (e) => check(e, dir));
  dir = copyOf(h264Dataset());
  const whole = readFileSync(front(dir));
  writeFileSync(front(dir), whole.subarray(0, Math.floor(whole.length * 0.6)));
  await assert.rejects(readAll(dir), (e) => check(e, dir));
});

test('a missing video file is E_LEROBOT naming it', { skip: NO_FFMPEG }, async () => {
  const dir = copyOf(h264Dataset());
  rmSync(join(dir, 'videos', 'observation.images.front', 'chunk-000', 'file-000.mp4'));
  await assert.rejects(
    readAll(dir),
    (e: unknown) =>
      isVlmError(e) &&
      e.code === 'E_LEROBOT' &&
      /video file videos\/observation\.images\.front\/chunk-000\/file-000\.mp4 is missing/.test(e.message),
  );
});

test('without ffmpeg: one typed error naming the install command (VLM2VLA_FFMPEG at a missing binary)', async () => {
  const dir = join(root, 'placeholder');
  writeDataset(dir, null);
  const saved = process.env[FFMPEG_ENV];
  process.env[FFMPEG_ENV] = join(root, 'no-such-ffmpeg');
  try {
    await assert.rejects(readAll(dir), (e: unknown) => {
      assert.ok(isVlmError(e), String(e));
      assert.equal(e.code, 'E_FFMPEG_MISSING');
      assert.match(e.message, /apt-get install ffmpeg/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    const r = await capture(['data', 'inspect', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /E_FFMPEG_MISSING.*apt-get install ffmpeg/);
    assert.doesNotMatch(r.err, /at .*\.ts:\d+/);
  } finally {
    if (saved === undefined) delete process.env[FFMPEG_ENV];
    else process.env[FFMPEG_ENV] = saved;
  }
});

test('commands that take a dataset read a video dataset: data inspect, annotate, build', { skip: NO_FFMPEG }, async () => {
  const dir = copyOf(h264Dataset());
  const r = await capture(['data', 'inspect', dir, '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { episodes: number; steps: number; cameras: Record<string, string> };
  assert.equal(summary.episodes, 2);
  assert.equal(summary.steps, STEPS[0]! + STEPS[1]!);
  assert.deepEqual(summary.cameras, { front: 'png 32×32' });
  const ann = join(root, 'ann');
  const a = await capture(['annotate', '--in', dir, '--annotator', 'rules', '--out', ann]);
  assert.equal(a.code, 0, a.err);
  const b = await capture(['build', '--episodes', dir, '--annotations', ann, '--out', join(root, 'sft'), '--camera', 'front']);
  assert.equal(b.code, 0, b.err);
});

test(
  'LeRobotWriter with video: H.264 files per camera, episodes joined per data file, read back within the tolerance',
  { skip: NO_FFMPEG },
  async () => {
    const dir = join(root, 'written');
    const frontOnly = (ep: Episode, id: string): Episode => ({
      ...ep,
      metadata: { ...ep.metadata, episodeId: id },
      steps: ep.steps.map((s) => ({ ...s, images: { front: s.images.front! } })),
    });
    const written = [frontOnly(eps[0]!, 'w-0'), frontOnly(eps[1]!, 'w-1'), frontOnly(eps[0]!, 'w-2')];
    const w = LeRobotWriter.create(dir, { fps: FPS, episodesPerFile: 2, video: 'h264' });
    for (const ep of written) w.add(ep);
    w.close();
    const info = JSON.parse(readFileSync(join(dir, 'meta', 'info.json'), 'utf8')) as {
      video_path: string;
      features: Record<string, { dtype: string; shape: number[] }>;
    };
    assert.equal(info.video_path, 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4');
    assert.deepEqual(
      [info.features['observation.images.front']!.dtype, info.features['observation.images.front']!.shape],
      ['video', [SIZE, SIZE, 3]],
    );
    for (const f of ['file-000.mp4', 'file-001.mp4'])
      assert.ok(readFileSync(join(dir, 'videos', 'observation.images.front', 'chunk-000', f)).length > 0);
    const got = await readAll(dir);
    const strip = (ep: Episode) => ({ ...ep, steps: ep.steps.map((s) => ({ ...s, images: {} })) });
    assert.deepEqual(got.map(strip), written.map(strip));
    got.forEach((ep, e) =>
      ep.steps.forEach((s, t) => {
        const err = mae(decodeImage(s.images.front!).rgb, decodeImage(written[e]!.steps[t]!.images.front!).rgb);
        assert.ok(err <= MAE_BOUND, `episode ${e} step ${t}: mean abs error ${err.toFixed(2)}`);
      }),
    );
  },
);

test(
  'sim collect --format lerobot --video h264 writes a video dataset that data inspect reads; --video needs --format lerobot',
  { skip: NO_FFMPEG },
  async () => {
    const out = join(root, 'collected');
    const c = await capture([
      'sim',
      'collect',
      '--tasks',
      'pick',
      '--episodes',
      '1',
      '--size',
      '32',
      '--format',
      'lerobot',
      '--video',
      'h264',
      '--out',
      out,
    ]);
    assert.equal(c.code, 0, c.err);
    const info = JSON.parse(readFileSync(join(out, 'meta', 'info.json'), 'utf8')) as { features: Record<string, { dtype: string }> };
    assert.equal(info.features['observation.images.image_0']!.dtype, 'video');
    const r = await capture(['data', 'inspect', out, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual((JSON.parse(r.out) as { cameras: unknown }).cameras, { image_0: 'png 32×32' });
    const bad = await capture(['sim', 'collect', '--episodes', '1', '--size', '32', '--video', 'h264', '--out', join(root, 'rlds-video')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /E_USAGE.*--format lerobot/s);
  },
);
