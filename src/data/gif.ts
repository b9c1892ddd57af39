// Animated GIFs of RGB frames (one palette per frame), for episode videos.
import gifenc from 'gifenc';
import { UsageError } from '../errors/index.ts';
import type { RgbImage } from './image.ts';

/** The GIF bytes of equally sized frames shown `delayMs` each (200 ms = the 5 Hz control rate). */
export function encodeGif(frames: readonly RgbImage[], delayMs = 200): Uint8Array {
  if (frames.length === 0) throw new UsageError('a GIF needs at least one frame');
  const { width, height } = frames[0]!;
  if (frames.some((f) => f.width !== width || f.height !== height))
    throw new UsageError('the frames differ in size; cannot make one animation of them');
  const { GIFEncoder, quantize, applyPalette } = gifenc;
  const gif = GIFEncoder();
  for (const f of frames) {
    const rgba = new Uint8Array(f.width * f.height * 4);
    for (let i = 0, j = 0; i < f.rgb.length; i += 3, j += 4)
      ((rgba[j] = f.rgb[i]!), (rgba[j + 1] = f.rgb[i + 1]!), (rgba[j + 2] = f.rgb[i + 2]!), (rgba[j + 3] = 255));
    const palette = quantize(rgba, 256);
    gif.writeFrame(applyPalette(rgba, palette), f.width, f.height, { palette, delay: delayMs });
  }
  gif.finish();
  return gif.bytes();
}
