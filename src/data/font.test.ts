// The bitmap font: every glyph is 5 rows of 3 bits and no two glyphs look alike; the characters of
// every action text style (brackets, commas, minus, decimal point, semicolons) are drawable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GLYPHS, drawText } from './font.ts';

test('glyphs are 3×5 bitmaps, pairwise distinct, and cover the action texts', () => {
  for (const [ch, g] of Object.entries(GLYPHS)) assert.match(g, /^[01]{15}$/, ch);
  const seen = new Map<string, string>();
  for (const [ch, g] of Object.entries(GLYPHS)) {
    assert.ok(!seen.has(g), `${ch} looks like ${seen.get(g)}`);
    seen.set(g, ch);
  }
  for (const ch of '[[4.2, 0.0, -1.5, 1], [0.0, 0.0, 3.0, 0]]move forward 4.2 cm; open gripper: yes? no!')
    if (ch !== ' ') assert.ok(GLYPHS[ch.toLowerCase()], JSON.stringify(ch));
});

test('drawText sets the pixels of a glyph and nothing outside the image', () => {
  const w = 10;
  const h = 6;
  const rgb = new Uint8Array(w * h * 3);
  const used = drawText(rgb, w, h, '[]x', 0, 0, [255, 0, 0], 1);
  assert.equal(used, 12);
  const on = (x: number, y: number) => rgb[(y * w + x) * 3] === 255;
  // '[' in columns 0..2: top row 110, middle rows 100.
  assert.deepEqual([on(0, 0), on(1, 0), on(2, 0), on(0, 2), on(1, 2)], [true, true, false, true, false]);
  // 'x' (top row 101) starts at column 8; its third column (10) lies outside the image and is skipped.
  assert.deepEqual([on(8, 0), on(9, 0)], [true, false]);
  const lit = Array.from({ length: w * h }, (_, p) => rgb[p * 3] === 255).filter(Boolean).length;
  const bits = (g: string, cols: number) => [...g].filter((b, i) => b === '1' && i % 3 < cols).length;
  assert.equal(lit, bits(GLYPHS['[']!, 3) + bits(GLYPHS[']']!, 3) + bits(GLYPHS.x!, 2));
});
