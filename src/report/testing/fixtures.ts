// Test fixtures for the report and the viewer, made by running the real commands on small inputs: a
// sim dataset (RLDS), its rules annotations and SFT build, two 3-step LoRA runs of models/base
// (metrics.jsonl), eval sim runs of the expert and the random policy, and a hand-assembled
// results.json in the experiment schema that points at them. Built once per process into a temp dir.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'vlm2vla.mjs');

export interface Fixtures {
  dir: string;
  /** RLDS dataset of 3 expert episodes (64 px). */
  sim: string;
  /** Annotation folder (annotations.jsonl). */
  annotations: string;
  /** SFT dataset folder. */
  sft: string;
  /** eval sim run folders. */
  expert: string;
  random: string;
  /** Results folder: results.json, arms/<arm>/run (metrics) and arms/<arm>/sim (eval sim). */
  results: string;
}

/** Runs `vlm2vla …args`; throws with its output when it fails. */
export function vlm2vla(args: readonly string[], cwd: string): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, VLM2VLA_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`vlm2vla ${args.join(' ')} exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const SUITES = 'in-distribution,multilingual';

let built: Fixtures | undefined;

export function buildFixtures(): Fixtures {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-report-'));
  try {
    built = buildInto(dir);
    return built;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function buildInto(dir: string): Fixtures {
  const p = (...s: string[]) => join(dir, ...s);
  vlm2vla(['sim', 'collect', '--tasks', 'pick,pick-place', '--episodes', '3', '--size', '64', '--out', p('sim')], dir);
  vlm2vla(['annotate', '--in', p('sim'), '--annotator', 'rules', '--out', p('ann')], dir);
  vlm2vla(['build', '--annotations', p('ann'), '--episodes', p('sim'), '--out', p('sft')], dir);
  const results = p('results');
  const arms = [
    { name: 'vlm2vla', policy: 'expert', seed: '1' },
    { name: 'openvla-style', policy: 'random', seed: '2' },
  ];
  for (const a of arms) {
    vlm2vla(
      [
        'train',
        '--model',
        join(ROOT, 'models', 'base'),
        '--data',
        p('sft'),
        '--out',
        join(results, 'arms', a.name, 'run'),
        '--steps',
        '3',
        '--batch-size',
        '1',
        '--seed',
        a.seed,
      ],
      dir,
    );
    vlm2vla(
      [
        'eval',
        'sim',
        '--policy',
        a.policy,
        '--suite',
        SUITES,
        '--episodes',
        '3',
        '--seed',
        '0',
        '--image-size',
        '64',
        '--max-cycles',
        '30',
        '--out',
        join(results, 'arms', a.name, 'sim'),
      ],
      dir,
    );
  }
  cpSync(join(results, 'arms', 'vlm2vla', 'sim'), p('expert'), { recursive: true });
  cpSync(join(results, 'arms', 'openvla-style', 'sim'), p('random'), { recursive: true });
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'results.json'), `${JSON.stringify(handResults(results), null, 2)}\n`);
  return { dir, sim: p('sim'), annotations: p('ann'), sft: p('sft'), expert: p('expert'), random: p('random'), results };
}

/** A results.json in the experiment schema around the fixture runs: VQA numbers are hand-written;
 *  the success figures are the eval sim runs' own. */
function handResults(results: string): unknown {
  const sim = (arm: string) => {
    const r = JSON.parse(readFileSync(join(results, 'arms', arm, 'sim', 'results.json'), 'utf8')) as {
      suites: Record<
        string,
        {
          episodes: number;
          successes: number;
          success_rate: number;
          interval: [number, number];
          malformed_per_cycle: number;
          cycle_ms: { p50: number | null };
        }
      >;
    };
    return Object.fromEntries(
      Object.entries(r.suites).map(([s, g]) => [
        s,
        {
          episodes: g.episodes,
          successes: g.successes,
          success_rate: g.success_rate,
          interval: g.interval,
          malformed_per_cycle: g.malformed_per_cycle,
          cycle_ms_p50: g.cycle_ms.p50,
          run: `arms/${arm}/sim`,
        },
      ]),
    );
  };
  const acc = (correct: number, total: number) => ({ correct, total, accuracy: correct / total });
  const training = (arm: string, mode: string, share: number | null) => ({
    mode,
    steps: 3,
    tokens: 700,
    seconds: 20,
    final_loss: 13.5,
    final_val_loss: null,
    metrics: `arms/${arm}/run/metrics.jsonl`,
    vocabulary_share: share,
  });
  return {
    schema: 'vlm2vla.experiment/1',
    experiment: 'forgetting',
    size: 'fixture <test>',
    preset: { note: 'hand-assembled for the report tests' },
    git_commit: null,
    machine: { cpus: 2, model: 'test machine', memory_gib: 8, node: process.version },
    started: '2026-12-03T00:00:00.000Z',
    finished: '2026-12-03T01:00:00.000Z',
    base: { model: 'models/base', vqa: { overall: 0.6, categories: { colour: acc(18, 20), counting: acc(10, 20), es: acc(8, 20) } } },
    arms: [
      {
        name: 'vlm2vla',
        description: "language actions, hierarchy, LoRA (here: the expert policy's runs)",
        training: training('vlm2vla', 'lora', null),
        vqa: { overall: 0.55, categories: { colour: acc(17, 20), counting: acc(9, 20), es: acc(7, 20) } },
        retention: { colour: 17 / 18, counting: 0.9, es: 7 / 8, overall: 0.55 / 0.6 },
        sim: sim('vlm2vla'),
      },
      {
        name: 'openvla-style',
        description: "256-bin action tokens, full fine-tune (here: the random policy's runs)",
        training: training('openvla-style', 'full', 0.25),
        vqa: { overall: 0.05, categories: { colour: acc(2, 20), counting: acc(1, 20), es: acc(0, 20) } },
        retention: { colour: 2 / 18, counting: 0.1, es: 0, overall: 0.05 / 0.6 },
        sim: sim('openvla-style'),
      },
    ],
  };
}
