// Contact sheets: size from the episode count, labels drawn, frames copied in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contactSheet } from './contact-sheet.ts';
import { encodePng } from './image.ts';
import { BRIDGE_SEMANTICS } from './episode.ts';
import type { Episode } from './episode.ts';

test('a contact sheet has one labelled row of frames per episode', () => {
  const frame = encodePng({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill(200).map((v, i) => (i % 3 === 0 ? 255 : 0)) });
  const ep: Episode = {
    instruction: 'put the carrot in the pot',
    steps: Array.from({ length: 4 }, () => ({
      images: { image_0: frame },
      state: new Float32Array(7),
      action: new Float32Array(7),
      isFirst: false,
      isLast: false,
      isTerminal: false,
      reward: 0,
      discount: 1,
    })),
    metadata: { source: 't', episodeId: 'e', semantics: BRIDGE_SEMANTICS },
  };
  const s = contactSheet([ep, ep], { frames: 3, tile: 20 });
  assert.equal(s.width, 3 * 22 + 2);
  assert.equal(s.height, 2 * (20 + 16 + 4) + 2);
  const px = (x: number, y: number) => [
    s.rgb[(y * s.width + x) * 3]!,
    s.rgb[(y * s.width + x) * 3 + 1]!,
    s.rgb[(y * s.width + x) * 3 + 2]!,
  ];
  assert.deepEqual(px(12, 2 + 16 + 15), [255, 0, 0], 'a red frame pixel inside the first tile');
  let dark = 0;
  for (let y = 2; y < 16; y++) for (let x = 0; x < s.width; x++) if (px(x, y)[0]! < 60) dark++;
  assert.ok(dark > 20, 'the label is drawn');
});
