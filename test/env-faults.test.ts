// Environment faults through the command line: an output path that is a file (or a folder where a
// file goes) gives one typed paragraph naming the path, exit 2 — never "unexpected internal error"
// (exit 70) — and for the long jobs before any work starts; a failed export leaves no temp file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../src/cli/testing.ts';

const root = mkdtempSync(join(tmpdir(), 'vlm2vla-envfault-'));
const file = join(root, 'a-file');
writeFileSync(file, 'not a folder');
writeFileSync(join(root, 'corpus.txt'), 'pick up the red apple\nput the carrot in the pot\n'.repeat(20));
const BRIDGE = join(import.meta.dirname, '../../shared/data/bridge_debug/1.0.0');

const cases: [string, string[]][] = [
  ['pretrain', ['pretrain', '--out', file]],
  ['train', ['train', '--model', 'models/base', '--data', root, '--out', file]],
  ['sim collect', ['sim', 'collect', '--tasks', 'pick', '--episodes', '2', '--out', file]],
  ['sim play', ['sim', 'play', '--task', 'pick', '--seed', '1', '--out', join(file, 'x.png')]],
  ['tokenizer train', ['tokenizer', 'train', '--corpus', join(root, 'corpus.txt'), '--vocab-size', '300', '--out', file]],
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

test('model export-gguf onto a folder: a typed error, and no temporary file left behind', { timeout: 120_000, skip: !existsSync('models/base/config.json') && 'models/base is not present' }, async () => {
  const out = join(root, 'gguf');
  mkdirSync(join(out, 'model.gguf'), { recursive: true });
  const r = await capture(['model', 'export-gguf', '--model', 'models/base', '--out', join(out, 'model.gguf')]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /error E_OUTPUT_NOT_DIR|error E_FS/);
  assert.deepEqual(readdirSync(out), ['model.gguf']);
});
