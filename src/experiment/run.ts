// `runExperiment()`: the forgetting-and-generalisation comparison as one resumable job. Stages, each
// journaled in OUT/experiment.jsonl when finished and each resumable on its own:
//   data/sim (sim collect) → data/ann (rules annotation) → data/sft-<variant> (one SFT build per
//   dataset variant the arms need) → vqa/base.json → per arm: arms/<arm>/run (finetune with the
//   shared token budget) → arms/<arm>/vqa.json → arms/<arm>/sim (eval sim on every suite)
// then results.json (schema in types.ts) and RESULTS.md. A rerun skips finished stages; an
// interrupted training resumes from its last checkpoint; an interrupted evaluation from its last
// episode. `arms` and `suites` select a subset of the preset.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { ANNOTATIONS_FILE, readAnnotations, rulesAnnotator, runAnnotationJob } from '../annotate/index.ts';
import { corpusTexts } from '../corpus/index.ts';
import type { VqaCategory } from '../corpus/index.ts';
import { openRlds } from '../data/rlds/index.ts';
import { UsageError, VlmError } from '../errors/index.ts';
import { evaluateSim } from '../eval/closed-loop.ts';
import type { SimEvalResults } from '../eval/closed-loop.ts';
import { evaluateVqa, loadVqaModel } from '../eval/vqa.ts';
import { retention } from '../corpus/vqa-score.ts';
import type { VqaReport } from '../corpus/vqa-score.ts';
import { createPolicy } from '../policy/create.ts';
import type { PolicySpec } from '../policy/create.ts';
import { PRETRAIN_PRESETS } from '../pretrain/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../sft/index.ts';
import { collectEpisodes, SUITES } from '../sim/index.ts';
import type { Suite } from '../sim/index.ts';
import { finetune } from '../train/finetune.ts';
import { Journal, crashPoint, readJsonl, writeFileAtomic } from '../util/index.ts';
import { ARMS, RUNNABLE_ARMS } from './presets.ts';
import type { ArmSpec, ExperimentPreset } from './presets.ts';
import { EXPERIMENT_SCHEMA } from './types.ts';
import type { ArmName, ArmResult, ExperimentResults, VqaSummary } from './types.ts';

export interface RunExperimentOptions {
  preset: ExperimentPreset;
  out: string;
  /** Only these arms / suites (default: the preset's). */
  arms?: ArmName[];
  suites?: Suite[];
  log?: (line: string) => void;
  silent?: boolean;
}

interface StageRecord {
  stage: string;
  info?: unknown;
}

const variantOf = (arm: ArmSpec) => `${arm.build.actionStyle}-${arm.build.reasoning}`;

function vqaSummary(r: VqaReport): VqaSummary {
  const categories: VqaSummary['categories'] = {};
  for (const [c, s] of Object.entries(r.categories))
    if (s.total > 0) categories[c as VqaCategory] = { correct: s.correct, total: s.total, accuracy: s.accuracy };
  return { overall: r.overall, categories };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The stages of one run, in order (names as journaled). */
export function experimentStages(preset: ExperimentPreset, arms: readonly ArmName[]): string[] {
  const variants = [...new Set(arms.map((a) => variantOf(ARMS[a])))];
  return [
    'collect',
    'annotate',
    ...variants.map((v) => `build:${v}`),
    'vqa:base',
    ...arms.flatMap((a) => [`train:${a}`, `vqa:${a}`, `sim:${a}`]),
  ];
}

export async function runExperiment(o: RunExperimentOptions): Promise<ExperimentResults> {
  const log = o.log ?? ((s: string) => console.log(s));
  const p = o.preset;
  const arms = o.arms ?? p.arms;
  for (const a of arms) {
    if (!(a in ARMS)) throw new UsageError(`unknown arm ${JSON.stringify(a)}`, `use some of ${Object.keys(ARMS).join(', ')}`);
    if (!RUNNABLE_ARMS.includes(a)) throw new UsageError(`the ${a} arm is not built yet`, `run ${RUNNABLE_ARMS.join(', ')}`);
  }
  const suites = o.suites ?? p.sim.suites;
  for (const s of suites)
    if (!SUITES.includes(s)) throw new UsageError(`unknown suite ${JSON.stringify(s)}`, `use some of ${SUITES.join(', ')}`);
  if (!existsSync(join(p.base, 'config.json')))
    throw new UsageError(`${p.base} is not a model folder (no config.json)`, 'pass --base with the base model (default models/base)');
  mkdirSync(o.out, { recursive: true });
  const presetFile = join(o.out, 'preset.json');
  const presetText = `${JSON.stringify(p, null, 2)}\n`;
  if (existsSync(presetFile) && readFileSync(presetFile, 'utf8') !== presetText)
    throw new VlmError('E_EXPERIMENT_EXISTS', `${o.out} holds a run of another preset`, {
      file: presetFile,
      fix: 'choose a new --out folder, or repeat the original command to resume it',
    });
  writeFileAtomic(presetFile, presetText);
  const journalPath = join(o.out, 'experiment.jsonl');
  const done = new Map(readJsonl<StageRecord>(journalPath).map((r) => [r.stage, r]));
  const journal = new Journal(journalPath);
  const startedFile = join(o.out, 'started.json');
  if (!existsSync(startedFile)) writeFileAtomic(startedFile, `${JSON.stringify({ started: new Date().toISOString() })}\n`);
  const started = (JSON.parse(readFileSync(startedFile, 'utf8')) as { started: string }).started;
  const stage = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    if (done.has(name)) return done.get(name)!.info as T;
    log(`[${name}]`);
    const info = await run();
    crashPoint(`experiment:${name}`);
    journal.append({ stage: name, info });
    done.set(name, { stage: name, info });
    return info;
  };
  try {
    const sim = join(o.out, 'data', 'sim');
    const ann = join(o.out, 'data', 'ann');
    await stage('collect', async () => {
      const r = await collectEpisodes({
        out: sim,
        tasks: p.data.tasks,
        episodes: p.data.episodes,
        seed: p.seed,
        size: p.data.imageSize,
        suite: 'in-distribution',
        imageFormat: 'png',
      });
      return { written: r.written };
    });
    await stage('annotate', async () => {
      const r = await runAnnotationJob(openRlds(sim).episodes(), rulesAnnotator, { outDir: ann });
      return { ok: r.ok, failed: r.failed };
    });
    const annotations = () => readAnnotations(join(ann, ANNOTATIONS_FILE));
    const sftDir = (arm: ArmSpec) => join(o.out, 'data', `sft-${variantOf(arm)}`);
    for (const variant of [...new Set(arms.map((a) => variantOf(ARMS[a])))]) {
      const arm = ARMS[arms.find((a) => variantOf(ARMS[a]) === variant)!];
      await stage(`build:${variant}`, async () => {
        rmSync(sftDir(arm), { recursive: true, force: true });
        const info = await buildSft(openRlds(sim).episodes(), annotations(), {
          ...DEFAULT_EXAMPLES,
          actionStyle: arm.build.actionStyle,
          reasoning: arm.build.reasoning,
          outDir: sftDir(arm),
          format: 'jsonl',
          valFraction: p.data.valFraction,
          seed: p.seed,
        });
        return { examples: info.examples };
      });
    }
    const vqaOptions = { perCategory: p.vqa.perCategory, silent: o.silent };
    const baseVqa = await stage('vqa:base', async () => {
      const r = evaluateVqa(loadVqaModel(p.base), vqaOptions);
      writeFileAtomic(join(o.out, 'vqa', 'base.json'), `${JSON.stringify(r, null, 2)}\n`);
      return vqaSummary(r);
    });
    const results: ArmResult[] = [];
    for (const name of arms) {
      const arm = ARMS[name];
      const runDir = join(o.out, 'arms', name, 'run');
      const training = await stage(`train:${name}`, async () => {
        const r = await finetune({
          model: p.base,
          data: sftDir(arm),
          out: runDir,
          full: arm.mode === 'full',
          lr: arm.lr,
          schedule: 'linear',
          batchSize: p.training.batchSize,
          tokenBudget: p.training.tokenBudget,
          checkpointEvery: p.training.checkpointEvery,
          evalEvery: p.training.checkpointEvery,
          seed: p.seed,
          resume: existsSync(join(runDir, 'checkpoints')),
          ...(arm.binsFromCorpus ? { tokenCountTexts: corpusTexts(0, p.training.corpusConversations, PRETRAIN_PRESETS.base!.mix) } : {}),
          silent: o.silent,
          log,
        });
        return {
          mode: r.mode,
          steps: r.steps,
          tokens: p.training.tokenBudget,
          seconds: r.seconds,
          final_loss: r.finalLoss,
          final_val_loss: r.finalValLoss,
          metrics: relative(o.out, join(runDir, 'metrics.jsonl')),
          vocabulary_share: r.actionTokens ? r.actionTokens.ids.length / vocabularySize(p.base) : null,
        } satisfies ArmResult['training'];
      });
      const modelDir = arm.mode === 'full' ? join(runDir, 'model') : p.base;
      const adapter = arm.mode === 'full' ? undefined : runDir;
      const vqa = await stage(`vqa:${name}`, async () => {
        const r = evaluateVqa(loadVqaModel(modelDir, adapter), vqaOptions);
        writeFileAtomic(join(o.out, 'arms', name, 'vqa.json'), `${JSON.stringify(r, null, 2)}\n`);
        return vqaSummary(r);
      });
      const simDir = join(o.out, 'arms', name, 'sim');
      const simResults = await stage(`sim:${name}`, async () => {
        const spec: PolicySpec = {
          kind: 'model',
          seed: p.seed,
          model: modelDir,
          adapter: adapter ?? null,
          greedy: p.sim.greedy,
          verifier: p.sim.verifier,
        };
        const r = await evaluateSim({
          policy: () => createPolicy(spec),
          policyInfo: { arm: name, ...spec },
          policySpec: spec,
          suites,
          families: p.sim.families,
          episodes: p.sim.episodes,
          seed: p.seed,
          out: simDir,
          limits: { maxSteps: p.sim.maxSteps, maxCycles: p.sim.maxCycles, imageSize: p.data.imageSize },
          workers: p.sim.workers,
          silent: o.silent,
        });
        return simSummary(r, relative(o.out, simDir));
      });
      const ret = retention({ ...fakeReport(vqa) }, { ...fakeReport(baseVqa) });
      results.push({ name, description: arm.description, training, vqa, retention: ret, sim: simResults });
    }
    const out: ExperimentResults = {
      schema: EXPERIMENT_SCHEMA,
      experiment: p.experiment,
      size: p.size,
      preset: p,
      git_commit: gitCommit(),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'unknown',
        memory_gib: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      started,
      finished: new Date().toISOString(),
      base: { model: p.base, vqa: baseVqa },
      arms: results,
    };
    writeFileAtomic(join(o.out, 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
    writeFileAtomic(join(o.out, 'RESULTS.md'), resultsMarkdown(out));
    return out;
  } finally {
    journal.close();
  }
}

function vocabularySize(modelDir: string): number {
  const cfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as {
    text_config?: { vocab_size?: number };
    vocab_size?: number;
  };
  return cfg.text_config?.vocab_size ?? cfg.vocab_size ?? NaN;
}

function simSummary(r: SimEvalResults, run: string): ArmResult['sim'] {
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
        run,
      },
    ]),
  );
}

/** A VqaReport shape around a summary, for `retention()`. */
function fakeReport(s: VqaSummary): VqaReport {
  return {
    seed: 0,
    perCategory: 0,
    seconds: 0,
    predictions: [],
    overall: s.overall,
    categories: Object.fromEntries(Object.entries(s.categories).map(([c, v]) => [c, { ...v }])),
  } as unknown as VqaReport;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)}%`);

/** The tables of a results file as Markdown. */
export function resultsMarkdown(r: ExperimentResults): string {
  const suites = [...new Set(r.arms.flatMap((a) => Object.keys(a.sim)))];
  const lines = [
    `# ${r.experiment} (${r.size}) — vlm2vla`,
    '',
    `Base model \`${r.base.model}\`; commit ${r.git_commit ?? 'unknown'}; ${r.machine.cpus} × ${r.machine.model}; ${r.started} → ${r.finished}.`,
    '',
    '## Headline',
    '',
    `| arm | VQA retention | ${suites.map((s) => `${s} success`).join(' | ')} |`,
    `|---|---:|${suites.map(() => '---:').join('|')}|`,
    ...r.arms.map(
      (a) =>
        `| ${a.name} | ${pct(a.retention.overall ?? null)} | ${suites.map((s) => (a.sim[s] ? `${pct(a.sim[s]!.success_rate)} (${pct(a.sim[s]!.interval[0])}–${pct(a.sim[s]!.interval[1])})` : '–')).join(' | ')} |`,
    ),
    '',
    '## VQA accuracy per category (retention against the base model)',
    '',
  ];
  const cats = Object.keys(r.base.vqa.categories) as VqaCategory[];
  lines.push(`| category | base | ${r.arms.map((a) => a.name).join(' | ')} |`, `|---|---:|${r.arms.map(() => '---:').join('|')}|`);
  for (const c of cats)
    lines.push(
      `| ${c} | ${pct(r.base.vqa.categories[c]!.accuracy)} | ${r.arms.map((a) => `${pct(a.vqa.categories[c]?.accuracy)} (${a.retention[c] === null || a.retention[c] === undefined ? '–' : a.retention[c]!.toFixed(2)})`).join(' | ')} |`,
    );
  lines.push(
    `| **overall** | ${pct(r.base.vqa.overall)} | ${r.arms.map((a) => `${pct(a.vqa.overall)} (${a.retention.overall === null || a.retention.overall === undefined ? '–' : a.retention.overall.toFixed(2)})`).join(' | ')} |`,
    '',
  );
  lines.push(
    '## Arms',
    '',
    '| arm | what | training | steps | tokens | time | final loss | val loss | vocabulary share | malformed / cycle | cycle ms p50 |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const a of r.arms) {
    const sims = Object.values(a.sim);
    const malformed = sims.length > 0 ? sims.reduce((x, s) => x + s.malformed_per_cycle, 0) / sims.length : NaN;
    const cycle = sims.map((s) => s.cycle_ms_p50).filter((v): v is number => v !== null);
    lines.push(
      `| ${a.name} | ${a.description} | ${a.training.mode} | ${a.training.steps} | ${a.training.tokens} | ${(a.training.seconds / 60).toFixed(1)} min | ${a.training.final_loss.toFixed(3)} | ${a.training.final_val_loss === null ? '–' : a.training.final_val_loss.toFixed(3)} | ${a.training.vocabulary_share === null ? '–' : pct(a.training.vocabulary_share)} | ${Number.isFinite(malformed) ? malformed.toFixed(3) : '–'} | ${cycle.length > 0 ? Math.max(...cycle).toFixed(0) : '–'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
