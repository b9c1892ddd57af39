// Closed-loop evaluation: the reference policies bound the harness (the expert succeeds, random does
// not), episodes are the same for every policy and worker layout, a run killed with SIGKILL resumes
// without losing or repeating an episode, and bad flags are one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicy } from '../policy/create.ts';
import { initBackend } from '../tensor/index.ts';
import { episodeSpec, evaluateSim, readEpisodeJournals, wilson } from './closed-loop.ts';
import type { SimEvalOptions } from './closed-loop.ts';

await initBackend();
const tmp = () => mkdtempSync(join(tmpdir(), 'vlm2vla-evalsim-'));
const options = (kind: 'expert' | 'random', out: string, extra: Partial<SimEvalOptions> = {}): SimEvalOptions => ({
  policy: () => createPolicy({ kind, seed: 0 }),
  policyInfo: { kind },
  policySpec: { kind, seed: 0 },
  suites: ['in-distribution'],
  families: ['pick', 'pick-place'],
  episodes: 50,
  seed: 0,
  out,
  silent: true,
  ...extra,
});

test('the expert succeeds in ≥ 98% of in-distribution episodes, random steps in ≤ 5%', async () => {
  const dir = tmp();
  try {
    const expert = await evaluateSim(options('expert', join(dir, 'expert')));
    assert.ok(expert.success_rate >= 0.98, String(expert.success_rate));
    const random = await evaluateSim(options('random', join(dir, 'random')));
    assert.ok(random.success_rate <= 0.05, String(random.success_rate));
    assert.equal(random.suites['in-distribution']!.families.pick!.episodes, 25);
    const results = JSON.parse(readFileSync(join(dir, 'expert', 'results.json'), 'utf8'));
    assert.equal(results.success_rate, expert.success_rate);
    assert.equal(readdirSync(join(dir, 'expert', 'traces')).length, 50);
    const trace = readFileSync(join(dir, 'expert', 'traces', 'in-distribution-0.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(trace[0].episode, 'in-distribution/0');
    assert.equal(trace[0].actions[0].length, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('episodes are fixed by (suite, seed, index); every suite has its own scenes', () => {
  const a = episodeSpec('multilingual', 3, 7, ['pick']);
  assert.deepEqual(episodeSpec('multilingual', 3, 7, ['pick']), a);
  assert.notEqual(
    episodeSpec('multilingual', 3, 8, ['pick']).task.instruction + episodeSpec('multilingual', 3, 8, ['pick']).gripper.x,
    a.task.instruction + a.gripper.x,
  );
  assert.notEqual(a.task.language, 'en');
  assert.equal(episodeSpec('in-distribution', 3, 1, ['pick', 'pick-place']).task.family, 'pick-place');
  const [lo, hi] = wilson(49, 50);
  assert.ok(lo > 0.89 && lo < 0.9 && hi > 0.99, `${lo} ${hi}`);
  assert.deepEqual(wilson(0, 0), [0, 1]);
});

test('two worker processes give the same results as one; a rerun does no work', async () => {
  const dir = tmp();
  try {
    const one = await evaluateSim(options('random', join(dir, 'one'), { episodes: 6, suites: ['in-distribution', 'semantic'] }));
    const two = await evaluateSim(
      options('random', join(dir, 'two'), { episodes: 6, suites: ['in-distribution', 'semantic'], workers: 2 }),
    );
    const strip = (m: Map<string, { cycleMs: number[]; stageMs: unknown }>) =>
      [...m.entries()].sort().map(([k, r]) => [k, { ...r, cycleMs: r.cycleMs.length, stageMs: null }]);
    assert.deepEqual(strip(readEpisodeJournals(join(dir, 'two'))), strip(readEpisodeJournals(join(dir, 'one'))));
    assert.equal(two.success_rate, one.success_rate);
    const started = Date.now();
    let built = 0;
    await evaluateSim(
      options('random', join(dir, 'one'), {
        episodes: 6,
        suites: ['in-distribution', 'semantic'],
        policy: () => (built++, createPolicy({ kind: 'random', seed: 0 })),
      }),
    );
    assert.ok(built <= 1);
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(evaluateSim(options('expert', join(dir, 'one'), { episodes: 6 })), /holds another evaluation/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval sim killed with SIGKILL mid-run resumes without losing or repeating an episode', () => {
  const dir = tmp();
  try {
    const out = join(dir, 'run');
    const argv = [
      '--import',
      'tsx',
      join(import.meta.dirname, '../../bin/vlm2vla.mjs'),
      'eval',
      'sim',
      '--policy',
      'expert',
      '--episodes',
      '6',
      '--out',
      out,
    ];
    const killed = spawnSync(process.execPath, argv, {
      env: { ...process.env, VLM2VLA_CRASH_AT: 'eval-sim:after-journal@3' },
      encoding: 'utf8',
    });
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(readEpisodeJournals(out).size, 3);
    const rerun = spawnSync(process.execPath, argv, { env: { ...process.env, VLM2VLA_CRASH_AT: '' }, encoding: 'utf8' });
    assert.equal(rerun.status, 0, rerun.stderr);
    const lines = readFileSync(join(out, 'episodes.0.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).key);
    assert.deepEqual(
      lines,
      Array.from({ length: 6 }, (_, i) => `in-distribution/${i}`),
    );
    assert.match(rerun.stdout, /overall: 100\.0%/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad flags are one-line usage errors', () => {
  const cli = (...a: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../bin/vlm2vla.mjs'), ...a], { encoding: 'utf8' });
  const cases: [string[], RegExp][] = [
    [['eval', 'sim', '--policy', 'expert', '--suite', 'moon', '--out', 'x'], /--suite: unknown "moon"/],
    [['eval', 'sim', '--policy', 'expert', '--episodes', '0', '--out', 'x'], /--episodes must be a whole number/],
    [['eval', 'sim', '--policy', 'expert', '--model', 'm', '--out', 'x'], /--model is only for --policy model/],
    [['eval', 'sim', '--policy', 'model', '--out', 'x'], /--policy model needs --model/],
    [['eval', 'sim', '--policy', 'expert'], /--out is required/],
    [
      ['eval', 'sim', '--policy', 'model', '--model', 'models/base', '--verifier', 'psychic', '--out', join(tmpdir(), 'vlm2vla-never')],
      /unknown verifier "psychic"/,
    ],
    [
      ['eval', 'sim', '--policy', 'model', '--model', 'models/base', '--adapter', 'models', '--out', join(tmpdir(), 'vlm2vla-never')],
      /holds no adapter/,
    ],
    [['act', '--model', 'models/base', '--image', 'nope.png', '--task', 'x'], /nope\.png is not a file/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a served policy is evaluated like a local one (eval sim --server, through RemotePolicy)', async () => {
  const { startServer } = await import('../serve/server.ts');
  const { createEvalPolicy } = await import('./policies.ts');
  const { RandomPolicy } = await import('../policy/reference.ts');
  const served = new RandomPolicy(0);
  let calls = 0;
  const counting = {
    metadata: served.metadata,
    reset: (i: string) => served.reset(i),
    infer: (o: Parameters<typeof served.infer>[0]) => (calls++, served.infer(o)),
  };
  const server = await startServer({ policy: counting, port: 0, log: () => {} });
  const dir = tmp();
  try {
    const spec = { kind: 'remote' as const, seed: 0, server: server.wsUrl };
    const r = await evaluateSim({
      ...options('random', join(dir, 'served'), { episodes: 3, suites: ['in-distribution', 'multilingual'] }),
      policy: () => createEvalPolicy(spec),
      policySpec: spec,
    });
    assert.equal(r.overall.episodes, 6);
    assert.ok(r.overall.mean_cycles > 1);
    assert.equal(calls, Math.round(r.overall.mean_cycles * 6), 'every cycle was one call to the served policy');
    await assert.rejects(createEvalPolicy({ kind: 'remote', seed: 0, server: 'http://x' }), /ws:\/\//);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('latency in simulated time: the robot waits for every call; asynchronous execution waits less', async () => {
  const { runEpisode } = await import('./closed-loop.ts');
  // A policy that always sends five 1 cm steps up (never succeeds; runs to the cycle limit).
  const fiveUp = {
    metadata: { name: 'five-up' } as never,
    reset: async () => {},
    infer: async () => ({
      actions: Array.from({ length: 5 }, () => Float32Array.of(0, 0, 0.01, 0, 0, 0, 1)),
      timing: { totalMs: 0, stages: {} },
    }),
  };
  const spec = episodeSpec('in-distribution', 0, 0, ['pick']);
  const limits = { maxSteps: 1000, maxCycles: 10, imageSize: 32 };
  const sync = await runEpisode(fiveUp, spec, { limits, timing: { delayMs: 500, async: false } });
  const asyncRun = await runEpisode(fiveUp, spec, { limits, timing: { delayMs: 500, async: true } });
  assert.equal(sync.idleMs, 10 * 500);
  // Asynchronously only the first call is waited for in full: later ones are asked for with 2
  // steps (400 ms) left, so the robot waits 100 ms for each.
  assert.equal(asyncRun.idleMs, 500 + 9 * 100);
  assert.equal(asyncRun.key, `${spec.key}#async`);
  assert.deepEqual([asyncRun.steps, sync.steps], [50, 50]);
  const none = await runEpisode(fiveUp, spec, { limits });
  assert.deepEqual([none.idleMs, none.steps], [0, sync.steps]);
});
