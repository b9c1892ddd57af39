// Contact sheets: one row per episode — its instruction, then evenly spaced frames of one camera.
import type { Episode } from './episode.ts';
import { decodeImage } from './image.ts';
import type { RgbImage } from './image.ts';
import { drawText } from './font.ts';

export function contactSheet(episodes: Episode[], options: { camera?: string; frames?: number; tile?: number } = {}): RgbImage {
  const frames = options.frames ?? 6;
  const tile = options.tile ?? 96;
  const label = 16;
  const width = frames * (tile + 2) + 2;
  const height = episodes.length * (tile + label + 4) + 2;
  const rgb = new Uint8Array(width * height * 3).fill(250);
  episodes.forEach((ep, row) => {
    const y0 = row * (tile + label + 4) + 2;
    const camera = options.camera ?? Object.keys(ep.steps[0]?.images ?? {})[0];
    drawText(rgb, width, height, `#${row} ${ep.instruction}`.slice(0, Math.floor(width / 8) - 1), 4, y0 + 2, [20, 20, 30], 2);
    if (!camera) return;
    const T = ep.steps.length;
    for (let k = 0; k < frames && k < T; k++) {
      const t = Math.round((k * (T - 1)) / Math.max(1, frames - 1));
      const img = ep.steps[t]!.images[camera];
      if (!img) continue;
      const d = decodeImage(img, `episode ${row} step ${t}`);
      const x0 = k * (tile + 2) + 2;
      // Nearest-neighbour resize into the tile.
      for (let y = 0; y < tile; y++) {
        const sy = Math.min(d.height - 1, Math.floor((y * d.height) / tile));
        for (let x = 0; x < tile; x++) {
          const sx = Math.min(d.width - 1, Math.floor((x * d.width) / tile));
          const si = (sy * d.width + sx) * 3;
          const di = ((y0 + label + y) * width + x0 + x) * 3;
          rgb[di] = d.rgb[si]!;
          rgb[di + 1] = d.rgb[si + 1]!;
          rgb[di + 2] = d.rgb[si + 2]!;
        }
      }
      drawText(rgb, width, height, `t${t}`, x0 + 3, y0 + label + 3, [255, 255, 255], 1);
    }
  });
  return { width, height, rgb };
}
