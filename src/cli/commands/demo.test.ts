// `vlm2vla demo` runs end to end on a few episodes and reports the audit against ground truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../main.ts';
import { capture } from '../testing.ts';

test('the demo collects, annotates, audits and builds', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'vlm2vla-demo-test-')), 'w');
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    assert.equal(await main(['demo', '--episodes', '4', '--rollouts', '0', '--out', out]), 0);
  } finally {
    console.log = log;
  }
  const text = lines.join('\n');
  assert.match(text, /subtask texts 4\/4/);
  assert.match(text, /assistant: \[\[/);
  assert.ok(existsSync(join(out, 'sft', 'train.jsonl')));
});

test('the demo names a missing adapter before any work', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'vlm2vla-demo-test-')), 'w');
  const r = await capture(['demo', '--episodes', '2', '--out', out, '--adapter', join(out, 'no-such-adapter')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /the adapter .*no-such-adapter does not exist/);
  assert.match(r.err, /--rollouts 0/);
});
