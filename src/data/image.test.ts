// Frame headers: a JPEG or PNG declaring more than MAX_PIXELS (or zero) pixels is refused when read,
// before anything is decoded or copied; normal frames probe to their true size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeImage, decodeImage, encodePng, MAX_PIXELS } from './image.ts';
import { isVlmError } from '../errors/index.ts';

/** A minimal JPEG header: SOI, then a SOF0 segment declaring width × height. */
function jpegHeader(width: number, height: number): Uint8Array {
  return Uint8Array.of(
    0xff,
    0xd8,
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    0x03,
    0x01,
    0x22,
    0x00,
    0x02,
    0x11,
    0x01,
    0x03,
    0x11,
    0x01,
    0xff,
    0xd9,
  );
}

test('a frame declaring 16383×16383 or 0 pixels is refused by the probe (inspect, build), not only by decode', () => {
  assert.deepEqual({ ...probeImage(jpegHeader(256, 256), 'f'), bytes: null }, { format: 'jpeg', width: 256, height: 256, bytes: null });
  for (const [w, h] of [
    [16383, 16383],
    [4097, 4096],
    [0, 10],
  ] as const) {
    assert.throws(
      () => probeImage(jpegHeader(w, h), 'frame 3'),
      (e: unknown) => isVlmError(e) && e.code === 'E_IMAGE' && e.field === 'frame 3',
      `${w}×${h}`,
    );
  }
  const png = encodePng({ width: 2, height: 3, rgb: new Uint8Array(18) });
  const huge = Uint8Array.from(png.bytes);
  new DataView(huge.buffer).setUint32(16, 20000);
  new DataView(huge.buffer).setUint32(20, 20000);
  assert.throws(
    () => probeImage(huge, 'png'),
    (e: unknown) => isVlmError(e) && e.code === 'E_IMAGE',
  );
  assert.equal(decodeImage(png).rgb.length, 18);
  assert.ok(4096 * 4096 <= MAX_PIXELS);
});
