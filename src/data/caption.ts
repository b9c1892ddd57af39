// Frames with a caption band: a camera frame scaled to a width, lines of text written under it and a
// label on top (green for success, red for failure) — for episode videos and report filmstrips.
import { drawText } from './font.ts';
import type { RgbImage } from './image.ts';

function wrap(line: string, chars: number): string[] {
  const out: string[] = [];
  for (let rest = line; rest.length > 0; rest = rest.slice(chars)) out.push(rest.slice(0, chars));
  return out;
}

/** How many text rows `lines` take under a frame `width` pixels wide. */
export function captionRows(lines: readonly string[], width = 256): number {
  const chars = Math.floor((width - 8) / 8);
  return lines.reduce((n, l) => n + Math.ceil(l.length / chars), 0);
}

/** `frame` scaled to `width` with `lines` written in a band under it and `label` on top (green for
 *  success, red for failure, white otherwise). */
export function captionFrame(
  frame: RgbImage,
  lines: readonly string[],
  label: string,
  tone: 'success' | 'failure' | 'plain',
  width = 256,
  maxLines = 6,
): RgbImage {
  const scale = 2;
  const chars = Math.floor((width - 8) / (4 * scale));
  let wrapped = lines.flatMap((l) => wrap(l, chars));
  if (wrapped.length > maxLines) wrapped = [...wrapped.slice(0, maxLines - 1), `${wrapped[maxLines - 1]!.slice(0, chars - 3)}...`];
  const k = width / frame.width;
  const imageH = Math.round(frame.height * k);
  const band = 8 + maxLines * 7 * scale;
  const height = imageH + band;
  const rgb = new Uint8Array(width * height * 3).fill(24);
  for (let y = 0; y < imageH; y++) {
    const sy = Math.min(frame.height - 1, Math.floor(y / k));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(frame.width - 1, Math.floor(x / k));
      const s = (sy * frame.width + sx) * 3;
      rgb.set(frame.rgb.subarray(s, s + 3), (y * width + x) * 3);
    }
  }
  wrapped.forEach((line, i) => drawText(rgb, width, height, line, 4, imageH + 4 + i * 7 * scale, [230, 230, 230], scale));
  const colour: [number, number, number] = tone === 'success' ? [60, 220, 90] : tone === 'failure' ? [240, 70, 60] : [255, 255, 255];
  const labelW = label.length * 4 * scale + 6;
  for (let y = 0; y < 5 * scale + 6; y++)
    for (let x = 0; x < Math.min(width, labelW); x++) rgb.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3);
  drawText(rgb, width, height, label, 3, 3, colour, scale);
  return { width, height, rgb };
}
