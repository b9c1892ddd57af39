// Tests of the request queue: one job at a time in arrival order, lanes taking turns round-robin,
// E_BUSY beyond the waiting limit or a lane's share, E_TIMEOUT for a job waiting or running past its
// deadline, cancelled jobs never run, drained().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestQueue } from './queue.ts';
import { ServeError } from './errors.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (e: unknown) => (e instanceof ServeError ? e.code : String(e));

test('jobs run one at a time, in arrival order, with their queue and run times', async () => {
  const q = new RequestQueue(8);
  const log: string[] = [];
  let running = 0;
  const job = (name: string) => async () => {
    running++;
    assert.equal(running, 1, 'never two at once');
    log.push(`start ${name}`);
    await sleep(20);
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const tickets = ['a', 'b', 'c'].map((n) => q.submit(job(n), 5000));
  const results = await Promise.all(tickets.map((t) => t.done));
  assert.deepEqual(
    results.map((r) => r.value),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.ok(results[2]!.timing.queueMs >= 30 && results[0]!.timing.runMs >= 15);
  await q.drained();
  assert.equal(q.waiting, 0);
  assert.equal(q.running, false);
});

test('beyond maxWaiting the answer is E_BUSY at once; a job past its deadline is E_TIMEOUT; a cancelled job never runs', async () => {
  const q = new RequestQueue(1);
  const ran: string[] = [];
  const job = (name: string, ms: number) => async () => {
    ran.push(name);
    await sleep(ms);
    return name;
  };
  const a = q.submit(job('a', 150), 5000);
  const b = q.submit(job('b', 10), 5000);
  const c = q.submit(job('c', 10), 5000);
  await assert.rejects(c.done, (e) => code(e) === 'E_BUSY');
  b.cancel();
  await assert.rejects(b.done);
  const d = q.submit(job('d', 10), 50); // waits behind a (150 ms) past its 50 ms deadline
  await assert.rejects(d.done, (e) => code(e) === 'E_TIMEOUT');
  assert.equal((await a.done).value, 'a');
  const e = q.submit(job('e', 200), 50); // starts at once, then overruns
  await assert.rejects(e.done, (err) => code(err) === 'E_TIMEOUT');
  assert.equal(q.running, true, 'the overrunning job still holds the engine');
  await q.drained();
  assert.deepEqual(ran, ['a', 'e'], 'cancelled and timed-out waiting jobs never ran');
});

test('a job that throws rejects its ticket and the queue goes on', async () => {
  const q = new RequestQueue(4);
  const bad = q.submit(async () => {
    throw new Error('boom');
  }, 1000);
  const good = q.submit(async () => 7, 1000);
  await assert.rejects(bad.done, /boom/);
  assert.equal((await good.done).value, 7);
});

test('lanes take turns: a client with many requests waiting does not hold back the others', async () => {
  const q = new RequestQueue(16, 16);
  const order: string[] = [];
  const job = (name: string) => async () => {
    order.push(name);
    await sleep(5);
    return name;
  };
  const tickets = [
    q.submit(job('a1'), 5000, 'a'),
    q.submit(job('a2'), 5000, 'a'),
    q.submit(job('a3'), 5000, 'a'),
    q.submit(job('a4'), 5000, 'a'),
    q.submit(job('b1'), 5000, 'b'),
    q.submit(job('c1'), 5000, 'c'),
    q.submit(job('b2'), 5000, 'b'),
  ];
  await Promise.all(tickets.map((t) => t.done));
  // a1 starts at once; then a, b, c in turn, each lane one job per round.
  assert.deepEqual(order, ['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4']);
});

test('one lane may hold only its share of the waiting places; other lanes are still admitted', async () => {
  const q = new RequestQueue(8);
  assert.equal(q.maxPerLane, 2, 'a quarter of 8');
  const slow = q.submit(() => sleep(100), 5000, 'x');
  const mine = [q.submit(() => sleep(1), 5000, 'flood'), q.submit(() => sleep(1), 5000, 'flood')];
  const third = q.submit(() => sleep(1), 5000, 'flood');
  await assert.rejects(third.done, (e) => code(e) === 'E_BUSY' && /this client already has 2 requests waiting/.test((e as Error).message));
  const other = q.submit(async () => 'other', 5000, 'robot');
  assert.equal((await other.done).value, 'other');
  await Promise.all([slow.done, ...mine.map((t) => t.done)]);
  assert.equal(new RequestQueue(0).maxPerLane, 1, 'at least one');
});
