// The server over the embedded engine: `modelPolicyFactory` gives every client session its own
// hierarchical policy (episode, verifier, KV cache) over one loaded model, so two robots interleaving
// their cycles on one server each get exactly the text and actions they get alone — under seeded
// sampling, with the KV prefix reuse on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../tensor/index.ts';
import { tinyEngine } from '../policy/testing/fixtures.ts';
import { modelPolicyFactory } from '../policy/load.ts';
import type { HierarchicalPolicy } from '../policy/hierarchical.ts';
import type { EngineBackend } from '../policy/backend.ts';
import type { Observation } from '../policy/types.ts';
import { RemotePolicy } from './client.ts';
import { startServer } from './server.ts';

await initBackend();

const engine = tinyEngine(5);
const files = { model: engine.model, tokenizer: engine.tokenizer, template: engine.template };

const frameOf = (seed: number, instruction: string): Observation => ({
  image: { width: 16, height: 16, rgb: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 31 + seed * 97) & 0xff) },
  state: Float32Array.of(0.3, 0, 0.1, 0, 0, 0, 1),
  instruction,
});

type Step = { reset: string } | Observation;
const scriptA: Step[] = [
  frameOf(1, 'put the carrot in the pot'),
  frameOf(2, 'put the carrot in the pot'),
  { reset: 'put the carrot in the pot' },
  frameOf(3, 'put the carrot in the pot'),
];
const scriptB: Step[] = [frameOf(4, 'pick up the spoon'), frameOf(5, 'pick up the spoon'), frameOf(6, 'pick up the spoon')];

async function step(p: RemotePolicy, s: Step): Promise<string> {
  if ('reset' in s) {
    await p.reset(s.reset);
    return 'reset';
  }
  const r = await p.infer(s);
  return JSON.stringify({ text: r.text, actions: r.actions.map((a) => [...a]), done: r.done ?? false });
}

async function run(scripts: Step[][]): Promise<string[][]> {
  const factory = modelPolicyFactory({ model: 'tiny', seed: 3 }, files);
  const server = await startServer({ policyFactory: factory, port: 0, log: () => {} });
  try {
    const clients = await Promise.all(scripts.map(() => RemotePolicy.connect(server.wsUrl)));
    const answers: string[][] = scripts.map(() => []);
    for (let i = 0; i < Math.max(...scripts.map((s) => s.length)); i++) {
      for (const [k, script] of scripts.entries()) if (i < script.length) answers[k]!.push(await step(clients[k]!, script[i]!));
    }
    for (const c of clients) await c.close();
    return answers;
  } finally {
    await server.close();
  }
}

test('two clients on one model: each session’s episode is its own, interleaved or alone', async () => {
  const factory = modelPolicyFactory({ model: 'tiny', seed: 3 }, files);
  const [p, q] = [factory.create() as HierarchicalPolicy, factory.create() as HierarchicalPolicy];
  assert.notEqual(p.opts.backend, q.opts.backend, 'a back-end (KV cache) per policy');
  assert.equal((p.opts.backend as EngineBackend).model, files.model, 'over the one loaded model');
  assert.equal((q.opts.backend as EngineBackend).model, files.model);
  const [aloneA] = await run([scriptA]);
  const [aloneB] = await run([scriptB]);
  const [a, b] = await run([scriptA, scriptB]);
  assert.deepEqual(a, aloneA);
  assert.deepEqual(b, aloneB);
  assert.match(a![0]!, /"subtasks"/, 'the first cycle writes the subtasks');
  assert.doesNotMatch(a![1]!, /"subtasks"/, 'the next goes on with them although b ran in between');
  assert.match(a![3]!, /"subtasks"/, 'after the reset they are written again');
});
