// The report reads what the experiment runner writes: a results.json typed as the runner's
// ExperimentResults (src/experiment/types.ts) is accepted by the report's loader (src/report/results.ts,
// which sits below experiment/ in the layers and so declares the fields it reads itself), and the
// runner's type is assignable to the report's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPERIMENT_SCHEMA } from '../src/experiment/types.ts';
import type { ExperimentResults } from '../src/experiment/types.ts';
import { RESULTS_SCHEMA, loadResults } from '../src/report/results.ts';
import type { ReportedResults } from '../src/report/results.ts';

test("a results.json of the runner's type loads in the report", () => {
  assert.equal(RESULTS_SCHEMA, EXPERIMENT_SCHEMA);
  const results: ExperimentResults = {
    schema: EXPERIMENT_SCHEMA,
    experiment: 'forgetting',
    size: 'tiny',
    preset: { any: 'thing' },
    git_commit: 'abc',
    machine: { cpus: 2, model: 'cpu', memory_gib: 8, node: 'v20' },
    started: '2026-12-03T00:00:00Z',
    finished: '2026-12-03T01:00:00Z',
    base: { model: 'models/base', vqa: { overall: 0.9, categories: { colour: { correct: 9, total: 10, accuracy: 0.9 } } } },
    arms: [
      {
        name: 'vlm2vla',
        description: 'language actions',
        training: {
          mode: 'lora',
          steps: 10,
          tokens: 1000,
          seconds: 5,
          final_loss: 1.5,
          final_val_loss: null,
          metrics: 'arms/vlm2vla/run/metrics.jsonl',
          vocabulary_share: null,
        },
        vqa: { overall: 0.8, categories: { colour: { correct: 8, total: 10, accuracy: 0.8 } } },
        retention: { colour: 0.8 / 0.9, overall: 0.8 / 0.9 },
        sim: {
          'in-distribution': {
            episodes: 4,
            successes: 1,
            success_rate: 0.25,
            interval: [0.05, 0.7],
            malformed_per_cycle: 0.1,
            cycle_ms_p50: 12,
            run: 'arms/vlm2vla/sim',
          },
        },
      },
    ],
  };
  const asReported: ReportedResults = results;
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-report-schema-'));
  try {
    writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
    assert.deepEqual(loadResults(dir), JSON.parse(JSON.stringify(asReported)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
