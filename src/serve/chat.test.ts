// Tests of the OpenAI-compatible endpoint: request validation (every field it honours), and the routes
// over the committed base model on loopback — a completion, the same answer streamed as server-sent
// events, stop strings, max_tokens, an image as a data URI, and errors as JSON naming the field; a
// completion gives the event loop turns (same output as one uninterrupted run; /healthz and WebSocket
// pings answered meanwhile) and stops when its client leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { CHAT_YIELD, chatModelOf, chatRoutes, complete, emittable, loadChatModel, parseChatRequest } from './chat.ts';
import type { ChatModel, ChatRequest } from './chat.ts';
import type { Generation } from '../decode/index.ts';
import { ProtocolError } from './errors.ts';
import { startServer } from './server.ts';
import { EchoPolicy } from './testing.ts';
import { encodePng } from '../data/image.ts';
import { OpenAIBackend } from '../policy/backend.ts';
import { tinyEngine } from '../policy/testing/fixtures.ts';
import type { Gemma3Model } from '../models/index.ts';

const MODEL = fileURLToPath(new URL('../../models/base', import.meta.url));
const png = `data:image/png;base64,${Buffer.from(encodePng({ width: 8, height: 8, rgb: new Uint8Array(192).fill(200) }).bytes).toString('base64')}`;
const user = (content: unknown) => ({ messages: [{ role: 'user', content }] });

test('parseChatRequest: defaults, every honoured field, and a ProtocolError naming the field otherwise', () => {
  const r = parseChatRequest({
    model: 'x',
    ...user([
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: png } },
    ]),
    temperature: 0,
    top_p: 0.9,
    max_tokens: 7,
    stop: '\n',
    seed: 3,
    stream: true,
    response_format: { type: 'text' },
  });
  assert.deepEqual(r.messages, [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image' }] }]);
  assert.deepEqual(
    [r.images.length, r.images[0]!.width, r.temperature, r.topP, r.maxTokens, r.stop, r.seed, r.stream],
    [1, 8, 0, 0.9, 7, ['\n'], 3, true],
  );
  const d = parseChatRequest(user('hi'));
  assert.deepEqual([d.temperature, d.topP, d.maxTokens, d.stop, d.stream], [1, 1, 256, [], false]);
  assert.equal(parseChatRequest({ ...user('hi'), max_completion_tokens: 5 }).maxTokens, 5);
  for (const [body, field] of [
    [[], 'body'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 3 }] }, 'messages[0].content'],
    [user([{ type: 'audio' }]), 'messages[0].content[0]'],
    [user([{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }]), 'messages[0].content[0].image_url'],
    [user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]), 'messages[0].content[0].image_url'],
    [user([{ type: 'image_url', image_url: { url: 'data:image/webp;base64,UklGRg==' } }]), 'messages[0].content[0].image_url'],
    [{ messages: [{ role: 'assistant', content: [{ type: 'image_url', image_url: png }] }] }, 'messages[0]'],
    [{ ...user('hi'), temperature: 3 }, 'temperature'],
    [{ ...user('hi'), top_p: 0 }, 'top_p'],
    [{ ...user('hi'), max_tokens: 0 }, 'max_tokens'],
    [{ ...user('hi'), max_tokens: 1.5 }, 'max_tokens'],
    [{ ...user('hi'), stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    [{ ...user('hi'), stop: [''] }, 'stop'],
    [{ ...user('hi'), n: 2 }, 'n'],
    [{ ...user('hi'), stream: 'yes' }, 'stream'],
    [user('x'.repeat(70_000)), 'messages'],
  ] as const) {
    assert.throws(
      () => parseChatRequest(body),
      (e: unknown) => e instanceof ProtocolError && e.field === field,
      JSON.stringify(body).slice(0, 80),
    );
  }
});

test('streaming holds back text at and before a stop string, and a tail that may become one', () => {
  assert.equal(emittable('carrot', []), 6);
  assert.equal(emittable('car', ['ar']), 1);
  assert.equal(emittable('ca', ['ar']), 1);
  assert.equal(emittable('c', ['ar']), 1);
  assert.equal(emittable('the end.\n\nQ:', ['\n\nQ:', 'END']), 8);
  assert.equal(emittable('the end.\n', ['\n\nQ:']), 8);
  assert.equal(emittable('xEN', ['END', 'N!']), 1);
});

test('the chat routes over the base model: completion, the same answer streamed, stop, max_tokens, an image, errors', async () => {
  const chat = loadChatModel(MODEL);
  const server = await startServer({ policy: new EchoPolicy(), port: 0, log: () => {}, routes: chatRoutes(chat) });
  try {
    const post = (body: unknown) =>
      fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const models = (await (await fetch(`${server.httpUrl}/v1/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['base'],
    );
    const ask = { model: 'base', ...user('What is a zanahoria?'), temperature: 0, max_tokens: 12 };
    const r = await post(ask);
    assert.equal(r.status, 200);
    const body = (await r.json()) as {
      object: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    assert.equal(body.object, 'chat.completion');
    const answer = body.choices[0]!.message.content;
    assert.ok(answer.length > 0);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);

    const s = await post({ ...ask, stream: true });
    assert.equal(s.headers.get('content-type'), 'text/event-stream');
    const events = (await s.text()).split('\n\n').filter((e) => e.length > 0);
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map(
      (e) =>
        JSON.parse(e.replace(/^data: /, '')) as {
          object: string;
          choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
        },
    );
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]!.delta.content ?? '').join(''), answer, 'the streamed text is the completion');
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, body.choices[0]!.finish_reason);

    // A stop string cuts the answer before it, streamed or not (the held-back text never leaks).
    const stop = answer.slice(1, 3);
    const cut = (await (await post({ ...ask, stop })).json()) as typeof body;
    assert.equal(cut.choices[0]!.message.content, answer.slice(0, 1));
    const cutStream = await (await post({ ...ask, stop, stream: true })).text();
    const streamed = cutStream
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => (JSON.parse(e.slice(6)) as (typeof chunks)[0]).choices[0]!.delta.content ?? '')
      .join('');
    assert.equal(streamed, answer.slice(0, 1));

    const short = (await (await post({ ...user('Describe the table in detail.'), temperature: 0, max_tokens: 1 })).json()) as typeof body;
    assert.equal(short.usage.completion_tokens, 1);
    assert.equal(short.choices[0]!.finish_reason, 'length');

    const seen = await post({
      ...user([
        { type: 'image_url', image_url: { url: png } },
        { type: 'text', text: 'What colour is the table?' },
      ]),
      temperature: 0,
      max_tokens: 8,
    });
    assert.equal(seen.status, 200);

    // vlm2vla's own OpenAI client (the policy's remote back-end, the annotator's ChatClient) uses it too.
    const backend = new OpenAIBackend({ baseUrl: `${server.httpUrl}/v1`, model: 'base', apiKey: 'unused', grammar: 'none', maxRetries: 0 });
    const stage = await backend.generate({
      stage: 'vqa',
      images: [{ width: 8, height: 8, rgb: new Uint8Array(192).fill(90) }],
      text: 'What is a zanahoria?',
      grammar: null,
      sampling: { temperature: 0, topP: 1, topK: 0 },
      maxNewTokens: 8,
      seed: 0,
    });
    assert.ok(stage.text.length > 0);

    const bad = await post({ ...user('hi'), temperature: -1 });
    assert.equal(bad.status, 400);
    const err = (await bad.json()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'E_PROTOCOL');
    assert.match(err.error.message, /^temperature/);
  } finally {
    await server.close(2000);
  }
});

/** A tiny random model that never ends an answer by itself (no stop ids), counting its forward passes. */
function longWinded(): { chat: ChatModel; forwards: () => number } {
  const engine = tinyEngine(5);
  let forwards = 0;
  const model = Object.create(engine.model) as Gemma3Model;
  model.forward = (...args: Parameters<Gemma3Model['forward']>) => (forwards++, engine.model.forward(...args));
  const chat = { ...chatModelOf({ model, tokenizer: engine.tokenizer, template: engine.template }, 'tiny'), stopIds: [] };
  return { chat, forwards: () => forwards };
}

test('a completion that gives the event loop turns answers exactly what one uninterrupted run does, streamed or not', async () => {
  const { chat } = longWinded();
  const req = parseChatRequest({ ...user('Describe the table.'), temperature: 1, top_p: 0.95, seed: 3, max_tokens: 64 });
  const uninterrupted = { tokens: Number.MAX_SAFE_INTEGER, ms: Infinity };
  const want = await complete(chat, req, undefined, undefined, uninterrupted);
  assert.equal(want.tokens.length, 64);
  const stop = want.text!.slice(40, 43);
  const cut = await complete(chat, { ...req, stop: [stop] }, undefined, undefined, uninterrupted);
  assert.equal(cut.finishReason, 'stop');
  for (const every of [CHAT_YIELD, { tokens: 1 }, { tokens: 5, ms: 0 }]) {
    const cases: [ChatRequest, Generation][] = [
      [req, want],
      [{ ...req, stop: [stop] }, cut],
    ];
    for (const [r, expected] of cases) {
      assert.deepEqual(await complete(chat, r, undefined, undefined, every), expected);
      const deltas: string[] = [];
      assert.deepEqual(await complete(chat, r, (d) => deltas.push(d), undefined, every), expected);
      assert.equal(deltas.join(''), expected.text, 'the stream adds up to the answer');
    }
  }
});

test('during a long completion the server answers /healthz and WebSocket pings; a client that leaves stops its completion', async () => {
  const { chat, forwards } = longWinded();
  const lines: string[] = [];
  const server = await startServer({ policy: new EchoPolicy(), port: 0, log: (l) => lines.push(l), routes: chatRoutes(chat) });
  const ws = new WebSocket(server.wsUrl);
  await new Promise((resolve) => ws.once('message', resolve));
  try {
    const ask = (maxTokens: number, signal?: AbortSignal) =>
      fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...user('Tell me everything.'), seed: 1, max_tokens: maxTokens, stream: true }),
        ...(signal ? { signal } : {}),
      });
    const order: string[] = [];
    const res = await ask(600);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('"content"')) text += decoder.decode((await reader.read()).value, { stream: true });
    // The completion is under way: another request and a ping, then the rest of the stream.
    const health = fetch(`${server.httpUrl}/healthz`).then((r) => order.push(`healthz ${r.status}`));
    const pong = new Promise<void>((resolve) => ws.once('pong', () => resolve(void order.push('pong'))));
    ws.ping();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    order.push('completion done');
    await Promise.all([health, pong]);
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.equal(order.at(-1), 'completion done', `answered while the completion ran: ${order.join(', ')}`);
    assert.deepEqual(new Set(order), new Set(['healthz 200', 'pong', 'completion done']));

    // A client that leaves after the first words: the engine stops within a few turns, not 600 tokens later.
    const before = forwards();
    const leaving = new AbortController();
    const gone = await ask(600, leaving.signal);
    const r2 = gone.body!.getReader();
    let head = '';
    while (!head.includes('"content"')) head += decoder.decode((await r2.read()).value, { stream: true });
    leaving.abort();
    const until = performance.now() + 10_000;
    while (!lines.some((l) => /POST \/v1\/chat\/completions 500 .*E_POLICY the request was cancelled/.test(l)) && performance.now() < until)
      await new Promise((r) => setTimeout(r, 20));
    while (server.stats().running && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.ok(forwards() - before < 200, `${forwards() - before} forward passes for a client that left at once`);
  } finally {
    ws.close();
    await server.close(2000);
  }
});

test('a completion past --timeout stops at its next turn, streamed or not (no write after the answer ended)', async () => {
  const { chat, forwards } = longWinded();
  const lines: string[] = [];
  const server = await startServer({
    policy: new EchoPolicy(),
    port: 0,
    log: (l) => lines.push(l),
    routes: chatRoutes(chat),
    requestTimeoutMs: 200,
  });
  try {
    for (const stream of [false, true]) {
      const before = forwards();
      const r = await fetch(`${server.httpUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...user('Tell me everything.'), seed: 1, max_tokens: 1000, stream }),
      });
      const body = await r.text();
      if (stream) assert.doesNotMatch(body, /\[DONE\]/, 'a stream cut by the timeout has no [DONE]');
      else assert.deepEqual([r.status, (JSON.parse(body) as { error: { code: string } }).error.code], [504, 'E_TIMEOUT']);
      const until = performance.now() + 10_000;
      while (server.stats().running && performance.now() < until) await new Promise((res) => setTimeout(res, 5));
      assert.ok(forwards() - before < 800, `${forwards() - before} of 1000 forward passes after a 200 ms timeout`);
    }
    assert.equal(lines.filter((l) => / E_TIMEOUT /.test(l)).length, 2, lines.join('\n'));
    assert.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200, 'the server lives on');
  } finally {
    await server.close(2000);
  }
});
