// A local OpenAI-compatible chat-completions server for tests. A seeded schedule injects 429 with
// Retry-After, 500, hung requests, malformed JSON bodies and replies that break the schema; other
// requests get a valid annotation derived from the request. Episodes whose task contains
// "impossible" always get 500, so they end as failed.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Rng } from '../../util/index.ts';

export interface FakeServer {
  url: string;
  requests: number;
  authorizations: Set<string>;
  close(): Promise<void>;
}

export interface FaultRates {
  rateLimit: number;
  serverError: number;
  hang: number;
  malformed: number;
  wrongSchema: number;
}

export const DEFAULT_FAULTS: FaultRates = { rateLimit: 0.12, serverError: 0.1, hang: 0.05, malformed: 0.08, wrongSchema: 0.08 };

export async function startFakeServer(seed = 1, faults: FaultRates = DEFAULT_FAULTS): Promise<FakeServer> {
  const rng = new Rng(seed);
  const state = { requests: 0, authorizations: new Set<string>() };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      state.requests++;
      state.authorizations.add(String(req.headers.authorization ?? ''));
      let request: { messages?: { content?: unknown }[] };
      try {
        request = JSON.parse(body);
      } catch {
        res.writeHead(400).end('{"error": "bad json"}');
        return;
      }
      const text = JSON.stringify(request.messages ?? []);
      const steps = Number(/The episode has (\d+) steps/.exec(text)?.[1] ?? '1');
      const task = /Task: ([^\\]*)\\n/.exec(text)?.[1] ?? 'do the task';
      if (task.includes('impossible')) {
        res.writeHead(500).end('{"error": "internal"}');
        return;
      }
      const u = rng.next();
      let acc = 0;
      const hit = (p: number) => u < (acc += p);
      if (hit(faults.rateLimit)) {
        res
          .writeHead(429, { 'retry-after': rng.next() < 0.5 ? '0' : new Date(Date.now() + 100).toUTCString() })
          .end('{"error": "rate limited"}');
        return;
      }
      if (hit(faults.serverError)) {
        res.writeHead(503).end('{"error": "unavailable"}');
        return;
      }
      if (hit(faults.hang)) return; // never answers; the client's timeout must fire
      if (hit(faults.malformed)) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"message": {"content": "');
        return;
      }
      const half = Math.max(1, Math.floor(steps / 2));
      const segments =
        steps >= 2
          ? [
              { start: 0, end: half, subtask: 0, plan: 'move down and slightly forward' },
              { start: half, end: steps, subtask: 1, plan: 'move up' },
            ]
          : [{ start: 0, end: steps, subtask: 0, plan: 'move down' }];
      const reply = hit(faults.wrongSchema)
        ? { subtasks: [task], segments: [{ start: 1, end: steps, subtask: 0, plan: '' }] }
        : { subtasks: steps >= 2 ? [`reach for the object of: ${task}`, task] : [task], segments };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          choices: [{ message: { role: 'assistant', content: JSON.stringify(reply) } }],
          usage: { prompt_tokens: 1000, completion_tokens: 60 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return state.requests;
    },
    authorizations: state.authorizations,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
