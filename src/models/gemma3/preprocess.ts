// Gemma 3's image preprocessing (Gemma3ImageProcessor): resize to image_size × image_size with a
// bilinear (triangle) filter that widens when shrinking, as PIL's BILINEAR resize does; rescale by
// 1/255; normalise with mean 0.5 and std 0.5 to [-1, 1]; channels first ([3, S, S]).
import type { RgbImage } from '../../data/image.ts';

/** Separable resampling weights from `inSize` to `outSize` samples (PIL's triangle filter). */
function weights(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; w: Float32Array; span: number } {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const span = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float32Array(outSize * span);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const x = (i + 0.5 - center) / support;
      const v = Math.max(0, 1 - Math.abs(x));
      w[o * span + i - lo] = v;
      total += v;
    }
    for (let i = 0; i < hi - lo; i++) w[o * span + i]! /= total || 1;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, w, span };
}

/** RGB image → pixel values [3, size, size] in [-1, 1]. */
export function imageToPixels(img: RgbImage, size: number): Float32Array {
  const H = img.height;
  const W = img.width;
  const wx = weights(W, size);
  const wy = weights(H, size);
  // Horizontal pass: [H, size, 3].
  const tmp = new Float32Array(H * size * 3);
  for (let y = 0; y < H; y++) {
    for (let o = 0; o < size; o++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < wx.count[o]!; k++) {
        const weight = wx.w[o * wx.span + k]!;
        const at = (y * W + wx.start[o]! + k) * 3;
        r += weight * img.rgb[at]!;
        g += weight * img.rgb[at + 1]!;
        b += weight * img.rgb[at + 2]!;
      }
      const t = (y * size + o) * 3;
      tmp[t] = r;
      tmp[t + 1] = g;
      tmp[t + 2] = b;
    }
  }
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  for (let o = 0; o < size; o++) {
    for (let x = 0; x < size; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < wy.count[o]!; k++) {
        const weight = wy.w[o * wy.span + k]!;
        const t = ((wy.start[o]! + k) * size + x) * 3;
        r += weight * tmp[t]!;
        g += weight * tmp[t + 1]!;
        b += weight * tmp[t + 2]!;
      }
      const at = o * size + x;
      out[at] = r / 127.5 - 1;
      out[plane + at] = g / 127.5 - 1;
      out[2 * plane + at] = b / 127.5 - 1;
    }
  }
  return out;
}
