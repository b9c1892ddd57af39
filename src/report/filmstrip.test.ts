// Filmstrips: an episode replayed from its trace reaches the outcome and step count the run journaled
// (expert runs succeed, random runs fail, over every suite and task family), frames carry the cycle's
// text, and damaged traces are typed errors naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPolicy } from '../policy/create.ts';
import { evaluateSim, readEpisodeJournals } from '../eval/closed-loop.ts';
import type { CycleTrace, RunManifest, SimEvalOptions } from '../eval/closed-loop.ts';
import { traceFile } from './report.ts';
import { SUITES } from '../sim/tasks.ts';
import { TASK_FAMILIES } from '../sim/families.ts';
import { VlmError } from '../errors/index.ts';
import { readJsonl } from '../util/index.ts';
import { captionFrame, captionOf, pngDataUri, replayEpisode, spread } from './filmstrip.ts';

async function run(kind: 'expert' | 'random', out: string, extra: Partial<SimEvalOptions> = {}): Promise<void> {
  await evaluateSim({
    policy: () => createPolicy({ kind, seed: 0 }),
    policyInfo: { kind, seed: 0 },
    suites: SUITES,
    families: TASK_FAMILIES,
    episodes: 2,
    seed: 3,
    out,
    limits: { maxSteps: 160, maxCycles: 60, imageSize: 64 },
    silent: true,
    ...extra,
  });
}

function replayAll(
  out: string,
  frames = 3,
): { key: string; journaled: { success: boolean; steps: number }; replayed: ReturnType<typeof replayEpisode> }[] {
  const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunManifest;
  return [...readEpisodeJournals(out)].map(([key, r]) => {
    const file = traceFile(out, key);
    return { key, journaled: r, replayed: replayEpisode(manifest, key, readJsonl<CycleTrace>(file), file, { frames, width: 128 }) };
  });
}

test('expert episodes replayed from their traces succeed in the journaled number of steps; random ones fail as journaled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-filmstrip-'));
  try {
    await run('expert', join(dir, 'expert'));
    await run('random', join(dir, 'random'));
    const expert = replayAll(join(dir, 'expert'));
    assert.equal(expert.length, SUITES.length * 2);
    assert.ok(expert.filter((e) => e.journaled.success).length >= expert.length - 1, 'the expert succeeds');
    for (const e of [...expert, ...replayAll(join(dir, 'random'))]) {
      assert.equal(e.replayed.success, e.journaled.success, `${e.key}: replayed outcome`);
      assert.equal(e.replayed.steps, e.journaled.steps, `${e.key}: replayed steps`);
      const last = e.replayed.frames.at(-1)!;
      assert.equal(last.cycle, -1);
      assert.match(last.caption[0]!, e.journaled.success ? /^success/ : /^failure/);
      assert.ok(e.replayed.frames.length >= 2 && e.replayed.frames.length <= 3);
      for (const f of e.replayed.frames) assert.equal(f.image.rgb.length, f.image.width * f.image.height * 3);
      assert.equal(e.replayed.actions.length, e.replayed.steps);
    }
    // Under a latency model with asynchronous execution a new chunk replaces the rest of the old one:
    // the replay follows the same clock (300 ms extra per cycle, so chunks overlap).
    await run('expert', join(dir, 'async'), { suites: ['in-distribution', 'semantic'], timing: { delayMs: 300, async: true } });
    await run('random', join(dir, 'async-random'), { suites: ['in-distribution'], timing: { delayMs: 500, async: true } });
    const timed = [...replayAll(join(dir, 'async'), 2), ...replayAll(join(dir, 'async-random'), 2)];
    assert.ok(timed.some((e) => e.key.endsWith('#async')) && timed.some((e) => !e.key.endsWith('#async')));
    for (const e of timed) {
      assert.equal(e.replayed.success, e.journaled.success, `${e.key}: replayed outcome`);
      assert.equal(e.replayed.steps, e.journaled.steps, `${e.key}: replayed steps`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('frames show the cycle text; the outcome label is coloured; PNG data URIs decode', () => {
  assert.deepEqual(captionOf({ subtask: 'pick up the carrot', plan: 'move left', chunk: '[[1.0, 0.0, 0.0, 1]]' }), [
    'subtask: pick up the carrot',
    'plan: move left',
    'chunk: [[1.0, 0.0, 0.0, 1]]',
  ]);
  assert.deepEqual(captionOf(null), []);
  const frame = { width: 4, height: 4, rgb: new Uint8Array(48).fill(100) };
  const ok = captionFrame(frame, ['x'.repeat(200)], 'success', 'success', 64, 3);
  assert.equal(ok.width, 64);
  assert.equal(ok.height, 64 + 8 + 3 * 14);
  const green = [...Array(ok.width * 20).keys()].some((p) => ok.rgb[p * 3] === 60 && ok.rgb[p * 3 + 1] === 220);
  assert.ok(green, 'the success label is drawn in green');
  const uri = pngDataUri(ok);
  assert.match(uri, /^data:image\/png;base64,/);
  assert.deepEqual([...Buffer.from(uri.slice(22), 'base64').subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  assert.deepEqual(spread(10, 4), [0, 3, 6, 9]);
  assert.deepEqual(spread(2, 5), [0, 1]);
  assert.deepEqual(spread(0, 5), []);
});

test('a damaged trace is a typed error naming the file and the line', () => {
  const manifest: RunManifest = {
    schema: 'vlm2vla.eval-sim/1',
    policy: {},
    suites: ['in-distribution'],
    families: ['pick'],
    episodes: 1,
    seed: 0,
    limits: { maxSteps: 10, maxCycles: 10, imageSize: 32 },
  };
  const cycle = (actions: unknown): CycleTrace => ({
    episode: 'in-distribution/0',
    cycle: 0,
    step: 0,
    text: null,
    actions: actions as number[][],
    malformed: 0,
    verified: null,
    verifiedTruth: null,
    failed: null,
    ms: 0,
    stages: {},
  });
  const bad = (traces: CycleTrace[], key = 'in-distribution/0') => {
    try {
      replayEpisode(manifest, key, traces, 'run/traces/x.jsonl');
    } catch (e) {
      assert.ok(e instanceof VlmError && e.code === 'E_REPORT_TRACE', String(e));
      assert.equal(e.file, 'run/traces/x.jsonl');
      return e.field;
    }
    assert.fail('no error');
  };
  assert.equal(bad([cycle([[0, 0, 0, 0, 0, 0, 1]]), cycle([[0, 0, Number.NaN, 0, 0, 0, 1]])]), 'line 2.actions');
  assert.equal(bad([cycle([[0, 0, 0]])]), 'line 1.actions');
  assert.equal(bad([cycle(null)]), 'line 1.actions');
  assert.equal(bad([], 'nowhere/0'), 'episode');
});
