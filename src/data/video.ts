// Video through Debian's ffmpeg in a child process. Decoding: one time range of one stream to raw RGB
// (rawvideo rgb24 on stdout, [height, width, 3] per frame, one frame in memory at a time) with each
// frame's presentation time, read from the showinfo filter on stderr (pts × time_base, exact). The
// decoder's own complaints (any error-level line) fail the decode, so a corrupt file is never decoded
// to garbage silently. Encoding: RGB frames to H.264 or AV1 in MP4 (LeRobot's writer and the tests).
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { FormatError } from '../errors/index.ts';
import { EnvironmentError } from '../util/index.ts';
import { MAX_PIXELS } from './image.ts';

/** Environment variable naming the ffmpeg binary (default: `ffmpeg` on PATH). */
export const FFMPEG_ENV = 'VLM2VLA_FFMPEG';
export const FFMPEG_INSTALL = 'apt-get install ffmpeg';
/** A decode that prints nothing and writes no frame for this long is killed. */
export const FFMPEG_STALL_MS = 120_000;

export function ffmpegPath(): string {
  return process.env[FFMPEG_ENV] || 'ffmpeg';
}

function missing(what: string, cause?: unknown): EnvironmentError {
  const bin = ffmpegPath();
  const why = bin === 'ffmpeg' ? 'ffmpeg is not installed (not on PATH)' : `${FFMPEG_ENV}=${bin} cannot be run`;
  return new EnvironmentError('E_FFMPEG_MISSING', `${why}: install it with \`${FFMPEG_INSTALL}\` to ${what}`, {
    file: bin,
    fix: `${FFMPEG_INSTALL} (Debian/Ubuntu), or set ${FFMPEG_ENV} to the path of an ffmpeg binary`,
    cause,
  });
}

/** One printable line of ffmpeg's stderr, without its `[demuxer @ 0x…]` prefix. */
function clean(line: string): string {
  const s = line.replace(/^(\[[^\]]*@ 0x[0-9a-f]+\] )?\[(error|fatal|panic|warning|info)\] /, '').replace(/[^\x20-\x7e]/g, '?');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

const available = new Map<string, boolean>();
/** Whether ffmpeg runs here (checked once per binary and process). */
export function ffmpegAvailable(): boolean {
  const bin = ffmpegPath();
  if (!available.has(bin))
    available.set(bin, spawnSync(bin, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 30_000 }).status === 0);
  return available.get(bin)!;
}

export interface VideoRange {
  /** The MP4 (or any container ffmpeg reads); its first video stream is decoded. */
  file: string;
  /** Presentation times in seconds: the frames with start ≤ t < end are decoded. */
  start: number;
  end: number;
  /** Output size; the stream is scaled to it only when its own size differs. */
  width: number;
  height: number;
  /** Decoding stops after maxFrames + 1 frames (one more than the caller expects shows a surplus). */
  maxFrames: number;
}

export interface DecodedRange {
  /** Presentation time in seconds of each frame passed to onFrame, in order. */
  times: number[];
  /** The stream's own frame size (before any scaling), or null when no frame was decoded. */
  sourceWidth: number | null;
  sourceHeight: number | null;
}

const decodeFix = 'the video is truncated or corrupt: re-download it (or re-encode it from the source frames)';

/** Decodes [start, end) of `r.file`; `onFrame` gets each frame's RGB bytes ([height, width, 3]), valid
 *  only during the call (the buffer is reused). Fails with E_VIDEO (naming the file and ffmpeg's first
 *  complaint), or E_FFMPEG_MISSING when ffmpeg cannot be run. */
export function decodeVideoRange(r: VideoRange, onFrame: (rgb: Uint8Array, index: number) => void): Promise<DecodedRange> {
  const frameBytes = r.width * r.height * 3;
  if (!(r.width > 0 && r.height > 0 && r.width * r.height <= MAX_PIXELS && Number.isInteger(r.width) && Number.isInteger(r.height))) {
    throw new FormatError('E_VIDEO', `${r.file}: frame size ${r.width}×${r.height} is outside 1 … ${MAX_PIXELS} pixels`, {
      file: r.file,
      fix: 'the declared frame size is wrong',
    });
  }
  if (!(Number.isFinite(r.start) && Number.isFinite(r.end) && r.end > r.start))
    throw new FormatError('E_VIDEO', `${r.file}: time range [${r.start}, ${r.end}) is empty or not finite`, {
      file: r.file,
      fix: decodeFix,
    });
  const start = Math.max(0, r.start);
  // Seek (to a key frame, then decode forward) a second early; trim picks the exact frames.
  const seek = start > 1 ? ['-ss', (start - 1).toFixed(6)] : [];
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'level+info',
    ...seek,
    '-copyts',
    '-max_pixels',
    String(MAX_PIXELS),
    '-i',
    `file:${resolve(r.file)}`,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    `trim=start=${start.toFixed(6)}:end=${r.end.toFixed(6)},showinfo,scale=${r.width}:${r.height}`,
    '-fps_mode',
    'passthrough',
    '-frames:v',
    String(r.maxFrames + 1),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const times: number[] = [];
    const errors: string[] = [];
    let timeBase: [number, number] | null = null;
    let sourceWidth: number | null = null;
    let sourceHeight: number | null = null;
    const frame = new Uint8Array(frameBytes);
    let filled = 0;
    let frames = 0;
    let line = '';
    let failure: unknown = null;
    let settled = false;
    const finish = (e: unknown, value?: DecodedRange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolvePromise(value!);
    };
    const fail = (e: unknown) => {
      failure ??= e;
      child.kill('SIGKILL');
    };
    let timer = setTimeout(
      () =>
        fail(
          new FormatError('E_VIDEO', `${r.file}: ffmpeg made no progress for ${FFMPEG_STALL_MS / 1000} s`, {
            file: r.file,
            fix: decodeFix,
          }),
        ),
      FFMPEG_STALL_MS,
    );
    const alive = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          fail(
            new FormatError('E_VIDEO', `${r.file}: ffmpeg made no progress for ${FFMPEG_STALL_MS / 1000} s`, {
              file: r.file,
              fix: decodeFix,
            }),
          ),
        FFMPEG_STALL_MS,
      );
    };
    const onLine = (l: string) => {
      const tb = /\[Parsed_showinfo_\d+ @ [^\]]*\] \[info\] config in time_base: (\d+)\/(\d+)/.exec(l);
      if (tb) {
        timeBase = [Number(tb[1]), Number(tb[2])];
        return;
      }
      const info = /\[Parsed_showinfo_\d+ @ [^\]]*\] \[info\] n:\s*\d+ pts:\s*(-?\d+) .* s:(\d+)x(\d+) /.exec(l);
      if (info) {
        if (!timeBase || timeBase[1] === 0)
          return fail(
            new FormatError('E_VIDEO', `${r.file}: ffmpeg gave a frame time before its time base`, { file: r.file, fix: decodeFix }),
          );
        times.push((Number(info[1]) * timeBase[0]) / timeBase[1]);
        sourceWidth = Number(info[2]);
        sourceHeight = Number(info[3]);
        return;
      }
      if (/\[(error|fatal|panic)\]/.test(l) && errors.length < 5) errors.push(clean(l));
    };
    child.stderr.setEncoding('latin1');
    child.stderr.on('data', (chunk: string) => {
      alive();
      line += chunk;
      let nl: number;
      while ((nl = line.search(/[\r\n]/)) >= 0) {
        onLine(line.slice(0, nl));
        line = line.slice(nl + 1);
      }
      if (line.length > 65_536) line = line.slice(-65_536);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      alive();
      let at = 0;
      while (at < chunk.length && failure === null) {
        const n = Math.min(frameBytes - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === frameBytes) {
          filled = 0;
          try {
            onFrame(frame, frames++);
          } catch (e) {
            fail(e);
          }
        }
      }
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(
        e.code === 'ENOENT' || e.code === 'EACCES'
          ? missing(`decode ${r.file}`, e)
          : new FormatError('E_VIDEO', `${r.file}: ffmpeg failed to start: ${e.message}`, { file: r.file, fix: FFMPEG_INSTALL, cause: e }),
      ),
    );
    child.on('close', (code, signal) => {
      if (line) onLine(line);
      if (failure !== null) return finish(failure);
      if (errors.length > 0 || code !== 0) {
        const why = errors[0] ?? (signal ? `ffmpeg was killed by ${signal}` : `ffmpeg exited with status ${code}`);
        return finish(new FormatError('E_VIDEO', `${r.file}: cannot be decoded: ${why}`, { file: r.file, fix: decodeFix }));
      }
      if (filled !== 0)
        return finish(new FormatError('E_VIDEO', `${r.file}: ffmpeg's output ended inside a frame`, { file: r.file, fix: decodeFix }));
      // At the -frames:v limit showinfo may have seen frames that were never written.
      if (frames === r.maxFrames + 1 && times.length > frames) times.length = frames;
      if (times.length !== frames)
        return finish(
          new FormatError('E_VIDEO', `${r.file}: ffmpeg reported ${times.length} frame times for ${frames} frames`, {
            file: r.file,
            fix: decodeFix,
          }),
        );
      finish(null, { times, sourceWidth, sourceHeight });
    });
  });
}

/** Video codecs the writer offers, each with the encoders tried in order (the first this ffmpeg has
 *  and that takes the frame size wins) and their settings. */
interface Encoder {
  name: string;
  /** Smallest width and height it accepts. */
  minSide: number;
  args: (crf: number) => string[];
}
export const VIDEO_CODECS: Record<'h264' | 'av1', { crf: number; encoders: Encoder[] }> = {
  h264: { crf: 18, encoders: [{ name: 'libx264', minSide: 2, args: (crf) => ['-preset', 'veryfast', '-crf', String(crf)] }] },
  // LeRobot encodes with libsvtav1 (crf 30, g 2); SVT-AV1 refuses frames under 64 pixels a side.
  av1: {
    crf: 30,
    encoders: [
      { name: 'libsvtav1', minSide: 64, args: (crf) => ['-preset', '8', '-crf', String(crf)] },
      { name: 'libaom-av1', minSide: 2, args: (crf) => ['-cpu-used', '8', '-row-mt', '1', '-crf', String(crf), '-b:v', '0'] },
      { name: 'librav1e', minSide: 2, args: (crf) => ['-speed', '10', '-qp', String(Math.round(crf * 2.5))] },
    ],
  },
};
export type VideoCodec = keyof typeof VIDEO_CODECS;

const encoderLists = new Map<string, string>();
/** The encoder this ffmpeg uses for `codec` at this frame size, or null when it has none. */
export function videoEncoder(codec: VideoCodec, width: number, height: number): string | null {
  const bin = ffmpegPath();
  if (!encoderLists.has(bin))
    encoderLists.set(bin, spawnSync(bin, ['-hide_banner', '-encoders'], { encoding: 'latin1', timeout: 30_000 }).stdout ?? '');
  const list = encoderLists.get(bin)!;
  const e = VIDEO_CODECS[codec].encoders.find(
    (x) => Math.min(width, height) >= x.minSide && new RegExp(`^ V\\S* ${x.name.replace('-', '\\-')} `, 'm').test(list),
  );
  return e?.name ?? null;
}

/** The encoder for `codec` at this frame size; E_FFMPEG_MISSING when ffmpeg or such an encoder is
 *  missing (commands call it before long work, so they fail in the first second). */
export function requireFfmpeg(codec: VideoCodec, width: number, height: number): string {
  if (!ffmpegAvailable()) throw missing(`write ${codec} video`);
  const name = videoEncoder(codec, width, height);
  if (!name)
    throw new EnvironmentError(
      'E_FFMPEG_MISSING',
      `this ffmpeg has no ${codec} encoder for ${width}×${height} frames (tried ${VIDEO_CODECS[codec].encoders.map((e) => `${e.name}${e.minSide > 2 ? ` (≥ ${e.minSide} pixels a side)` : ''}`).join(', ')})`,
      { file: ffmpegPath(), fix: `${FFMPEG_INSTALL} from Debian (it has libx264 and libaom-av1), or choose another codec` },
    );
  return name;
}

export interface EncodeOptions {
  width: number;
  height: number;
  fps: number;
  codec: VideoCodec;
  /** Quality (lower is better); the codec's default otherwise. */
  crf?: number;
  /** Key frame interval (LeRobot: 2, so any frame decodes quickly). */
  gop?: number;
}

/** Encodes frames (each [height, width, 3] RGB) into an MP4 at `file`, yuv420p at `fps`. Synchronous:
 *  the frames of one call are held in memory (LeRobot's writer calls it once per episode). */
export function encodeVideo(file: string, frames: readonly Uint8Array[], o: EncodeOptions): void {
  const frameBytes = o.width * o.height * 3;
  if (o.width % 2 || o.height % 2)
    throw new FormatError(
      'E_VIDEO',
      `${file}: ${o.width}×${o.height} frames cannot be stored as yuv420p video (width and height must be even)`,
      { file, fix: 'use an even frame size' },
    );
  frames.forEach((f, t) => {
    if (f.length !== frameBytes)
      throw new FormatError('E_VIDEO', `${file}: frame ${t} has ${f.length} bytes, ${o.width}×${o.height} RGB needs ${frameBytes}`, {
        file,
        fix: 'give frames of one size',
      });
  });
  const name = requireFfmpeg(o.codec, o.width, o.height);
  const encoder = VIDEO_CODECS[o.codec].encoders.find((e) => e.name === name)!;
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${o.width}x${o.height}`,
    '-r',
    String(o.fps),
    '-i',
    'pipe:0',
    '-c:v',
    name,
    ...encoder.args(o.crf ?? VIDEO_CODECS[o.codec].crf),
    '-g',
    String(o.gop ?? 2),
    '-pix_fmt',
    'yuv420p',
    '-f',
    'mp4',
    `file:${resolve(file)}`,
  ];
  const out = spawnSync(ffmpegPath(), args, {
    input: Buffer.concat(frames),
    stdio: ['pipe', 'ignore', 'pipe'],
    encoding: 'latin1',
    maxBuffer: 1 << 20,
  });
  if (out.error)
    throw (out.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? missing(`encode ${file}`, out.error)
      : new FormatError('E_VIDEO', `${file}: ffmpeg failed: ${out.error.message}`, { file, cause: out.error });
  if (out.status !== 0)
    throw new FormatError(
      'E_VIDEO',
      `${file}: ffmpeg could not encode it: ${clean(out.stderr.split('\n').find((l) => l.trim()) ?? `exit status ${out.status}`)}`,
      { file, fix: 'check the output folder and the frame size' },
    );
}

/** Concatenates MP4 files of one codec and frame size into `file` without re-encoding; each part
 *  starts where the previous one ends (its duration). */
export function concatVideos(
  file: string,
  parts: readonly string[],
  listFile: string,
  writeList: (path: string, text: string) => void,
): void {
  writeList(listFile, parts.map((p) => `file '${resolve(p).replace(/'/g, "'\\''")}'\n`).join(''));
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    `file:${resolve(listFile)}`,
    '-c',
    'copy',
    '-f',
    'mp4',
    `file:${resolve(file)}`,
  ];
  const out = spawnSync(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'latin1', maxBuffer: 1 << 20 });
  if (out.error)
    throw (out.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? missing(`write ${file}`, out.error)
      : new FormatError('E_VIDEO', `${file}: ffmpeg failed: ${out.error.message}`, { file, cause: out.error });
  if (out.status !== 0)
    throw new FormatError(
      'E_VIDEO',
      `${file}: ffmpeg could not join ${parts.length} episode videos: ${clean(out.stderr.split('\n').find((l) => l.trim()) ?? `exit status ${out.status}`)}`,
      { file, fix: 'check the output folder' },
    );
}
