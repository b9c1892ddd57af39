// The OpenAI-compatible back-end against a local server: each stage's request carries the frames as
// data URIs and, when the server takes one, the stage's grammar (GBNF or a regular expression); an
// unconstrained server's malformed answers are parsed strictly and asked again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildModelPolicy, parseVerifier } from './load.ts';
import { GREEDY_SAMPLING } from './hierarchical.ts';
import { ScriptedBackend } from './testing/fixtures.ts';

interface Seen {
  body: Record<string, unknown>;
  auth: string | undefined;
}

async function server(
  answer: (body: Record<string, unknown>, n: number) => string,
): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data) as Record<string, unknown>;
      seen.push({ body, auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [{ message: { role: 'assistant', content: answer(body, seen.length) } }],
          usage: { prompt_tokens: 1, completion_tokens: 1 },
        }),
      );
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, seen, close: () => new Promise((r) => s.close(() => r())) };
}

const stageOf = (body: Record<string, unknown>) => {
  const text = (body.messages as { content: { type: string; text?: string }[] }[])[0]!.content.find((c) => c.type === 'text')!.text!;
  return /List the subtasks/.test(text)
    ? 'subtasks'
    : /Describe how/.test(text)
      ? 'plan'
      : /Is the subtask complete/.test(text)
        ? 'verify'
        : 'chunk';
};
const frame = { width: 4, height: 4, rgb: new Uint8Array(48).fill(200) };
const obs = { image: frame, state: Float32Array.of(0.3, 0, 0.25, 0, 0, 0, 1), instruction: 'pick up the block' };

test('constrained: every stage sends its grammar as GBNF, with the frames and the key', async () => {
  const good: Record<string, string> = {
    subtasks: '["pick up the block"]',
    plan: 'move down',
    chunk: '[[0.0, 0.0, -3.0, 1]]',
    verify: 'yes',
  };
  const srv = await server((b) => good[stageOf(b)]!);
  try {
    const p = buildModelPolicy({ model: 'remote-vla', baseUrl: srv.url, apiKey: 'sk-test', grammar: 'gbnf', greedy: true });
    const r = await p.infer(obs);
    assert.equal(r.actions.length, 1);
    assert.deepEqual(
      srv.seen.map((s) => stageOf(s.body)),
      ['subtasks', 'plan', 'chunk'],
    );
    for (const s of srv.seen) {
      assert.match(String(s.body.grammar), /^root ::= /);
      assert.equal(s.body.model, 'remote-vla');
      assert.equal(s.auth, 'Bearer sk-test');
      const content = (s.body.messages as { content: { type: string; image_url?: { url: string } }[] }[])[0]!.content;
      assert.match(content[0]!.image_url!.url, /^data:image\/png;base64,/);
    }
    assert.ok((await p.infer(obs)).done);
    assert.equal(stageOf(srv.seen.at(-1)!.body), 'verify');
    const regex = buildModelPolicy({ model: 'remote-vla', baseUrl: srv.url, grammar: 'regex', greedy: true });
    await regex.infer(obs);
    assert.equal(typeof srv.seen.at(-1)!.body.guided_regex, 'string');
    assert.ok(new RegExp(`^(?:${String(srv.seen.at(-1)!.body.guided_regex)})$`).test('[[0.0, 0.0, -3.0, 1]]'));
  } finally {
    await srv.close();
  }
});

test('unconstrained: malformed answers are refused by the strict decoders and asked again', async () => {
  const srv = await server((b, n) => {
    const stage = stageOf(b);
    if (stage === 'subtasks') return n === 1 ? 'Sure! Here are the subtasks: pick up' : '["pick up the block"]';
    if (stage === 'plan') return 'move down';
    return n < 5 ? '[[0.0, 0.0, NaN, 1]]' : '[[0.0, 0.0, -3.0, 1]]';
  });
  try {
    const p = buildModelPolicy({ model: 'm', baseUrl: srv.url, grammar: 'none', greedy: true });
    const r = await p.infer(obs);
    assert.equal(r.malformed, 2);
    assert.equal(r.actions.length, 1);
    assert.ok(srv.seen.every((s) => s.body.grammar === undefined && s.body.guided_regex === undefined));
  } finally {
    await srv.close();
  }
});

test('a separate OpenAI-compatible verifier (e.g. Gemini) judges the subtasks of a policy served elsewhere', async () => {
  const good: Record<string, string> = {
    subtasks: '["pick up the block", "lift the block"]',
    plan: 'move down',
    chunk: '[[0.0, 0.0, -3.0, 1]]',
  };
  const policySrv = await server((b) => good[stageOf(b)] ?? 'yes');
  const verifierSrv = await server((_b, n) => (n === 1 ? 'Yes, it is.' : 'yes'));
  try {
    const p = buildModelPolicy({
      model: 'vla',
      baseUrl: policySrv.url,
      greedy: true,
      verifier: 'openai',
      verifierEndpoint: { baseUrl: verifierSrv.url, model: 'judge', apiKey: 'sk-judge' },
    });
    assert.equal(p.metadata.verifier, 'openai:judge');
    await p.infer(obs);
    const r = await p.infer(obs);
    assert.equal(r.verified, true);
    assert.equal(r.text!.subtask, 'lift the block');
    assert.deepEqual(
      verifierSrv.seen.map((s) => [stageOf(s.body), s.body.model, s.auth]),
      [
        ['verify', 'judge', 'Bearer sk-judge'],
        ['verify', 'judge', 'Bearer sk-judge'],
      ],
    );
    assert.equal(r.malformed, 1, '"Yes, it is." is not yes or no: asked again');
    assert.ok(policySrv.seen.every((s) => stageOf(s.body) !== 'verify'));
    assert.throws(
      () => parseVerifier('openai', new ScriptedBackend({}), GREEDY_SAMPLING),
      /--verifier openai needs an OpenAI-compatible VLM/,
    );
  } finally {
    await policySrv.close();
    await verifierSrv.close();
  }
});

test('a damaged run.json is a typed error naming the file', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { actingStyle } = await import('./load.ts');
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-runinfo-'));
  try {
    writeFileSync(join(dir, 'run.json'), '{"mode": "lora",');
    assert.throws(
      () => actingStyle(dir),
      (e: unknown) => (e as { code?: string }).code === 'E_RUN_INFO' && (e as { file?: string }).file === join(dir, 'run.json'),
    );
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ actionStyle: 'tokens' }));
    assert.throws(
      () => actingStyle(dir),
      (e: unknown) => (e as { code?: string }).code === 'E_RUN_INFO' && /action_tokens\.json/.test((e as Error).message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
