// A 3×5 pixel bitmap font (lower-case letters, digits, the punctuation of action texts; upper case drawn as lower
// case) for labelling contact sheets without a font dependency.
// Each glyph: 5 rows of 3 bits, top row first, as a 15-character string of 0/1.
export const GLYPHS: Record<string, string> = {
  a: '010101111101101',
  b: '110101110101110',
  c: '011100100100011',
  d: '110101101101110',
  e: '111100110100111',
  f: '111100110100100',
  g: '011100101101011',
  h: '101101111101101',
  i: '111010010010111',
  j: '001001001101010',
  k: '101101110101101',
  l: '100100100100111',
  m: '101111111101101',
  n: '110101101101101',
  o: '010101101101010',
  p: '110101110100100',
  q: '010101101111011',
  r: '110101110101101',
  s: '011100010001110',
  t: '111010010010010',
  u: '101101101101111',
  v: '101101101101010',
  w: '101101111111101',
  x: '101101010101101',
  y: '101101010010010',
  z: '111001010100111',
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '110001010100111',
  '3': '110001010001110',
  '4': '101101111001001',
  '5': '111100110001110',
  '6': '011100110101010',
  '7': '111001010010010',
  '8': '010101010101010',
  '9': '010101011001110',
  '.': '000000000000010',
  ',': '000000000010100',
  '-': '000000111000000',
  "'": '010010000000000',
  ':': '000010000010000',
  '/': '001001010100100',
  '#': '101111101111101',
  '(': '010100100100010',
  ')': '010001001001010',
  '[': '110100100100110',
  ']': '011001001001011',
  ';': '000010000010100',
  '!': '010010010000010',
  '?': '110001010000010',
  '%': '101001010100101',
  '+': '000010111010000',
  '=': '000111000111000',
  '"': '101101000000000',
  _: '000000000000111',
  '<': '001010100010001',
  '>': '100010001010100',
};

/** Draws `text` into an RGB image at (x, y) with pixel size `scale`; returns the width used. */
export function drawText(
  rgb: Uint8Array,
  width: number,
  height: number,
  text: string,
  x: number,
  y: number,
  colour: readonly [number, number, number],
  scale = 2,
): number {
  let cx = x;
  for (const ch of text.toLowerCase()) {
    const g = GLYPHS[ch];
    if (g) {
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++) {
          if (g[row * 3 + col] !== '1') continue;
          for (let dy = 0; dy < scale; dy++) {
            for (let dx = 0; dx < scale; dx++) {
              const px = cx + col * scale + dx;
              const py = y + row * scale + dy;
              if (px < 0 || py < 0 || px >= width || py >= height) continue;
              const i = (py * width + px) * 3;
              rgb[i] = colour[0];
              rgb[i + 1] = colour[1];
              rgb[i + 2] = colour[2];
            }
          }
        }
      }
    }
    cx += 4 * scale;
  }
  return cx - x;
}
