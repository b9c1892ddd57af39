// The buffer pool: reuse by exact length, zero-filled on reuse, and a bounded size — buffers of the
// least recently used lengths are dropped first (batches of ever new lengths used to grow the pool
// without limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from './arena.ts';

test('buffers are reused by length and come back zeroed', () => {
  const a = new Arena(1 << 20);
  const b = a.take(100);
  b.fill(7);
  a.give(b);
  const c = a.take(100);
  assert.equal(c, b);
  assert.ok(c.every((v) => v === 0));
  assert.equal(a.reuses, 1);
  assert.equal(a.take(101).length, 101);
  assert.equal(a.allocations, 2);
});

test('the pool stays under its cap, dropping the least recently used lengths first', () => {
  const a = new Arena(10_000);
  for (let n = 1000; n < 1100; n++) a.give(new Float32Array(n));
  assert.ok(a.pooled <= 10_000, `pooled ${a.pooled}`);
  assert.ok(a.evictions >= 90);
  // The newest lengths survive, the oldest are gone.
  const before = a.allocations;
  a.take(1099);
  assert.equal(a.allocations, before, 'the most recent length was evicted');
  a.take(1000);
  assert.equal(a.allocations, before + 1, 'the oldest length was kept');
  // Taking a length makes it recent again.
  const b = new Arena(3000);
  b.give(new Float32Array(1000));
  b.give(new Float32Array(1001));
  b.give(b.take(1000));
  b.give(new Float32Array(1002)); // over the cap: 1001 is now the least recently used
  const n = b.allocations;
  b.take(1000);
  assert.equal(b.allocations, n, 'a recently taken length was evicted before older ones');
  b.take(1001);
  assert.equal(b.allocations, n + 1);
});
