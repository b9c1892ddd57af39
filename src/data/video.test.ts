// ffmpeg in a child process: encodeVideo writes what decodeVideoRange reads back; a range deep in a
// file is found by seeking (exact frame times from the stream's time base), and a stream whose size
// differs from the one asked for is scaled. Skips with a message when ffmpeg is not installed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeVideoRange, encodeVideo, ffmpegAvailable } from './video.ts';

const SKIP = ffmpegAvailable() ? false : 'ffmpeg is not installed (apt-get install ffmpeg): video encoding and decoding are not tested';
const W = 32;
const FPS = 10;
const N = 40;

/** Frame k: a grey level that rises with k, and a white bar whose position is k mod 8. */
function frame(k: number): Uint8Array {
  const rgb = new Uint8Array(W * W * 3).fill(20 + 5 * k);
  for (let y = 0; y < W; y++) rgb.fill(255, (y * W + 4 * (k % 8)) * 3, (y * W + 4 * (k % 8) + 4) * 3);
  return rgb;
}
const root = mkdtempSync(join(tmpdir(), 'vlm2vla-video-'));
after(() => rmSync(root, { recursive: true, force: true }));
const mae = (a: Uint8Array, b: Uint8Array) => a.reduce((s, x, i) => s + Math.abs(x - b[i]!), 0) / a.length;

test('a range 2 s into a 4 s H.264 file: the right frames, at their exact times', { skip: SKIP }, async () => {
  const file = join(root, 'v.mp4');
  encodeVideo(
    file,
    Array.from({ length: N }, (_, k) => frame(k)),
    { width: W, height: W, fps: FPS, codec: 'h264' },
  );
  const got: Uint8Array[] = [];
  const r = await decodeVideoRange({ file, start: 2.05, end: 2.55, width: W, height: W, maxFrames: 10 }, (rgb) => got.push(rgb.slice()));
  assert.deepEqual(
    r.times.map((t) => Math.round(t * 1e6) / 1e6),
    [2.1, 2.2, 2.3, 2.4, 2.5],
  );
  assert.deepEqual([r.sourceWidth, r.sourceHeight], [W, W]);
  got.forEach((rgb, i) => {
    const k = 21 + i;
    assert.ok(mae(rgb, frame(k)) < 6, `frame ${k}: mean abs error ${mae(rgb, frame(k)).toFixed(2)}`);
    assert.ok(mae(rgb, frame(k)) < mae(rgb, frame(k + 1)), `frame ${k} looks like frame ${k + 1}`);
  });
  // maxFrames: decoding stops one frame past what the caller expects.
  const capped = await decodeVideoRange({ file, start: 0, end: 4, width: W, height: W, maxFrames: 3 }, () => {});
  assert.equal(capped.times.length, 4);
  // Another output size: scaled, and the stream's own size is reported.
  const small: Uint8Array[] = [];
  const s = await decodeVideoRange({ file, start: 0.95, end: 1.05, width: 16, height: 16, maxFrames: 1 }, (rgb) => small.push(rgb.slice()));
  assert.deepEqual([s.times.length, small[0]!.length, s.sourceWidth], [1, 16 * 16 * 3, W]);
});
