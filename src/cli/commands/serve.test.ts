// `vlm2vla serve` end to end: usage errors as exit 2; the committed base model served on a free port
// with an API key — the printed URLs answer, RemotePolicy runs one cycle, the chat endpoint answers —
// and SIGTERM stops it with exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { capture } from '../testing.ts';
import { RemotePolicy } from '../../serve/client.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

test('serve: usage errors exit 2 before loading anything', async () => {
  const missing = await capture(['serve']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--model is required/);
  const port = await capture(['serve', '--model', 'models/base', '--port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.err, /--port must be a whole number from 0 to 65535/);
  delete process.env.VLM2VLA_TEST_UNSET_KEY;
  const key = await capture(['serve', '--model', 'models/base', '--api-key-env', 'VLM2VLA_TEST_UNSET_KEY']);
  assert.equal(key.code, 2);
  assert.match(key.err, /VLM2VLA_TEST_UNSET_KEY is not set/);
});

test('serve: the base model behind the printed URLs with an API key; SIGTERM exits 0', async () => {
  const child = spawn(
    process.execPath,
    ['bin/vlm2vla.mjs', 'serve', '--model', 'models/base', '--port', '0', '--api-key-env', 'SERVE_TEST_KEY', '--greedy'],
    { cwd: ROOT, env: { ...process.env, SERVE_TEST_KEY: 'k-serve-test' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const until = Date.now() + 60_000;
    while (!/\/healthz/.test(out)) {
      assert.ok(Date.now() < until && child.exitCode === null, `the server did not start:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ws = /(ws:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    const http = ws.replace('ws://', 'http://');
    assert.equal((await fetch(`${http}/healthz`)).status, 200);
    assert.equal((await fetch(`${http}/v1/models`)).status, 401);
    const auth = { Authorization: 'Bearer k-serve-test', 'Content-Type': 'application/json' };
    const chat = await fetch(`${http}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ messages: [{ role: 'user', content: 'What is a zanahoria?' }], temperature: 0, max_tokens: 8 }),
    });
    assert.equal(chat.status, 200);
    assert.ok(((await chat.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content.length > 0);
    const remote = await RemotePolicy.connect(ws, { apiKey: 'k-serve-test' });
    assert.equal(remote.metadata.served, 'hierarchical');
    const r = await remote.infer({
      image: { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3).fill(128) },
      state: Float32Array.of(0.3, 0, 0.1, 0, 0, 0, 1),
      instruction: 'pick up the carrot',
    });
    assert.ok(r.actions.every((a) => a.length === 7 && a.every(Number.isFinite)));
    assert.equal(typeof r.text?.subtask, 'string');
    await remote.close();
    assert.match(out, / ws 127\.0\.0\.1:\d+ infer ok /);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err);
    assert.match(out, /SIGTERM: finishing requests in flight[\s\S]*vlm2vla serve: stopped/);
    assert.doesNotMatch(out + err, /k-serve-test/, 'the key is never printed');
  } finally {
    child.kill('SIGKILL');
  }
});
