// Tests of the SFT dataset reader: build_info.json is optional but, when present, checked (the tokens
// style's bin ranges above all); records are validated line by line with the file and line named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlmError } from '../errors/index.ts';
import { openSftDataset, recordTexts } from './dataset.ts';

const user = { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'pick up the carrot' }] };
const answer = { role: 'assistant', content: [{ type: 'text', text: 'move left' }] };

test('build_info.json: absent is a plain dataset; the tokens style needs its bin ranges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-sftds-'));
  try {
    const plain = openSftDataset(dir);
    assert.equal(plain.info, null);
    assert.equal(plain.actionStyle, 'list');
    assert.equal(plain.tokenBins, null);
    assert.equal(plain.has('val'), false);
    const info = (options: unknown) => writeFileSync(join(dir, 'build_info.json'), JSON.stringify({ schema: 'vlm2vla.sft/1', options }));
    info({ actionStyle: 'tokens', tokens: { low: [-1, -2, -3], high: [1, 2, 3], markers: '<a000>' } });
    assert.deepEqual(openSftDataset(dir).tokenBins, { low: [-1, -2, -3], high: [1, 2, 3] });
    info({ actionStyle: 'tokens', tokens: { low: [-1, -2], high: [1, 2, 3] } });
    assert.throws(
      () => openSftDataset(dir),
      (e: unknown) => isVlmError(e) && e.code === 'E_SFT_RECORD' && e.field === 'options.tokens',
    );
    info('tokens');
    assert.throws(
      () => openSftDataset(dir),
      (e: unknown) => isVlmError(e) && e.field === 'options',
    );
    writeFileSync(join(dir, 'build_info.json'), '{');
    assert.throws(
      () => openSftDataset(dir),
      (e: unknown) => isVlmError(e) && /build_info\.json is not valid JSON/.test(e.message),
    );
    assert.throws(
      () => openSftDataset(join(dir, 'nowhere')),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE',
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('records: validated with file and line; images must lie inside the folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-sftds-'));
  try {
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'a.png'), '');
    const write = (recs: unknown[]) => writeFileSync(join(dir, 'train.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n'));
    write([
      { images: ['images/a.png'], messages: [user, answer] },
      { images: [], messages: [{ role: 'user', content: 'hi' }, answer] },
    ]);
    const ds = openSftDataset(dir);
    const recs = ds.records('train');
    assert.deepEqual(
      recs.map((r) => [r.where.endsWith(`train.jsonl:${recs.indexOf(r) + 1}`), r.images]),
      [
        [true, 1],
        [true, 0],
      ],
    );
    assert.deepEqual(recordTexts(recs), ['pick up the carrot', 'move left', 'hi', 'move left']);
    assert.equal(ds.imagePath('images/a.png', 'x'), join(dir, 'images', 'a.png'));
    for (const rel of ['../a.png', '/etc/passwd', 'images/b.png'])
      assert.throws(
        () => ds.imagePath(rel, 'x'),
        (e: unknown) => isVlmError(e) && e.field === 'images',
        rel,
      );
    const bad = (rec: unknown, field: string) => {
      write([{ images: [], messages: [{ role: 'user', content: 'hi' }, answer] }, rec]);
      assert.throws(
        () => ds.records('train'),
        (e: unknown) => isVlmError(e) && e.code === 'E_SFT_RECORD' && e.field === field && /train\.jsonl:2/.test(e.message),
        JSON.stringify(rec),
      );
    };
    bad({ images: [], messages: [{ role: 'robot', content: 'hi' }] }, 'messages[0]');
    bad({ images: [], messages: [{ role: 'user', content: [{ type: 'video' }] }] }, 'messages[0].content');
    bad({ images: [3], messages: [user] }, 'images');
    bad({ images: [], messages: [user] }, 'images');
  } finally {
    rmSync(dir, { recursive: true });
  }
});
