// End-to-end test of `vlm2vla tokenizer train` and `tokenizer encode` through the CLI entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../testing.ts';

test('tokenizer train then encode through the CLI; bad input exits 2 with a message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cli-tok-'));
  const corpus = join(dir, 'corpus.jsonl');
  writeFileSync(corpus, Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `put the carrot in the pot ${i}` })).join('\n'));
  const trained = await capture(['tokenizer', 'train', '--corpus', corpus, '--vocab-size', '320', '--out', join(dir, 'tok')]);
  assert.equal(trained.code, 0, trained.err);
  assert.ok(existsSync(join(dir, 'tok', 'tokenizer.json')));
  const enc = await capture(['tokenizer', 'encode', '--model', join(dir, 'tok'), '--json', '--chat', 'put the carrot']);
  assert.equal(enc.code, 0, enc.err);
  const parsed = JSON.parse(enc.out) as { text: string; ids: number[]; pieces: string[] };
  assert.equal(parsed.text, '<bos><start_of_turn>user\nput the carrot<end_of_turn>\n<start_of_turn>model\n');
  assert.deepEqual(parsed.pieces.slice(0, 2), ['<bos>', '<start_of_turn>']);
  assert.ok(parsed.pieces.includes('▁carrot'));
  writeFileSync(join(dir, 'bad.jsonl'), '{"txt": 1}\n');
  const bad = await capture(['tokenizer', 'train', '--corpus', join(dir, 'bad.jsonl'), '--out', join(dir, 'x')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad\.jsonl:1 is not JSON with a string "text" field/);
  const missing = await capture(['tokenizer', 'encode', '--model', join(dir, 'nope'), 'hi']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /E_TOKENIZER_MISSING/);
});
