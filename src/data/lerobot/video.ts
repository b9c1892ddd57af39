// LeRobot v3 camera streams stored as video (feature dtype "video"): one MP4 per camera and file at
// info.json's `video_path` (`videos/<key>/chunk-XXX/file-YYY.mp4`), many episodes one after another
// in a file. meta/episodes gives each episode's place per camera: `videos/<key>/chunk_index`,
// `file_index`, `from_timestamp`, `to_timestamp` (seconds). Step t of an episode shows the video frame
// at from_timestamp + timestamp[t] (the data row's timestamp), as LeRobot's own loader queries it; here
// it must lie within half a frame (0.5/fps). Frames are decoded by ffmpeg (data/video.ts), one episode
// and camera per call, each frame kept as a lossless PNG of the decoded pixels (Episode frames are
// encoded images).
import { FormatError } from '../../errors/index.ts';
import type { EncodedImage } from '../episode.ts';
import { MAX_PIXELS, encodePngFast } from '../image.ts';
import { decodeVideoRange } from '../video.ts';

export interface VideoFeature {
  /** Feature key, e.g. observation.images.front (also the folder under videos/). */
  key: string;
  /** Camera name in the Episode: the key without `observation.images.`. */
  camera: string;
  width: number;
  height: number;
}

/** Where one episode's frames of one camera are. */
export interface EpisodeVideo {
  /** Path relative to the dataset root. */
  path: string;
  from: number;
  to: number;
}

const badFeature = (infoPath: string, key: string, message: string): never => {
  throw new FormatError('E_LEROBOT', `${infoPath}: ${message}`, {
    file: infoPath,
    field: `features.${key}`,
    fix: 'the dataset is damaged or not a LeRobot v3 dataset',
  });
};

/** The video features of info.json with their frame size: `shape` is [height, width, 3] (LeRobot's
 *  names height, width, channels) or [3, height, width] when `names` says so; at most 4096² pixels. */
export function videoFeatures(
  features: Record<string, { dtype?: string; shape?: unknown; names?: unknown } | undefined>,
  infoPath: string,
): VideoFeature[] {
  const out: VideoFeature[] = [];
  for (const [key, f] of Object.entries(features)) {
    if (f?.dtype !== 'video') continue;
    const shape = f.shape;
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((x) => Number.isSafeInteger(x) && x > 0))
      badFeature(infoPath, key, `video feature ${key} has shape ${JSON.stringify(shape)}, expected [height, width, 3]`);
    const s = shape as number[];
    const channelsFirst = Array.isArray(f.names) ? f.names[0] === 'channels' || f.names[0] === 'channel' : s[0] === 3 && s[2] !== 3;
    const [channels, height, width] = channelsFirst ? [s[0]!, s[1]!, s[2]!] : [s[2]!, s[0]!, s[1]!];
    if (channels !== 3) badFeature(infoPath, key, `video feature ${key} has ${channels} channels; vlm2vla reads RGB video (3 channels)`);
    if (width * height > MAX_PIXELS)
      badFeature(infoPath, key, `video feature ${key} declares ${width}×${height}, over ${MAX_PIXELS} pixels`);
    out.push({ key, camera: key.startsWith('observation.images.') ? key.slice('observation.images.'.length) : key, width, height });
  }
  return out;
}

/** Decodes the frames of one episode and camera and maps them to its steps by timestamp. The decoded
 *  count must equal the episode's length and each frame must lie within half a frame of
 *  from_timestamp + timestamp[t]; otherwise E_VIDEO_FRAMES names the file and the episode. */
export async function decodeEpisodeFrames(
  file: string,
  feature: VideoFeature,
  video: EpisodeVideo,
  timestamps: readonly number[],
  fps: number,
  episode: number,
): Promise<EncodedImage[]> {
  const half = 0.5 / fps;
  const targets = timestamps.map((ts) => video.from + ts);
  const n = targets.length;
  const where = `episode ${episode} of ${feature.key}`;
  const mismatch = (message: string) =>
    new FormatError('E_VIDEO_FRAMES', `${file}: ${message}`, {
      file,
      field: where,
      fix: `the video and meta/episodes disagree: re-download the dataset, or re-encode the video at ${fps} fps with one frame per data row (videos/${feature.key}/from_timestamp + timestamp locates each frame)`,
    });
  if (targets[n - 1]! >= video.to + half)
    throw new FormatError('E_LEROBOT', `${file}: ${where} has its last frame at ${targets[n - 1]} s, past its to_timestamp ${video.to} s`, {
      file,
      field: `videos/${feature.key}/to_timestamp`,
      fix: 'the dataset is damaged: meta/episodes and the data rows disagree',
    });
  const start = targets[0]! - half;
  const end = targets[n - 1]! + half;
  const frames: EncodedImage[] = [];
  const decoded = await decodeVideoRange({ file, start, end, width: feature.width, height: feature.height, maxFrames: n }, (rgb) => {
    if (frames.length < n) frames.push(encodePngFast({ width: feature.width, height: feature.height, rgb }));
  });
  const got = decoded.times.length;
  if (got !== n)
    throw mismatch(
      `${where}: decoded ${got > n ? `more than ${n}` : got} frame(s) between ${start.toFixed(4)} and ${end.toFixed(4)} s, meta/episodes says ${n} (one per step, 1/${fps} s apart)`,
    );
  decoded.times.forEach((time, t) => {
    if (Math.abs(time - targets[t]!) >= half)
      throw mismatch(
        `${where}: step ${t} should show the frame at ${targets[t]!.toFixed(4)} s, the video has it at ${time.toFixed(4)} s (more than half a frame, ${half.toFixed(4)} s, away)`,
      );
  });
  return frames;
}
