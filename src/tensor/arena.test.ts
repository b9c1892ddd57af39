// The buffer pool: reuse by exact length (by size class above 4096 floats), zero-filled on reuse, and a bounded size — buffers of the
// least recently used lengths are dropped first (batches of ever new lengths used to grow the pool
// without limit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena, sizeClass } from './arena.ts';

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

test('large buffers are pooled by size class: a slightly different length reuses the same memory', () => {
  assert.equal(sizeClass(4096), 4096);
  assert.equal(sizeClass(4097), 4608);
  assert.equal(sizeClass(3_121_152), 3_145_728);
  for (let n = 4097; n < 3e6; n = Math.ceil(n * 1.37)) {
    const c = sizeClass(n);
    assert.ok(c >= n && c <= n * 1.125, `class ${c} for ${n}`);
    assert.equal(sizeClass(c), c);
  }
  const a = new Arena(1 << 24);
  const b = a.take(3_121_152);
  assert.equal(b.length, 3_121_152);
  b.fill(5);
  a.give(b);
  const c = a.take(3_059_712);
  assert.equal(c.length, 3_059_712);
  assert.equal(c.buffer, b.buffer, 'the store was not reused');
  assert.ok(
    c.every((v) => v === 0),
    'a reused view is zeroed',
  );
  assert.equal(a.reuses, 1);
  a.give(c);
  assert.equal(a.take(3_145_728).buffer, b.buffer, 'the full class length fits the same store');
  // A view inside a foreign buffer is never pooled: the rest of it may be in use.
  const big = new Float32Array(20_000);
  const d = new Arena(1 << 24);
  d.give(big.subarray(0, 10_000));
  d.give(big.subarray(10_000));
  assert.equal(d.pooled, 0);
  // A foreign buffer it wholly owns is pooled under the largest class it can serve.
  d.give(new Float32Array(5000));
  assert.equal(d.pooled, 4608);
  assert.equal(d.take(4500).length, 4500);
  assert.equal(d.reuses, 1);
});
