// Environment faults through the command line: an output path that is a file (or a folder where a
// file goes) gives one typed paragraph naming the path, exit 2 — never "unexpected internal error"
// (exit 70) — and for the long jobs before any work starts; a failed export leaves no temp file.
// `build` checks its output the same way, and also refuses a read-only folder, a full disk and a
// folder holding another dataset, before it reads a line of the annotations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../src/cli/testing.ts';
import { mountTmpfs } from '../src/util/testing.ts';

const root = mkdtempSync(join(tmpdir(), 'vlm2vla-envfault-'));
const file = join(root, 'a-file');
writeFileSync(file, 'not a folder');
writeFileSync(join(root, 'corpus.txt'), 'pick up the red apple\nput the carrot in the pot\n'.repeat(20));
const BRIDGE = join(import.meta.dirname, '../../shared/data/bridge_debug/1.0.0');
// Not annotations at all: a build that read them before checking its output would fail with E_ANNOTATION.
const garbageAnnotations = join(root, 'garbage-ann.jsonl');
writeFileSync(garbageAnnotations, '\u0000 not annotations\n');
const build = (out: string) => ['build', '--annotations', garbageAnnotations, '--episodes', join(root, 'no-such-dataset'), '--out', out];

const cases: [string, string[]][] = [
  ['pretrain', ['pretrain', '--out', file]],
  ['train', ['train', '--model', 'models/base', '--data', root, '--out', file]],
  ['sim collect', ['sim', 'collect', '--tasks', 'pick', '--episodes', '2', '--out', file]],
  ['sim play', ['sim', 'play', '--task', 'pick', '--seed', '1', '--out', join(file, 'x.png')]],
  ['tokenizer train', ['tokenizer', 'train', '--corpus', join(root, 'corpus.txt'), '--vocab-size', '300', '--out', file]],
  ['build', build(file)],
  ['build (a folder under a file)', build(join(file, 'sft'))],
];
if (existsSync(BRIDGE)) {
  cases.push(['annotate', ['annotate', '--in', BRIDGE, '--out', file]]);
  cases.push(['data inspect --render', ['data', 'inspect', BRIDGE, '--episodes', '1', '--render', join(file, 'sheet.png')]]);
}

for (const [name, argv] of cases) {
  test(`${name}: an output path under a file is a typed error naming it, exit 2, at once`, { timeout: 60_000 }, async () => {
    const started = performance.now();
    const r = await capture(argv);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /error E_OUTPUT_NOT_DIR: .*a-file/);
    assert.match(r.err, /fix: /);
    assert.doesNotMatch(r.err, /internal error/);
    assert.ok(performance.now() - started < 30_000);
  });
}

test(
  'model export-gguf onto a folder: a typed error, and no temporary file left behind',
  { timeout: 120_000, skip: !existsSync('models/base/config.json') && 'models/base is not present' },
  async () => {
    const out = join(root, 'gguf');
    mkdirSync(join(out, 'model.gguf'), { recursive: true });
    const r = await capture(['model', 'export-gguf', '--model', 'models/base', '--out', join(out, 'model.gguf')]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /error E_OUTPUT_NOT_DIR|error E_FS/);
    assert.deepEqual(readdirSync(out), ['model.gguf']);
  },
);

/** Runs `build` into `out` and checks it fails at once with `code`, naming `path`, before any work. */
async function buildRefused(out: string, code: string, path: string): Promise<void> {
  const started = performance.now();
  const r = await capture(build(out));
  const ms = performance.now() - started;
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, new RegExp(`^error ${code}: .*${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  assert.match(r.err, /fix: /);
  assert.ok(ms < 1000, `refused after ${ms.toFixed(0)} ms`);
}

test('build: an output folder holding a built dataset, robot data or annotations is refused before any work', async () => {
  for (const [marker, what] of [
    ['build_info.json', 'built SFT dataset'],
    ['dataset_info.json', 'RLDS dataset'],
    [join('meta', 'info.json'), 'LeRobot dataset'],
    ['annotations.jsonl', 'annotations'],
  ]) {
    const out = mkdtempSync(join(root, 'held-'));
    mkdirSync(join(out, 'meta'));
    writeFileSync(join(out, marker), '{}');
    await buildRefused(out, 'E_BUILD_EXISTS', out);
    const r = await capture(build(out));
    assert.match(r.err, new RegExp(what));
    assert.deepEqual(readdirSync(out).sort(), ['meta', ...(marker.startsWith('meta') ? [] : [marker])].sort(), 'nothing written');
  }
});

test(
  'build: a read-only output folder and a full disk are refused before any work',
  { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs' },
  async (t) => {
    const fs = mountTmpfs(64);
    if (!fs) return t.skip('mount is not permitted here');
    try {
      writeFileSync(join(fs.dir, 'filler'), new Uint8Array(60 * 1024));
      try {
        writeFileSync(join(fs.dir, 'more'), new Uint8Array(64 * 1024));
      } catch {
        // The disk is full now.
      }
      await buildRefused(join(fs.dir, 'sft'), 'E_FS_NO_SPACE', join(fs.dir, 'sft'));
      fs.ro();
      await buildRefused(join(fs.dir, 'sft2'), 'E_FS_READONLY', join(fs.dir, 'sft2'));
    } finally {
      fs.done();
    }
  },
);
