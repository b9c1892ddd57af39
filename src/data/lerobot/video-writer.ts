// The video side of LeRobotWriter (option `video`): as LeRobot does, each episode's frames of a camera
// are encoded to a temporary MP4 (yuv420p, a key frame every 2 frames), and when a data file is
// flushed the episodes of that file are joined per camera, without re-encoding, into
// videos/observation.images.<camera>/chunk-000/file-NNN.mp4. Episode e then occupies
// [from_timestamp, to_timestamp) of that file: the frames of the episodes before it, over fps.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FormatError } from '../../errors/index.ts';
import { writeFileAtomic } from '../../util/index.ts';
import type { Episode } from '../episode.ts';
import { decodeImage } from '../image.ts';
import { VIDEO_CODECS, concatVideos, encodeVideo, videoEncoder } from '../video.ts';
import type { VideoCodec } from '../video.ts';

export const VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';

export class EpisodeVideoWriter {
  readonly #segments = new Map<string, string[]>();
  readonly #sizes = new Map<string, { width: number; height: number }>();
  #framesInFile = 0;
  #count = 0;

  constructor(
    readonly tmp: string,
    readonly codec: VideoCodec,
    readonly fps: number,
  ) {
    if (!(codec in VIDEO_CODECS))
      throw new FormatError('E_VIDEO', `unknown video codec ${JSON.stringify(codec)}`, {
        fix: `choose one of ${Object.keys(VIDEO_CODECS).join(', ')}`,
      });
  }

  /** Encodes the episode's frames of every camera; its [from, to) seconds in the current file. */
  add(ep: Episode, cameras: readonly string[]): { from: number; to: number } {
    for (const c of cameras) {
      const frames = ep.steps.map((s, t) => decodeImage(s.images[c]!, `episode ${ep.metadata.episodeId} step ${t} camera ${c}`));
      const size = this.#sizes.get(c) ?? { width: frames[0]!.width, height: frames[0]!.height };
      this.#sizes.set(c, size);
      frames.forEach((f, t) => {
        if (f.width !== size.width || f.height !== size.height)
          throw new FormatError(
            'E_VIDEO',
            `episode ${ep.metadata.episodeId} step ${t}: camera ${c} is ${f.width}×${f.height}, its video ${size.width}×${size.height}`,
            { field: c, fix: 'a camera stored as video keeps one frame size: write frames of one size' },
          );
      });
      const segment = join(this.tmp, 'segments', c, `episode-${this.#count}.mp4`);
      mkdirSync(dirname(segment), { recursive: true });
      encodeVideo(
        segment,
        frames.map((f) => f.rgb),
        { width: size.width, height: size.height, fps: this.fps, codec: this.codec },
      );
      this.#segments.set(c, [...(this.#segments.get(c) ?? []), segment]);
    }
    this.#count++;
    const from = this.#framesInFile / this.fps;
    this.#framesInFile += ep.steps.length;
    return { from, to: this.#framesInFile / this.fps };
  }

  /** Joins the current file's episode videos per camera into file `fileIndex`. */
  flush(fileIndex: number): void {
    for (const [c, parts] of this.#segments) {
      const out = join(this.tmp, 'videos', `observation.images.${c}`, 'chunk-000', `file-${String(fileIndex).padStart(3, '0')}.mp4`);
      mkdirSync(dirname(out), { recursive: true });
      if (parts.length === 1) renameSync(parts[0]!, out);
      else concatVideos(out, parts, join(this.tmp, 'segments', `${c}.txt`), writeFileAtomic);
    }
    rmSync(join(this.tmp, 'segments'), { recursive: true, force: true });
    this.#segments.clear();
    this.#framesInFile = 0;
  }

  /** info.json features of the cameras, as LeRobot declares video. */
  features(cameras: readonly string[]): Record<string, unknown> {
    return Object.fromEntries(
      cameras.map((c) => {
        const { width, height } = this.#sizes.get(c)!;
        const codec = this.codec === 'h264' ? 'h264' : 'av1';
        const info = {
          'video.height': height,
          'video.width': width,
          'video.codec': codec,
          'video.pix_fmt': 'yuv420p',
          'video.is_depth_map': false,
          'video.fps': this.fps,
          'video.channels': 3,
          has_audio: false,
          'vlm2vla.encoder': videoEncoder(this.codec, width, height),
        };
        return [`observation.images.${c}`, { dtype: 'video', shape: [height, width, 3], names: ['height', 'width', 'channels'], info }];
      }),
    );
  }
}
