// `vlm2vla sim play`: an expert episode as a GIF or a PNG filmstrip, an episode of a collected
// dataset, and usage errors as exit code 2 with a typed message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../testing.ts';
import { decodeImage, probeImage } from '../../data/image.ts';

test('sim play writes a GIF animation and a PNG filmstrip; plays episodes of a dataset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-play-'));
  const gif = await capture(['sim', 'play', '--task', 'pick', '--seed', '2', '--size', '32', '--out', join(dir, 'a.gif')]);
  assert.equal(gif.code, 0, gif.err);
  assert.match(gif.out, /steps, success; wrote/);
  assert.equal(Buffer.from(readFileSync(join(dir, 'a.gif')).subarray(0, 6)).toString('latin1'), 'GIF89a');
  const png = await capture(['sim', 'play', '--task', 'pick-place', '--seed', '2', '--size', '32', '--out', join(dir, 'a.png')]);
  assert.equal(png.code, 0, png.err);
  const strip = decodeImage(probeImage(new Uint8Array(readFileSync(join(dir, 'a.png'))), 'a.png'));
  assert.equal(strip.height, 32);
  assert.ok(strip.width % 32 === 0 && strip.width / 32 >= 4 && strip.width / 32 <= 8, `filmstrip of ${strip.width / 32} frames`);

  const data = join(dir, 'data');
  assert.equal(
    (
      await capture([
        'sim',
        'collect',
        '--tasks',
        'pick',
        '--episodes',
        '2',
        '--seed',
        '5',
        '--size',
        '24',
        '--image-format',
        'png',
        '--out',
        data,
      ])
    ).code,
    0,
  );
  const fromData = await capture(['sim', 'play', '--in', data, '--episode', '1', '--out', join(dir, 'b.png')]);
  assert.equal(fromData.code, 0, fromData.err);
  assert.equal(decodeImage(probeImage(new Uint8Array(readFileSync(join(dir, 'b.png'))), 'b.png')).height, 24);
  const outOfRange = await capture(['sim', 'play', '--in', data, '--episode', '2', '--out', join(dir, 'c.png')]);
  assert.equal(outOfRange.code, 2);
  assert.match(outOfRange.err, /E_USAGE.*has 2 episodes/);
  const badExt = await capture(['sim', 'play', '--out', join(dir, 'c.jpg')]);
  assert.equal(badExt.code, 2);
  assert.match(badExt.err, /--out must end in \.gif or \.png/);
});
