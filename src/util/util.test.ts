// Tests for the seeded RNG and crash-safe files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, writeFileAtomic, Journal, readJsonl, Progress } from './index.ts';

test('Rng is deterministic per seed and differs across seeds', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  const sb = Array.from({ length: 8 }, () => b.nextU32());
  const sc = Array.from({ length: 8 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('Rng.normal has roughly unit variance and next() stays in [0,1)', () => {
  const r = new Rng(7);
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
  }
  assert.ok(Math.abs(s / n) < 0.05);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});

test('writeFileAtomic replaces the whole file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-'));
  const p = join(dir, 'sub', 'f.json');
  writeFileAtomic(p, 'one');
  writeFileAtomic(p, 'two');
  assert.equal(readFileSync(p, 'utf8'), 'two');
});

test('Journal trims a torn last line on reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-'));
  const p = join(dir, 'j.jsonl');
  const j = new Journal(p);
  j.append({ a: 1 });
  j.append({ a: 2 });
  j.close();
  appendFileSync(p, '{"a": 3, "torn');
  const j2 = new Journal(p);
  j2.append({ a: 4 });
  j2.close();
  assert.deepEqual(readJsonl(p), [{ a: 1 }, { a: 2 }, { a: 4 }]);
});

test('a resumed progress bar rates only the units done since it started', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream;
  const p = new Progress({ label: 'train', total: 1000, unit: 'steps', intervalMs: 0, stream });
  p.resumedAt(900);
  p.finish();
  assert.match(lines.at(-1)!, /900\/1000 steps 90% 0\.00 steps\/s/);
});
