// Tests of the session table: with a factory each session's episode is its own (interleaving changes
// nothing), a closed session's policy is freed (after its request in flight), the cap refuses one
// more with E_SESSION_LIMIT, idle sessions are evicted; with one shared policy an episode restarts on
// a new prompt, on reset and after another session ran, and a failed reset is retried; after the policy
// answered done the next observation starts a new episode, in either mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTable } from './sessions.ts';
import type { Session } from './sessions.ts';
import { EchoPolicy } from './testing.ts';
import { isVlmError } from '../errors/index.ts';
import type { Observation, PolicyFactory } from '../policy/types.ts';

const obs = (instruction: string): Observation => ({
  image: { width: 1, height: 1, rgb: new Uint8Array(3) },
  state: new Float32Array(7),
  instruction,
});
const OPTIONS = { maxSessions: 8, idleMs: 60_000 };

/** A factory of echo policies that counts the ones alive (made and not yet closed). */
function echoFactory(): PolicyFactory & { made: EchoPolicy[]; closed: number } {
  const f = {
    metadata: new EchoPolicy().metadata,
    made: [] as EchoPolicy[],
    closed: 0,
    create() {
      const p = Object.assign(new EchoPolicy(), { close: async () => void f.closed++ });
      f.made.push(p);
      return p;
    },
  };
  return f;
}

const cycle = async (t: SessionTable, s: Session, text: string, reset = false) => (await t.infer(s, obs(text), reset)).text?.subtask;

test('with a factory every session runs its own episode: interleaving changes nothing', async () => {
  const factory = echoFactory();
  const t = new SessionTable({ factory }, OPTIONS);
  const a = t.open('a', 'a');
  const b = t.open('b', 'b');
  assert.equal(await cycle(t, a, 'pick'), 'cycle 1');
  assert.equal(await cycle(t, b, 'stack'), 'cycle 1');
  assert.equal(await cycle(t, a, 'pick'), 'cycle 2', 'b ran in between: a goes on');
  assert.equal(await cycle(t, b, 'stack'), 'cycle 2');
  t.reset(a);
  assert.equal(await cycle(t, a, 'pick'), 'cycle 1');
  assert.equal(await cycle(t, b, 'stack'), 'cycle 3');
  assert.equal(await cycle(t, a, 'place'), 'cycle 1', 'a new prompt starts a new episode');
  assert.equal(await cycle(t, a, 'place', true), 'cycle 1');
  assert.equal(factory.made.length, 2, 'one policy per session');
  assert.deepEqual(
    factory.made.map((p) => p.resets),
    [['pick', 'pick', 'place', 'place'], ['stack']],
  );
  assert.equal(t.open('a', 'a'), a, 'open() finds the live session');
});

test('closing a session frees its policy, after the request in flight settles', async () => {
  const factory = echoFactory();
  const t = new SessionTable({ factory }, OPTIONS);
  const a = t.open('a', 'a');
  await cycle(t, a, 'pick');
  t.close('a');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([t.size, factory.closed, a.policy], [0, 1, null]);
  const b = t.open('b', 'b');
  let release!: () => void;
  const running = t.request(b, async () => {
    await new Promise<void>((r) => (release = r));
    return cycle(t, b, 'stack');
  });
  t.close('b');
  assert.equal(t.size, 0, 'gone from the table at once');
  assert.equal(factory.closed, 1, 'but its policy lives while its request runs');
  release();
  assert.equal(await running, 'cycle 1');
  await new Promise((r) => setImmediate(r));
  assert.equal(factory.closed, 2);
  const again = t.open('a', 'a');
  assert.notEqual(again, a, 'a closed session comes back as a new one');
  assert.equal(await cycle(t, again, 'pick'), 'cycle 1');
});

test('the cap: one session more is E_SESSION_LIMIT; idle sessions are evicted, busy ones never', async () => {
  const factory = echoFactory();
  const evicted: string[] = [];
  const t = new SessionTable({ factory }, { maxSessions: 2, idleMs: 1000, onEvict: (s) => evicted.push(s.id) });
  const a = t.open('a', 'a', 0);
  t.open('b', 'b', 500);
  const limit = (e: unknown) =>
    isVlmError(e) &&
    e.code === 'E_SESSION_LIMIT' &&
    /2 sessions are open; the next idle one expires in 1 s/.test(e.message) &&
    /--max-sessions/.test(e.fix ?? '');
  assert.throws(() => t.open('c', 'c', 900), limit);
  assert.equal(t.retryAfterSeconds(900), 1);
  t.open('c', 'c', 1000); // a has been idle for 1000 ms: evicted to make room
  assert.deepEqual(evicted, ['a']);
  assert.equal(t.get('a'), undefined);
  assert.equal(a.policy, null);
  // A session with a request pending is never idle.
  const b = t.get('b')!;
  let release!: () => void;
  const pending = t.request(b, () => new Promise<void>((r) => (release = r)));
  const c = t.get('c')!;
  c.usedAt = 0;
  b.usedAt = 0;
  assert.deepEqual(
    t.sweep(5000).map((s) => s.id),
    ['c'],
  );
  const d = t.open('d', 'd', 5000);
  let releaseD!: () => void;
  const pendingD = t.request(d, () => new Promise<void>((r) => (releaseD = r)));
  assert.throws(
    () => t.open('e', 'e', 1e9),
    (e: unknown) => isVlmError(e) && e.code === 'E_SESSION_LIMIT' && /2 sessions are open, all with requests in flight/.test(e.message),
  );
  release();
  releaseD();
  await Promise.all([pending, pendingD]);
  assert.deepEqual(
    t.sweep(performance.now() + 1000).map((s) => s.id),
    ['b', 'd'],
    'idle once their requests settled',
  );
});

test('one shared policy: the episode restarts on a new prompt, on reset, and after another session ran', async () => {
  const policy = new EchoPolicy();
  const t = new SessionTable({ policy }, OPTIONS);
  const a = t.open('a', 'a');
  const b = t.open('b', 'b');
  assert.equal(await cycle(t, a, 'pick'), 'cycle 1');
  assert.equal(await cycle(t, a, 'pick'), 'cycle 2');
  assert.equal(await cycle(t, a, 'place'), 'cycle 1');
  assert.equal(await cycle(t, a, 'place', true), 'cycle 1');
  t.reset(a);
  assert.equal(await cycle(t, a, 'place'), 'cycle 1');
  assert.equal(await cycle(t, b, 'stack'), 'cycle 1');
  assert.equal(await cycle(t, a, 'place'), 'cycle 1', 'b ran in between');
  t.close('a');
  const a2 = t.open('a', 'a');
  assert.equal(await cycle(t, a2, 'place'), 'cycle 1', 'a closed session starts again');
  assert.deepEqual(policy.resets, ['pick', 'place', 'place', 'place', 'stack', 'place', 'place']);
});

test('a reset that fails is tried again at the next observation', async () => {
  const policy = new EchoPolicy();
  let fail = true;
  const reset = policy.reset.bind(policy);
  policy.reset = async (instruction: string) => {
    if (fail) throw new Error('reset failed');
    return reset(instruction);
  };
  const t = new SessionTable({ policy }, OPTIONS);
  const a = t.open('a', 'a');
  await assert.rejects(t.infer(a, obs('pick'), false), /reset failed/);
  fail = false;
  assert.equal(await cycle(t, a, 'pick'), 'cycle 1');
  assert.deepEqual(policy.resets, ['pick']);
});

test("after the policy answers done, the session's next observation starts a new episode (same prompt, no reset)", async () => {
  const made: EchoPolicy[] = [];
  const factory: PolicyFactory = { metadata: new EchoPolicy().metadata, create: () => made[made.push(new EchoPolicy({ doneAt: 2 })) - 1]! };
  const shared = new EchoPolicy({ doneAt: 2 });
  for (const source of [{ factory }, { policy: shared }]) {
    const t = new SessionTable(source, OPTIONS);
    const a = t.open('a', 'a');
    assert.equal(await cycle(t, a, 'pick'), 'cycle 1');
    const done = await t.infer(a, obs('pick'), false);
    assert.deepEqual([done.done, done.actions.length], [true, 0]);
    assert.equal(await cycle(t, a, 'pick'), 'cycle 1', 'a new episode');
    assert.deepEqual(('factory' in source ? made[0]! : shared).resets, ['pick', 'pick']);
  }
});
