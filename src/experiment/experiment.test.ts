// Experiment presets and the runner's refusals, and the Markdown tables of a results file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlmError } from '../errors/index.ts';
import { ARMS, EXPERIMENT_PRESETS, experimentPreset } from './presets.ts';
import { experimentStages, resultsMarkdown, runExperiment } from './run.ts';
import { EXPERIMENT_SCHEMA } from './types.ts';
import type { ExperimentResults } from './types.ts';

test('presets: every arm is described; the stages of a run in order', () => {
  for (const p of Object.values(EXPERIMENT_PRESETS)) for (const a of p.arms) assert.ok(ARMS[a].description.length > 20);
  assert.deepEqual(experimentStages(experimentPreset('tiny'), ['vlm2vla', 'openvla-style']), [
    'collect',
    'annotate',
    'build:list-full',
    'build:tokens-none',
    'vqa:base',
    'train:vlm2vla',
    'vqa:vlm2vla',
    'sim:vlm2vla',
    'train:openvla-style',
    'vqa:openvla-style',
    'sim:openvla-style',
  ]);
  assert.throws(
    () => experimentPreset('huge'),
    (e: unknown) => isVlmError(e) && /use one of tiny, small/.test(e.fix ?? ''),
  );
  // A preset is copied, never shared.
  experimentPreset('tiny').data.episodes = 99;
  assert.notEqual(experimentPreset('tiny').data.episodes, 99);
});

test('the runner refuses unknown arms, unknown suites and a missing base before any work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-exp-'));
  try {
    const preset = experimentPreset('tiny');
    await assert.rejects(runExperiment({ preset, out: dir, arms: ['nope' as 'vlm2vla'], log: () => {} }), /unknown arm "nope"/);
    await assert.rejects(runExperiment({ preset, out: dir, suites: ['mars' as 'semantic'], log: () => {} }), /unknown suite "mars"/);
    await assert.rejects(runExperiment({ preset: { ...preset, base: join(dir, 'none') }, out: dir, log: () => {} }), /not a model folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Markdown tables of a results file', () => {
  const r: ExperimentResults = {
    schema: EXPERIMENT_SCHEMA,
    experiment: 'forgetting',
    size: 'tiny',
    preset: {},
    git_commit: 'abc',
    machine: { cpus: 2, model: 'cpu', memory_gib: 24, node: 'v20' },
    started: 's',
    finished: 'f',
    base: { model: 'models/base', vqa: { overall: 0.8, categories: { colour: { correct: 4, total: 5, accuracy: 0.8 } } } },
    arms: [
      {
        name: 'vlm2vla',
        description: 'LoRA',
        training: {
          mode: 'lora',
          steps: 3,
          tokens: 100,
          seconds: 60,
          final_loss: 1.5,
          final_val_loss: null,
          metrics: 'arms/vlm2vla/run/metrics.jsonl',
          vocabulary_share: null,
        },
        vqa: { overall: 0.6, categories: { colour: { correct: 3, total: 5, accuracy: 0.6 } } },
        retention: { colour: 0.75, overall: 0.75 },
        sim: {
          'in-distribution': {
            episodes: 10,
            successes: 5,
            success_rate: 0.5,
            interval: [0.237, 0.763],
            malformed_per_cycle: 0.1,
            cycle_ms_p50: 50,
            run: 'arms/vlm2vla/sim',
          },
        },
      },
    ],
  };
  const md = resultsMarkdown(r);
  assert.match(md, /\| vlm2vla \| 75\.0% \| 50\.0% \(23\.7%–76\.3%\) \|/);
  assert.match(md, /\| colour \| 80\.0% \| 60\.0% \(0\.75\) \|/);
  assert.match(md, /\| vlm2vla \| LoRA \| lora \| 3 \| 100 \| 1\.0 min \| 1\.500 \| – \| – \| 0\.100 \| 50 \|/);
});

test('a folder holding a run of another preset is refused before any work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-exp-'));
  try {
    writeFileSync(join(dir, 'preset.json'), `${JSON.stringify({ ...experimentPreset('small') }, null, 2)}\n`);
    await assert.rejects(
      runExperiment({ preset: experimentPreset('tiny'), out: dir, log: () => {} }),
      (e: unknown) => isVlmError(e) && e.code === 'E_EXPERIMENT_EXISTS' && e.file === join(dir, 'preset.json'),
    );
    assert.ok(!existsSync(join(dir, 'data')), 'nothing was collected');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
