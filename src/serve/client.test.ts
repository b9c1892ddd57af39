// Tests of RemotePolicy against a live server on loopback: metadata, infer, reset, errors as typed
// RemoteErrors with a reconnect after them, the API key, calls in order; and that `vlm2vla/client`
// loads no engine module (tensor/, models/), checked by recording every module Node resolves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RemotePolicy, RemoteError } from './client.ts';
import { startServer } from './server.ts';
import type { PolicyServer, ServeOptions } from './server.ts';
import { EchoPolicy } from './testing.ts';
import type { Observation } from '../policy/types.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import { SemanticsError } from '../errors/index.ts';

const STATE = Float32Array.of(0.3, -0.1, 0.2, 0, 0.1, -0.2, 1);
const obs = (instruction = 'pick up the carrot', state: Float32Array = STATE): Observation => ({
  image: { width: 2, height: 2, rgb: new Uint8Array(12).fill(255) },
  state,
  instruction,
});

async function waitForNoConnections(server: PolicyServer): Promise<void> {
  for (let i = 0; i < 200 && server.stats().connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.stats().connections, 0, 'the refused connections are closed');
}

async function withServer(
  policy: EchoPolicy,
  options: Partial<ServeOptions>,
  body: (server: PolicyServer) => Promise<void>,
): Promise<void> {
  const server = await startServer({ policy, port: 0, log: () => {}, ...options });
  try {
    await body(server);
  } finally {
    await server.close(2000);
  }
}

test('RemotePolicy: metadata, infer, reset, server timing; calls run in order', async () => {
  const policy = new EchoPolicy({ delayMs: 20 });
  await withServer(policy, { maxQueue: 0 }, async (server) => {
    const remote = await RemotePolicy.connect(server.wsUrl);
    assert.deepEqual([remote.metadata.name, remote.metadata.served, remote.metadata.server], ['remote', 'echo', server.wsUrl]);
    assert.deepEqual([...remote.metadata.semantics.actionDims], ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper']);
    assert.equal(remote.metadata.limits.maxStepCm, 5);
    const r = await remote.infer(obs());
    assert.deepEqual(r.actions, [Float32Array.of(0.3, -0.1, 0.2, 0, 0.1, -0.2, 1)]);
    assert.deepEqual(r.text, { subtask: 'cycle 1', chunk: 'pick up the carrot' });
    assert.ok(r.timing.totalMs >= r.timing.stages.server! && r.timing.stages.server! >= 15);
    assert.ok(remote.lastServerTiming!.inferMs >= 15);
    // Three calls at once: the client sends one at a time (the server, with no queue, would say busy).
    const many = await Promise.all([remote.infer(obs()), remote.infer(obs()), remote.infer(obs())]);
    assert.deepEqual(
      many.map((m) => m.text?.subtask),
      ['cycle 2', 'cycle 3', 'cycle 4'],
    );
    await remote.reset('pick up the carrot');
    assert.equal((await remote.infer(obs())).text?.subtask, 'cycle 1');
    assert.deepEqual(policy.resets, ['pick up the carrot', 'pick up the carrot']);
    await remote.close();
  });
});

test('RemotePolicy: an error frame is a RemoteError naming the server code; the next call reconnects', async () => {
  await withServer(new EchoPolicy(), {}, async (server) => {
    const remote = await RemotePolicy.connect(server.wsUrl);
    const nan = Float32Array.from(STATE);
    nan[0] = NaN;
    await assert.rejects(
      remote.infer(obs('pick up the carrot', nan)),
      (e: unknown) => e instanceof RemoteError && e.code === 'E_REMOTE' && /E_PROTOCOL: observation\/state\[0\] is NaN/.test(e.message),
    );
    const r = await remote.infer(obs());
    assert.equal(r.text?.subtask, 'cycle 1');
    await remote.close();
  });
});

test('RemotePolicy: API key, refused connections and a server that is not there are RemoteErrors', async () => {
  await withServer(new EchoPolicy(), { apiKey: 'k-9' }, async (server) => {
    await assert.rejects(
      RemotePolicy.connect(server.wsUrl),
      (e: unknown) => e instanceof RemoteError && /HTTP 401/.test(e.message) && /API key/.test(e.fix ?? ''),
    );
    const remote = await RemotePolicy.connect(server.wsUrl, { apiKey: 'k-9' });
    assert.equal((await remote.infer(obs())).actions.length, 1);
    await remote.close();
  });
  const gone = await startServer({ policy: new EchoPolicy(), port: 0, log: () => {} });
  await gone.close();
  await assert.rejects(RemotePolicy.connect(gone.wsUrl), (e: unknown) => e instanceof RemoteError && /cannot connect/.test(e.message));
});

test('RemotePolicy: expectSemantics refuses a server whose actions mean something else', async () => {
  await withServer(new EchoPolicy(), {}, async (server) => {
    const same = await RemotePolicy.connect(server.wsUrl, { expectSemantics: BRIDGE_SEMANTICS });
    await same.close();
    await assert.rejects(
      RemotePolicy.connect(server.wsUrl, { expectSemantics: { ...BRIDGE_SEMANTICS, frame: 'franka-base' } }),
      (e: unknown) =>
        e instanceof SemanticsError && e.code === 'E_SEMANTICS' && /frame: the server declares "bridge-widowx"/.test(e.message),
    );
    await assert.rejects(RemotePolicy.connect(server.wsUrl, { expectSemantics: { ...BRIDGE_SEMANTICS, controlHz: 15 } }), /controlHz/);
    await waitForNoConnections(server);
  });
});

test('RemotePolicy: a slow server past timeoutMs is a RemoteError', async () => {
  await withServer(new EchoPolicy({ delayMs: 500 }), {}, async (server) => {
    const remote = await RemotePolicy.connect(server.wsUrl, { timeoutMs: 100 });
    await assert.rejects(remote.infer(obs()), (e: unknown) => e instanceof RemoteError && /no answer within 100 ms/.test(e.message));
    await remote.close();
  });
});

test('vlm2vla/client is exported and loads no engine module (nothing from src/tensor or src/models)', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, string> };
  assert.equal(pkg.exports['./client'], './src/serve/client.ts');
  assert.equal(pkg.exports['.'], './src/index.ts');
  // Records every module Node resolves while importing the client (a resolve hook in the child).
  const probe = `
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const seen = [];
    port1.on('message', (u) => seen.push(u));
    register('data:text/javascript,' + encodeURIComponent('let port; export function initialize(d) { port = d.port } export async function resolve(s, c, n) { const r = await n(s, c); port.postMessage(r.url); return r }'), { data: { port: port2 }, transferList: [port2] });
    await import(process.argv[1]);
    await new Promise((r) => setTimeout(r, 200));
    port1.close();
    console.log(JSON.stringify(seen));`;
  const client = new URL('./client.ts', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe, client], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const loaded = (JSON.parse(r.stdout) as string[]).filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  assert.ok(
    loaded.some((f) => f.endsWith('src/serve/protocol.ts')),
    `the probe sees the client's modules: ${loaded.join(', ')}`,
  );
  const engine = loaded.filter((f) => /\/src\/(tensor|models|nn|decode|train)\//.test(f) || f.endsWith('.node'));
  assert.deepEqual(engine, []);
});
