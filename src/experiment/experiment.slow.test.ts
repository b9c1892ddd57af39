// The tiny forgetting experiment end to end: every file; a rerun does no work; a run killed with
// SIGKILL in the middle of an arm's training completes with the same numbers as an uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '../../bin/vlm2vla.mjs');
const run = (out: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, 'experiment', 'run', '--size', 'tiny', '--out', out], {
    encoding: 'utf8',
    env: { ...process.env, VLM2VLA_CRASH_AT: '', ...env },
  });

/** The numbers of a results file, without times. */
function numbers(dir: string) {
  const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  return {
    base: r.base.vqa,
    arms: r.arms.map(
      (a: {
        name: string;
        training: Record<string, unknown>;
        vqa: unknown;
        retention: unknown;
        sim: Record<string, Record<string, unknown>>;
      }) => ({
        name: a.name,
        steps: a.training.steps,
        loss: a.training.final_loss,
        val: a.training.final_val_loss,
        vqa: a.vqa,
        retention: a.retention,
        sim: Object.fromEntries(Object.entries(a.sim).map(([s, v]) => [s, [v.successes, v.episodes, v.malformed_per_cycle]])),
      }),
    ),
  };
}

test('the tiny experiment: every file, a rerun does nothing, SIGKILL mid-training changes no number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-experiment-'));
  try {
    const a = join(dir, 'a');
    const first = run(a);
    assert.equal(first.status, 0, first.stderr);
    for (const f of [
      'results.json',
      'RESULTS.md',
      'preset.json',
      'experiment.jsonl',
      'vqa/base.json',
      'arms/vlm2vla/run/adapter/adapter_config.json',
      'arms/vlm2vla/vqa.json',
      'arms/vlm2vla/sim/results.json',
      'arms/openvla-style/run/model/config.json',
      'arms/vlm2vla-nr/sim/results.json',
    ])
      assert.ok(existsSync(join(a, f)), f);
    const r = JSON.parse(readFileSync(join(a, 'results.json'), 'utf8'));
    assert.equal(r.schema, 'vlm2vla.experiment/1');
    assert.deepEqual(
      r.arms.map((x: { name: string }) => x.name),
      ['vlm2vla', 'vlm2vla-nr', 'vlm2vla-at', 'openvla-style'],
    );
    assert.ok(existsSync(join(a, 'arms/vlm2vla-at/run/action_tokens.json')));
    assert.ok(r.arms[2].training.vocabulary_share > 0);
    assert.match(readFileSync(join(a, 'RESULTS.md'), 'utf8'), /\| vlm2vla \| \d+\.\d% \|/);

    const again = run(a);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /^\[/m, 'a finished run does no stage again');

    const b = join(dir, 'b');
    const killed = run(b, { VLM2VLA_CRASH_AT: 'train:step@30' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const resumed = run(b);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(numbers(b), numbers(a));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
