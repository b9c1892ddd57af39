// Tests of server-side liveness: the heartbeat's rules on fake connections (misses in a row, anything
// heard resets them, a ping too recent to have been answered is not judged), then on loopback — a
// client that stops answering pings is disconnected and its session freed while a healthy one stays,
// and healthy clients in another process, one of them waiting for its request, survive a policy call
// that holds the thread for many ping intervals even when a single missed pong would disconnect them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { Heartbeat } from './liveness.ts';
import type { Pingable } from './liveness.ts';
import { startServer } from './server.ts';
import type { PolicyServer, ServeOptions } from './server.ts';
import { EchoPolicy } from './testing.ts';
import { observationMessage } from './protocol.ts';
import { packMessage } from './wire.ts';
import type { Policy } from '../policy/types.ts';
import { isVlmError } from '../errors/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const frame = () =>
  packMessage(
    observationMessage({
      image: { width: 4, height: 2, rgb: new Uint8Array(24).fill(51) },
      state: Float32Array.of(0.3, -0.1, 0.2, 0, 0.1, -0.2, 1),
      instruction: 'pick up the carrot',
    }),
  );

class Fake implements Pingable {
  pings = 0;
  open = true;
  ping(): void {
    this.pings++;
  }
}

test('heartbeat: a miss is an unanswered ping at least half an interval old; anything heard resets the count', () => {
  const dead: [Fake, number][] = [];
  const beat = new Heartbeat<Fake>({ intervalMs: 1000, maxMissed: 2, onDead: (c, n) => dead.push([c, n]) });
  try {
    const [quiet, talker, late, closing] = [new Fake(), new Fake(), new Fake(), new Fake()];
    closing.open = false;
    for (const c of [quiet, talker, closing]) beat.add(c);
    const now = () => performance.now();
    beat.judge(now());
    assert.deepEqual(
      [quiet.pings, talker.pings, closing.pings],
      [1, 1, 0],
      'every open connection is pinged; a closing one is neither pinged nor judged',
    );
    beat.add(late);
    // A turn that read everything up to 1 s after those pings: unanswered, a first miss; pinged again.
    beat.judge(now() + 1000);
    assert.deepEqual([quiet.pings, talker.pings, late.pings], [2, 2, 1]);
    beat.heard(talker);
    // Pings sent less than half an interval before the time up to which the turn read are not judged yet.
    beat.judge(now() + 100);
    assert.deepEqual([quiet.pings, talker.pings, late.pings], [2, 3, 1], 'only the talker, heard, is pinged again');
    assert.deepEqual(dead, []);
    beat.judge(now() + 1000);
    assert.deepEqual(dead, [[quiet, 2]], 'two misses in a row');
    beat.heard(late);
    beat.judge(now() + 2000);
    assert.deepEqual(
      dead,
      [
        [quiet, 2],
        [talker, 2],
      ],
      'the talker fell silent after its last word; the late one spoke',
    );
    assert.equal(beat.size, 2, 'the dead are forgotten');
    assert.equal(late.pings, 3);
  } finally {
    beat.stop();
  }
  for (const bad of [
    { intervalMs: 10, maxMissed: 0 },
    { intervalMs: -1, maxMissed: 2 },
  ]) {
    assert.throws(
      () => new Heartbeat({ ...bad, onDead: () => {} }),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE',
    );
  }
});

async function serve(policy: Policy, options: Partial<ServeOptions>): Promise<{ server: PolicyServer; lines: string[] }> {
  const lines: string[] = [];
  const server = await startServer({ policy, port: 0, log: (l) => lines.push(l), ...options });
  return { server, lines };
}

function connect(
  url: string,
  options: { autoPong?: boolean } = {},
): Promise<{ ws: WebSocket; next: () => Promise<Buffer>; closed: Promise<number> }> {
  const ws = new WebSocket(url, options);
  const frames: Buffer[] = [];
  const waiters: ((b: Buffer) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const w = waiters.shift();
    if (w) w(data);
    else frames.push(data);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({ ws, next: () => (frames.length > 0 ? Promise.resolve(frames.shift()!) : new Promise((r) => waiters.push(r))), closed }),
    );
    ws.once('error', reject);
  });
}

test('a client that stops answering pings is disconnected after 2 missed pongs and its session freed; a healthy one stays', async () => {
  const { server, lines } = await serve(new EchoPolicy(), { pingIntervalMs: 100 });
  try {
    const healthy = await connect(server.wsUrl);
    await healthy.next();
    const mute = await connect(server.wsUrl, { autoPong: false });
    await mute.next();
    mute.ws.send(frame());
    await mute.next();
    assert.equal(server.stats().sessions, 1);
    const opened = performance.now();
    assert.equal(await mute.closed, 1006, 'terminated: a dead peer would never finish a closing handshake');
    const after = performance.now() - opened;
    assert.ok(after >= 150 && after < 1500, `closed after ${after.toFixed(0)} ms: two intervals and a little`);
    assert.ok(
      lines.some((l) => / ws 127\.0\.0\.1:\d+ ping closed no pong to 2 pings in a row$/.test(l)),
      lines.join('\n'),
    );
    const until = performance.now() + 2000;
    while (server.stats().sessions > 0 && performance.now() < until) await sleep(10);
    assert.equal(server.stats().sessions, 0, 'its session is freed');
    await sleep(400);
    assert.equal(healthy.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays');
    assert.equal(server.stats().connections, 1);
    healthy.ws.close();
  } finally {
    await server.close(2000);
  }
});

test('without pings (interval 0) a mute client stays until the idle timeout', async () => {
  const { server } = await serve(new EchoPolicy(), { pingIntervalMs: 0, idleTimeoutMs: 800 });
  try {
    const mute = await connect(server.wsUrl, { autoPong: false });
    await mute.next();
    await sleep(400);
    assert.equal(mute.ws.readyState, WebSocket.OPEN);
    assert.equal(await mute.closed, 1000);
  } finally {
    await server.close(2000);
  }
});

// Clients in another process: their pongs arrive while the server's thread is held, as a robot's would.
const CHILD = `
import { WebSocket } from 'ws';
const [url, request] = process.argv.slice(1);
const say = (s) => process.stdout.write(s + '\\n');
for (const [i, asks] of [[0, true], [1, false]]) {
  const ws = new WebSocket(url);
  let first = true;
  ws.on('message', (data, binary) => {
    if (first && asks) ws.send(Buffer.from(request, 'base64'));
    else if (!first) say('answer ' + i + ' ' + (binary ? 'binary' : 'text'));
    first = false;
  });
  ws.on('open', () => say('open ' + i));
  ws.on('close', (code) => say('closed ' + i + ' ' + code));
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

test('a policy call that holds the thread for many ping intervals disconnects no healthy client, not even the one waiting for it', async () => {
  const STAGES = 4;
  const STAGE_MS = 700;
  // Stages as the hierarchical policy runs them: a turn of the event loop, then a synchronous generation.
  const blocking: Policy = {
    metadata: new EchoPolicy().metadata,
    reset: async () => {},
    infer: async () => {
      for (let k = 0; k < STAGES; k++) {
        await new Promise((resolve) => setImmediate(resolve));
        const until = performance.now() + STAGE_MS;
        while (performance.now() < until); // the engine
      }
      return { actions: [], timing: { totalMs: STAGES * STAGE_MS, stages: {} } };
    },
  };
  // One missed pong disconnects: a single ping judged before its pong was read would show.
  const { server, lines } = await serve(blocking, { pingIntervalMs: 300, maxMissedPongs: 1 });
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, server.wsUrl, Buffer.from(frame()).toString('base64')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const waitFor = async (re: RegExp, ms: number) => {
    const until = performance.now() + ms;
    while (!re.test(out)) {
      if (/closed/.test(out) || performance.now() > until) throw new Error(`no ${re} in the child's output:\n${out}`);
      await sleep(20);
    }
  };
  try {
    await waitFor(/answer 0 binary/, 20_000);
    await sleep(1000); // more rounds of pings after the call
    assert.doesNotMatch(out, /closed/, out);
    assert.deepEqual(
      lines.filter((l) => / ping closed /.test(l)),
      [],
    );
    assert.equal(server.stats().connections, 2);
    assert.ok(
      lines.some((l) => / infer ok (\d+)\.\dms/.test(l) && Number(/ infer ok (\d+)/.exec(l)![1]) >= STAGES * STAGE_MS),
      lines.join('\n'),
    );
  } finally {
    child.stdin.end();
    await new Promise((resolve) => child.once('exit', resolve));
    await server.close(2000);
  }
});
