// Tests of the policy server on loopback, with a client written from the protocol description (raw ws
// frames and msgpack): metadata first, results with timing, error frames then close 1011 while the
// server keeps serving, caps, busy, timeouts, auth, Host/Origin, episodes (one per session with a
// policy factory; the session cap and idle eviction), HTTP JSON, idle timers judged after a blocked
// event loop, graceful close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startServer } from './server.ts';
import type { PolicyServer, ServeOptions } from './server.ts';
import { EchoPolicy } from './testing.ts';
import { RandomPolicy } from '../policy/reference.ts';
import type { Policy, PolicyFactory } from '../policy/types.ts';
import { observationMessage } from './protocol.ts';
import { NdArray, packMessage, unpackMessage, WireFloat } from './wire.ts';
import type { Dtype, WireMap, WireValue } from './wire.ts';
import { encodePng } from '../data/image.ts';
import type { Observation } from '../policy/types.ts';
import { isVlmError } from '../errors/index.ts';

const STATE = Float32Array.of(0.3, -0.1, 0.2, 0, 0.1, -0.2, 1);
const obs = (instruction = 'pick up the carrot', state: Float32Array = STATE): Observation => ({
  image: { width: 4, height: 2, rgb: new Uint8Array(24).fill(51) },
  state,
  instruction,
});
const frame = (o: Observation = obs(), reset = false) => packMessage(observationMessage(o, reset));

interface Raw {
  ws: WebSocket;
  next(): Promise<{ data: Buffer; binary: boolean }>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A client that keeps every frame and the close, in order. */
function connect(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  const ws = new WebSocket(url, { headers });
  const frames: { data: Buffer; binary: boolean }[] = [];
  const waiters: ((f: { data: Buffer; binary: boolean }) => void)[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => {
    const f = { data, binary };
    const w = waiters.shift();
    if (w) w(f);
    else frames.push(f);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({ ws, next: () => (frames.length > 0 ? Promise.resolve(frames.shift()!) : new Promise((r) => waiters.push(r))), closed }),
    );
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

async function serve(
  policy: Policy | PolicyFactory,
  options: Partial<ServeOptions> = {},
): Promise<{ server: PolicyServer; lines: string[] }> {
  const lines: string[] = [];
  const server = await startServer({
    ...('create' in policy ? { policyFactory: policy } : { policy }),
    port: 0,
    log: (l) => lines.push(l),
    ...options,
  });
  return { server, lines };
}

async function withServer(
  policy: Policy | PolicyFactory,
  options: Partial<ServeOptions>,
  body: (server: PolicyServer, lines: string[]) => Promise<void>,
): Promise<void> {
  const { server, lines } = await serve(policy, options);
  try {
    await body(server, lines);
  } finally {
    await server.close(2000);
  }
}

/** Connects, reads the metadata, sends one frame and returns the answer. */
async function once(url: string, bytes: Uint8Array | string): Promise<{ answer: { data: Buffer; binary: boolean }; client: Raw }> {
  const client = await connect(url);
  await client.next();
  client.ws.send(bytes);
  return { answer: await client.next(), client };
}

async function expectErrorFrame(url: string, bytes: Uint8Array | string, code: string, closeCode = 1011): Promise<string> {
  const { answer, client } = await once(url, bytes);
  assert.equal(answer.binary, false, 'an error is a text frame');
  const text = answer.data.toString();
  assert.match(text, new RegExp(`^error ${code}: `));
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  assert.equal((await client.closed).code, closeCode);
  return text;
}

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('metadata first, then one result per observation with openpi timing; prev_total_ms from the second on', async () => {
  await withServer(new EchoPolicy(), {}, async (server, lines) => {
    const c = await connect(server.wsUrl);
    const meta = await c.next();
    assert.equal(meta.binary, true);
    const m = unpackMessage(meta.data) as WireMap;
    assert.equal(m.get('name'), 'echo');
    assert.deepEqual((m.get('semantics') as WireMap).get('actionDims'), ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper']);
    for (let i = 1; i <= 2; i++) {
      c.ws.send(frame());
      const r = await c.next();
      assert.equal(r.binary, true);
      const res = unpackMessage(r.data) as WireMap;
      const actions = res.get('actions') as NdArray;
      assert.deepEqual([actions.dtype, ...actions.shape], ['f4', 1, 7]);
      assert.deepEqual([...actions.data], [...STATE.subarray(0, 6), Math.fround(51 / 255)]);
      assert.equal((res.get('text') as WireMap).get('subtask'), `cycle ${i}`);
      const timing = res.get('server_timing') as WireMap;
      assert.ok(timing.get('infer_ms') instanceof WireFloat || typeof timing.get('infer_ms') === 'number');
      assert.equal(timing.has('prev_total_ms'), i === 2);
    }
    c.ws.close();
    await c.closed;
    assert.equal(lines.filter((l) => / ws .* infer ok /.test(l)).length, 2, lines.join('\n'));
  });
});

test('state of every float dtype is accepted; other dtypes are an error frame', async () => {
  await withServer(new EchoPolicy(), {}, async (server) => {
    const floats: [Dtype, NdArray['data']][] = [
      ['f4', STATE],
      ['f8', Float64Array.from(STATE)],
      ['f2', Uint16Array.from([0x3c00, 0, 0, 0, 0, 0, 0x3c00])],
    ];
    for (const [dtype, data] of floats) {
      const msg = observationMessage(obs());
      msg.set('observation/state', new NdArray(dtype, [7], data));
      const { answer, client } = await once(server.wsUrl, packMessage(msg));
      assert.equal(answer.binary, true, `${dtype}: ${answer.data.toString()}`);
      const actions = (unpackMessage(answer.data) as WireMap).get('actions') as NdArray;
      assert.equal(actions.data[0], dtype === 'f2' ? 1 : Math.fround(0.3));
      client.ws.close();
    }
    for (const dtype of ['b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8'] as Dtype[]) {
      const msg = observationMessage(obs());
      const bytes = new Uint8Array(7 * Number(dtype.slice(1)));
      const view = {
        b1: Uint8Array,
        i1: Int8Array,
        i2: Int16Array,
        i4: Int32Array,
        i8: BigInt64Array,
        u1: Uint8Array,
        u2: Uint16Array,
        u4: Uint32Array,
        u8: BigUint64Array,
      }[dtype as 'b1'];
      msg.set('observation/state', new NdArray(dtype, [7], new view(bytes.buffer)));
      const text = await expectErrorFrame(server.wsUrl, packMessage(msg), 'E_PROTOCOL');
      assert.match(text, /observation\/state has dtype/);
    }
  });
});

test('bad messages get an error frame then close 1011, and the server serves the next client', async () => {
  const policy = new EchoPolicy();
  await withServer(policy, {}, async (server, lines) => {
    const bad = (edit: (m: WireMap) => void) => {
      const m = observationMessage(obs());
      edit(m);
      return packMessage(m);
    };
    const nan = Float32Array.from(STATE);
    nan[2] = NaN;
    const huge = `84 c40b${Buffer.from('__ndarray__').toString('hex')} c3 c404${Buffer.from('data').toString('hex')} c403 010203 c405${Buffer.from('dtype').toString('hex')} a3${Buffer.from('|u1').toString('hex')} c405${Buffer.from('shape').toString('hex')} 93 ce000186a0 ce000186a0 03`;
    const hugeImage = Buffer.concat([
      Buffer.from('81b16f62736572766174696f6e2f696d616765', 'hex'),
      Buffer.from(huge.replace(/\s+/g, ''), 'hex'),
    ]);
    const cases: [string, Uint8Array | string, RegExp][] = [
      ['garbage', Uint8Array.of(0xc1, 0x00, 0xff), /not valid msgpack/],
      ['truncated', frame().subarray(0, 30), /not valid msgpack/],
      ['not a map', packMessage([1, 2, 3]), /not a map/],
      ['missing image', bad((m) => m.delete('observation/image')), /observation\/image is missing/],
      ['missing state', bad((m) => m.delete('observation/state')), /observation\/state is missing/],
      ['missing prompt', bad((m) => m.delete('prompt')), /prompt is missing/],
      ['prompt as a number', bad((m) => m.set('prompt', 3)), /prompt is not a str/],
      ['image as a str', bad((m) => m.set('observation/image', 'abc')), /not a NumPy array/],
      ['10^5 × 10^5 image', hugeImage, /needs 30000000000 bytes/],
      ['NaN in state', bad((m) => m.set('observation/state', new NdArray('f4', [7], nan))), /observation\/state\[2\] is NaN/],
      ['a text frame', 'hello', /text frame/],
    ];
    for (const [name, bytes, message] of cases) {
      const text = await expectErrorFrame(server.wsUrl, bytes, 'E_PROTOCOL');
      assert.match(text, message, name);
      assert.match(text, /\nfix: /, name);
    }
    assert.equal(policy.calls, 0);
    const { answer, client } = await once(server.wsUrl, frame());
    assert.equal(answer.binary, true);
    client.ws.close();
    await client.closed;
    await waitFor(() => server.stats().connections === 0);
    assert.equal(lines.filter((l) => / E_PROTOCOL /.test(l)).length, cases.length);
  });
});

test('a failing policy: the client sees a code and no stack; --debug adds the stack', async () => {
  await withServer(new EchoPolicy({ failWith: 'secret internal detail' }), {}, async (server, lines) => {
    const text = await expectErrorFrame(server.wsUrl, frame(), 'E_POLICY');
    assert.doesNotMatch(text, /secret internal detail/);
    assert.ok(
      lines.some((l) => / E_POLICY .*secret internal detail/.test(l)),
      'the server log has the reason',
    );
  });
  await withServer(new EchoPolicy({ failWith: 'kaboom' }), { debug: true }, async (server) => {
    const { answer } = await once(server.wsUrl, frame());
    assert.match(answer.data.toString(), /kaboom[\s\S]*\n\s+at /);
  });
});

test('a frame over the size cap is closed with 1009; the server keeps serving', async () => {
  await withServer(new EchoPolicy(), { maxMessageBytes: 4096 }, async (server) => {
    const c = await connect(server.wsUrl);
    await c.next();
    c.ws.send(new Uint8Array(5000));
    assert.equal((await c.closed).code, 1009);
    const { answer } = await once(server.wsUrl, frame());
    assert.equal(answer.binary, true);
  });
});

test('busy: beyond the queue limit the answer is E_BUSY (close 1013); a request past its deadline is E_TIMEOUT', async () => {
  const policy = new EchoPolicy({ delayMs: 300 });
  await withServer(policy, { maxQueue: 0 }, async (server) => {
    const a = await connect(server.wsUrl);
    await a.next();
    a.ws.send(frame());
    await waitFor(() => server.stats().running);
    await expectErrorFrame(server.wsUrl, frame(), 'E_BUSY', 1013);
    assert.equal((await a.next()).binary, true);
    a.ws.close();
  });
  await withServer(new EchoPolicy({ delayMs: 400 }), { requestTimeoutMs: 100 }, async (server) => {
    await expectErrorFrame(server.wsUrl, frame(), 'E_TIMEOUT');
  });
});

test('a client vanishing mid-request leaks nothing; its queued request never runs', async () => {
  const policy = new EchoPolicy({ delayMs: 200 });
  await withServer(policy, {}, async (server) => {
    const a = await connect(server.wsUrl);
    const b = await connect(server.wsUrl);
    await a.next();
    await b.next();
    a.ws.send(frame());
    await waitFor(() => server.stats().running);
    b.ws.send(frame());
    await waitFor(() => server.stats().waiting === 1);
    a.ws.terminate();
    b.ws.terminate();
    await waitFor(() => server.stats().connections === 0 && !server.stats().running && server.stats().inFlight === 0);
    assert.deepEqual(server.stats(), { connections: 0, upgrading: 0, waiting: 0, running: false, inFlight: 0, sessions: 0 });
    assert.equal(policy.calls, 1, 'the vanished client’s queued request was dropped');
    const { answer } = await once(server.wsUrl, frame());
    assert.equal(answer.binary, true);
  });
});

test('malformed handshakes and raw garbage on the socket leave nothing counted', async () => {
  await withServer(new EchoPolicy(), { maxConnections: 2 }, async (server) => {
    const { connect: tcp } = await import('node:net');
    const send = (text: string) =>
      new Promise<string>((resolve) => {
        const s = tcp(server.port, '127.0.0.1', () => s.end(text));
        let got = '';
        s.on('data', (c) => (got += c.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    for (let i = 0; i < 3; i++) {
      const answer = await send(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      assert.match(answer, /^HTTP\/1\.1 400/);
    }
    assert.match(await send('\x00\x01garbage\r\n\r\n'), /^HTTP\/1\.1 400/);
    await waitFor(() => server.stats().upgrading === 0);
    // The cap of 2 still admits 2 clients.
    const a = await connect(server.wsUrl);
    const b = await connect(server.wsUrl);
    a.ws.close();
    b.ws.close();
  });
});

test('slow clients are closed: HTTP headers that never finish (408), a WebSocket frame that never finishes', async () => {
  await withServer(new EchoPolicy(), { headersTimeoutMs: 300, idleTimeoutMs: 500 }, async (server) => {
    const { connect: tcp } = await import('node:net');
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const s = tcp(server.port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
      let got = '';
      s.on('data', (c) => (got += c.toString()));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 5000);
    // Half a binary frame (masked, 4096 bytes announced, 10 sent), then silence.
    const c = await connect(server.wsUrl);
    await c.next();
    (c.ws as unknown as { _socket: import('node:net').Socket })._socket.write(
      Buffer.concat([Buffer.from([0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4]), Buffer.alloc(10)]),
    );
    assert.deepEqual(await c.closed, { code: 1000, reason: 'idle timeout' });
    await waitFor(() => server.stats().connections === 0);
  });
});

test('episodes: reset on a new prompt, on {"reset": true}, and when another client ran in between', async () => {
  const policy = new EchoPolicy();
  await withServer(policy, {}, async (server) => {
    const a = await connect(server.wsUrl);
    await a.next();
    const ask = async (c: Raw, bytes: Uint8Array) => {
      c.ws.send(bytes);
      const r = unpackMessage((await c.next()).data) as WireMap;
      return ((r.get('text') as WireMap | undefined)?.get('subtask') ?? r.get('reset')) as WireValue;
    };
    assert.equal(await ask(a, frame()), 'cycle 1');
    assert.equal(await ask(a, frame()), 'cycle 2');
    assert.equal(await ask(a, frame(obs('put the spoon in the bowl'))), 'cycle 1');
    assert.equal(await ask(a, packMessage(new Map([['reset', true]]))), true);
    assert.equal(await ask(a, frame(obs('put the spoon in the bowl'))), 'cycle 1');
    assert.equal(await ask(a, frame(obs('put the spoon in the bowl'), true)), 'cycle 1');
    const b = await connect(server.wsUrl);
    await b.next();
    assert.equal(await ask(b, frame(obs('stack the cups'))), 'cycle 1');
    assert.equal(await ask(a, frame(obs('put the spoon in the bowl'))), 'cycle 1');
    assert.deepEqual(policy.resets, [
      'pick up the carrot',
      'put the spoon in the bowl',
      'put the spoon in the bowl',
      'put the spoon in the bowl',
      'stack the cups',
      'put the spoon in the bowl',
    ]);
    a.ws.close();
    b.ws.close();
  });
});

test('API key, Host and Origin checks; /healthz needs neither; connection cap; idle timeout', async () => {
  await withServer(new EchoPolicy(), { apiKey: 'k-123', maxConnections: 1, idleTimeoutMs: 1000 }, async (server) => {
    await assert.rejects(connect(server.wsUrl), /HTTP 401/);
    await assert.rejects(connect(server.wsUrl, { Authorization: 'Api-Key wrong' }), /HTTP 401/);
    await assert.rejects(connect(server.wsUrl, { Authorization: 'Api-Key k-123', Host: 'evil.example:80' }), /HTTP 403/);
    await assert.rejects(connect(server.wsUrl, { Authorization: 'Api-Key k-123', Origin: 'http://evil.example' }), /HTTP 403/);
    assert.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.httpUrl}/v1/metadata`)).status, 401);
    assert.equal((await fetch(`${server.httpUrl}/v1/metadata`, { headers: { Authorization: 'Api-Key k-123' } })).status, 200);
    const a = await connect(server.wsUrl, { Authorization: 'Api-Key k-123' });
    await a.next();
    await assert.rejects(connect(server.wsUrl, { Authorization: 'Api-Key k-123' }), /HTTP 503/);
    const closed = await a.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'idle timeout' });
    // A client that pings stays connected past the idle timeout.
    const pinger = await connect(server.wsUrl, { Authorization: 'Api-Key k-123' });
    const timer = setInterval(() => pinger.ws.ping(), 100);
    await new Promise((r) => setTimeout(r, 2500));
    clearInterval(timer);
    assert.equal(pinger.ws.readyState, WebSocket.OPEN);
    assert.deepEqual(await pinger.closed, { code: 1000, reason: 'idle timeout' });
    await waitFor(() => server.stats().connections === 0);
  });
});

test('HTTP: POST /v1/act with a base64 PNG, its errors as JSON with codes, 413 beyond the cap, 404', async () => {
  await withServer(new EchoPolicy(), { maxMessageBytes: 64 * 1024 }, async (server, lines) => {
    const png = Buffer.from(encodePng({ width: 4, height: 2, rgb: new Uint8Array(24).fill(102) }).bytes).toString('base64');
    const post = (body: unknown) =>
      fetch(`${server.httpUrl}/v1/act`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const ok = await post({ image: `data:image/png;base64,${png}`, state: [...STATE], prompt: 'pick up the carrot', session: 'r1' });
    assert.equal(ok.status, 200);
    const json = (await ok.json()) as { actions: number[][]; text: { subtask: string }; server_timing: { infer_ms: number } };
    assert.deepEqual(json.actions, [[0.3, -0.1, 0.2, 0, 0.1, -0.2, 0.4]]);
    assert.equal(json.text.subtask, 'cycle 1');
    assert.equal(typeof json.server_timing.infer_ms, 'number');
    const again = (await (await post({ image: png, state: [...STATE], prompt: 'pick up the carrot', session: 'r1' })).json()) as {
      text: { subtask: string };
    };
    assert.equal(again.text.subtask, 'cycle 2');
    for (const [body, field] of [
      [{ image: 'not base64!', state: [...STATE], prompt: 'x' }, 'image'],
      [{ image: Buffer.from('GIF89a........').toString('base64'), state: [...STATE], prompt: 'x' }, 'image'],
      [{ image: png, state: [1, 2], prompt: 'x' }, 'state'],
      [{ image: png, state: [0, 0, 'NaN', 0, 0, 0, 1], prompt: 'x' }, 'state[2]'],
      [{ image: png, state: [...STATE] }, 'prompt'],
      ['{"image": ', 'body'],
      [[1, 2], 'body'],
    ] as const) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      const e = (await r.json()) as { error: { code: string; message: string; fix: string } };
      assert.equal(e.error.code, 'E_PROTOCOL');
      assert.ok(e.error.message.includes(field), `${e.error.message} should name ${field}`);
      assert.ok(e.error.fix.length > 0);
    }
    const big = await post({ image: 'A'.repeat(70 * 1024), state: [...STATE], prompt: 'x' });
    assert.equal(big.status, 413);
    // Without a Content-Length (chunked), the body is counted as it arrives.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10 * 1024).fill(0x20));
        c.close();
      },
    });
    const chunked = await fetch(`${server.httpUrl}/v1/act`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'E_TOO_LARGE');
    assert.equal((await fetch(`${server.httpUrl}/nope`)).status, 404);
    assert.equal((await fetch(`${server.httpUrl}/v1/act`)).status, 404);
    assert.equal(lines.filter((l) => / http .* POST \/v1\/act /.test(l)).length, 11);
  });
});

test('close(): stops accepting, answers the requests in flight, then closes connections with 1001', async () => {
  const policy = new EchoPolicy({ delayMs: 300 });
  const { server } = await serve(policy);
  const a = await connect(server.wsUrl);
  const b = await connect(server.wsUrl);
  await a.next();
  await b.next();
  a.ws.send(frame());
  b.ws.send(frame());
  await waitFor(() => server.stats().running);
  const closing = server.close();
  await assert.rejects(connect(server.wsUrl));
  const [ra, rb] = [await a.next(), await b.next()];
  assert.equal(ra.binary && rb.binary, true);
  assert.equal((await a.closed).code, 1001);
  await closing;
  assert.equal(policy.finished, 2);
});

test('a port in use or a foreign host is E_LISTEN, not a Node stack', async () => {
  await withServer(new EchoPolicy(), {}, async (server) => {
    await assert.rejects(
      startServer({ policy: new EchoPolicy(), port: server.port, log: () => {} }),
      (e: unknown) => isVlmError(e) && e.code === 'E_LISTEN' && /the port is in use/.test(e.message),
    );
  });
  await assert.rejects(
    startServer({ policy: new EchoPolicy(), host: '192.0.2.1', port: 0, log: () => {} }),
    (e: unknown) => isVlmError(e) && e.code === 'E_LISTEN' && /not an address of this machine/.test(e.message),
  );
});

test('close() waits for a policy call whose client already left', async () => {
  const policy = new EchoPolicy({ delayMs: 400 });
  const { server } = await serve(policy);
  const a = await connect(server.wsUrl);
  await a.next();
  a.ws.send(frame());
  await waitFor(() => server.stats().running);
  a.ws.terminate();
  await waitFor(() => server.stats().inFlight === 0);
  assert.equal(policy.finished, 0);
  await server.close();
  assert.equal(policy.finished, 1, 'the policy was idle when close() resolved');
});

test('SIGTERM with requests in flight: a child server answers them, then exits 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./testing-child.ts', import.meta.url)), '400'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => /listening \d+/.test(out), 20_000);
    const port = Number(/listening (\d+)/.exec(out)![1]);
    const clients = await Promise.all([0, 1, 2].map(() => connect(`ws://127.0.0.1:${port}`)));
    for (const c of clients) await c.next();
    for (const c of clients) c.ws.send(frame());
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const answers = await Promise.all(clients.map((c) => c.next()));
    assert.deepEqual(
      answers.map((a) => a.binary),
      [true, true, true],
    );
    assert.equal(await exited, 0);
    assert.match(out, /closed after SIGTERM/);
  } finally {
    child.kill('SIGKILL');
  }
});

/** A factory of seeded random policies (the same seed for every session) that counts the live ones. */
function randomFactory(): PolicyFactory & { live: number } {
  const f = {
    metadata: new RandomPolicy(7).metadata,
    live: 0,
    create(): Policy {
      const p = new RandomPolicy(7);
      f.live++;
      return Object.assign(p, { close: async () => void f.live-- });
    },
  };
  return f;
}

/** Sends a frame and returns the answer's actions and subtask text (or the reset acknowledgement). */
async function ask(c: Raw, bytes: Uint8Array): Promise<string> {
  c.ws.send(bytes);
  const r = await c.next();
  if (!r.binary) return r.data.toString();
  const m = unpackMessage(r.data) as WireMap;
  if (m.get('reset') === true) return 'reset';
  return JSON.stringify([...((m.get('actions') as NdArray).data as Float32Array)]);
}

const resetFrame = (prompt: string) =>
  packMessage(
    new Map<string, WireValue>([
      ['reset', true],
      ['prompt', prompt],
    ]),
  );

test('a policy per session: two clients interleaving reset and infer each get what they get alone', async () => {
  const scriptA = [resetFrame('pick up the carrot'), frame(), frame(), resetFrame('pick up the carrot'), frame(), frame()];
  const scriptB = [
    frame(obs('stack the cups')),
    frame(obs('stack the cups')),
    frame(obs('stack the cups'), true),
    frame(obs('stack the cups')),
  ];
  const alone = async (script: Uint8Array[]) => {
    const answers: string[] = [];
    await withServer(randomFactory(), {}, async (server) => {
      const c = await connect(server.wsUrl);
      await c.next();
      for (const bytes of script) answers.push(await ask(c, bytes));
      c.ws.close();
    });
    return answers;
  };
  const soloA = await alone(scriptA);
  const soloB = await alone(scriptB);
  assert.equal(new Set(soloA.filter((x) => x !== 'reset')).size, 4, 'every cycle draws new actions');
  const together = async (policy: Policy | PolicyFactory) => {
    const got = { a: [] as string[], b: [] as string[] };
    await withServer(policy, {}, async (server) => {
      const a = await connect(server.wsUrl);
      const b = await connect(server.wsUrl);
      await a.next();
      await b.next();
      for (let i = 0; i < Math.max(scriptA.length, scriptB.length); i++) {
        if (i < scriptA.length) got.a.push(await ask(a, scriptA[i]!));
        if (i < scriptB.length) got.b.push(await ask(b, scriptB[i]!));
      }
      assert.equal(server.stats().sessions, 2);
      a.ws.close();
      b.ws.close();
    });
    return got;
  };
  const both = await together(randomFactory());
  assert.deepEqual(both.a, soloA);
  assert.deepEqual(both.b, soloB);
  // The same clients on one shared policy draw from one generator: their answers change.
  const shared = await together(new RandomPolicy(7));
  assert.notDeepEqual(shared.a, soloA);
});

test('a closed connection frees its session; an idle session is evicted and its next request starts a new episode', async () => {
  const factory = randomFactory();
  await withServer(factory, { maxSessions: 1, sessionIdleMs: 300 }, async (server, lines) => {
    const a = await connect(server.wsUrl);
    await a.next();
    assert.equal(server.stats().sessions, 0, 'a session begins at the first request');
    const first = await ask(a, frame());
    assert.deepEqual([server.stats().sessions, factory.live], [1, 1]);
    a.ws.close();
    await a.closed;
    await waitFor(() => server.stats().sessions === 0 && factory.live === 0);
    // Idle past 300 ms: the next session takes its place; the evicted client starts over.
    const b = await connect(server.wsUrl);
    await b.next();
    assert.equal(await ask(b, frame()), first, 'a fresh episode of the same seeded policy');
    await new Promise((r) => setTimeout(r, 350));
    const c = await connect(server.wsUrl);
    await c.next();
    assert.equal(await ask(c, frame()), first);
    assert.ok(
      lines.some((l) => / session 127\.0\.0\.1:\d+ evicted ok no request for 0\.3 s/.test(l)),
      lines.join('\n'),
    );
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await ask(b, frame()), first, 'b was evicted: its next request is a new episode');
    assert.equal(b.ws.readyState, WebSocket.OPEN, 'eviction frees the episode, not the connection');
    b.ws.close();
    c.ws.close();
  });
});

test('the session cap: the client over it gets E_SESSION_LIMIT (WebSocket close 1013, HTTP 503 with Retry-After)', async () => {
  await withServer(randomFactory(), { maxSessions: 1, sessionIdleMs: 60_000 }, async (server) => {
    const a = await connect(server.wsUrl);
    await a.next();
    await ask(a, frame());
    const text = await expectErrorFrame(server.wsUrl, frame(), 'E_SESSION_LIMIT', 1013);
    assert.match(text, /^error E_SESSION_LIMIT: 1 sessions are open; the next idle one expires in \d+ s\nfix: .*--max-sessions/);
    const png = Buffer.from(encodePng({ width: 4, height: 2, rgb: new Uint8Array(24).fill(102) }).bytes).toString('base64');
    const r = await fetch(`${server.httpUrl}/v1/act`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: png, state: [...STATE], prompt: 'x', session: 'r2' }),
    });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_SESSION_LIMIT');
    a.ws.close();
    await waitFor(() => server.stats().sessions === 0);
    const { answer } = await once(server.wsUrl, frame());
    assert.equal(answer.binary, true, 'a freed place is taken');
  });
});

test('an idle timer that came due while the engine held the thread does not close a client that pinged meanwhile', async () => {
  const blocking: Policy = {
    metadata: new EchoPolicy().metadata,
    reset: async () => {},
    infer: async () => {
      const until = performance.now() + 700;
      while (performance.now() < until); // a synchronous engine call
      return { actions: [], timing: { totalMs: 700, stages: {} } };
    },
  };
  await withServer(blocking, { idleTimeoutMs: 300 }, async (server) => {
    const pinger = await connect(server.wsUrl);
    await pinger.next();
    const timer = setInterval(() => pinger.ws.ping(), 50);
    try {
      const worker = await connect(server.wsUrl);
      await worker.next();
      worker.ws.send(frame());
      assert.equal((await worker.next()).binary, true);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(pinger.ws.readyState, WebSocket.OPEN, 'the pings read after the call kept it open');
      worker.ws.close();
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(await pinger.closed, { code: 1000, reason: 'idle timeout' });
  });
});
