// Closed-loop evaluation in the tabletop world: any Policy acts in episodes fixed by (suite, seed,
// index), so two policies meet the same scenes; each cycle's observation is the camera frame, the
// end-effector state and the instruction; the returned steps are executed in the simulator; the
// episode ends on task success, when the policy says it is done, or at the step and cycle limits.
// Per episode: success, steps, cycles, malformed outputs, verifier decisions and their agreement
// with the simulator's truth, and time per stage. Runs are journaled per episode (resume after an
// interruption neither loses nor repeats an episode) and can be spread over worker processes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, VlmError } from '../errors/index.ts';
import { captionFrame } from '../data/caption.ts';
import type { RgbImage } from '../data/image.ts';
import type { Observation, Policy, PolicyResult } from '../policy/types.ts';
import type { EvalPolicySpec } from './policies.ts';
import { subtaskDoneInSim } from '../policy/verifiers.ts';
import { encodeGif } from '../data/gif.ts';
import { GRIPPER_START, Rollout } from '../sim/rollout.ts';
import { render } from '../sim/renderer.ts';
import { SUITES, TASK_FAMILIES, sampleTask } from '../sim/tasks.ts';
import type { Suite, Task, TaskFamily } from '../sim/tasks.ts';
import { Journal, Progress, Rng, crashPoint, readJsonl, writeFileAtomic } from '../util/index.ts';

export const SIM_EVAL_SCHEMA = 'vlm2vla.eval-sim/1';

export interface EpisodeSpec {
  key: string;
  suite: Suite;
  index: number;
  seed: number;
  task: Task;
  gripper: { x: number; y: number; z: number };
}

/** Stable per-(suite, seed, index) integer. */
function episodeSeed(suite: Suite, seed: number, index: number): number {
  let h = (seed * 1_000_003 + index * 7919) >>> 0;
  for (const ch of suite) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h;
}

/** The episode at (suite, seed, index): the task family cycles through `families`; the scene, the
 *  instruction and the gripper's start come from the episode's own seed. */
export function episodeSpec(suite: Suite, seed: number, index: number, families: readonly TaskFamily[]): EpisodeSpec {
  const rng = new Rng(episodeSeed(suite, seed, index));
  const family = families[index % families.length]!;
  const task = sampleTask(family, rng, suite);
  const gripper = { x: GRIPPER_START.x + rng.uniform(-0.05, 0.05), y: GRIPPER_START.y + rng.uniform(-0.05, 0.05), z: GRIPPER_START.z };
  return { key: `${suite}/${index}`, suite, index, seed: episodeSeed(suite, seed, index), task, gripper };
}

export interface EpisodeLimits {
  /** Most simulator steps (the expert needs at most 120). */
  maxSteps: number;
  /** Most policy cycles. */
  maxCycles: number;
  /** Camera frame size (the training data's `sim collect --size`). */
  imageSize: number;
}

export const EPISODE_DEFAULTS: EpisodeLimits = { maxSteps: 160, maxCycles: 60, imageSize: 128 };

/** One cycle as the trace records it. */
export interface CycleTrace {
  episode: string;
  cycle: number;
  step: number;
  text: PolicyResult['text'] | null;
  actions: number[][];
  malformed: number;
  verified: boolean | null;
  /** The simulator's truth for the subtask the verifier judged. */
  verifiedTruth: boolean | null;
  failed: string | null;
  ms: number;
  stages: Record<string, number>;
}

export interface EpisodeResult {
  key: string;
  suite: Suite;
  index: number;
  family: TaskFamily;
  instruction: string;
  language: string;
  success: boolean;
  /** success | done (the policy stopped) | steps | cycles (a limit) */
  end: 'success' | 'done' | 'steps' | 'cycles';
  steps: number;
  cycles: number;
  malformed: number;
  /** Cycles that produced no action (a stage out of retries, or the envelope refused). */
  failedCycles: number;
  verifier: { decisions: number; agree: number };
  cycleMs: number[];
  stageMs: Record<string, number[]>;
  /** Simulated time the robot stood still waiting for the policy (ms; 0 without a timing model). */
  idleMs: number;
}

function observe(rollout: Rollout, size: number): Observation {
  return {
    image: render(rollout.world, size, size),
    state: rollout.world.state(),
    instruction: rollout.task.instruction,
    privileged: { rollout },
  };
}

export interface RunEpisodeOptions {
  limits?: EpisodeLimits;
  onCycle?: (trace: CycleTrace) => void;
  /** Collect annotated frames (one per executed step) for a video. */
  video?: RgbImage[];
  /** Model the policy's latency in simulated time (idle time; asynchronous execution). */
  timing?: EpisodeTiming;
}

/** Simulated time: each step takes 1/controlHz; each policy call takes its measured time plus an
 *  artificial delay. `async` requests the next chunk from a fresh observation while the current one
 *  still runs (when the steps left take no longer than the last call did), and the new chunk
 *  replaces what is left of the old one when it arrives; otherwise the robot waits for every call. */
export interface EpisodeTiming {
  delayMs: number;
  async: boolean;
}

/** Control period of the simulator (5 Hz, as Bridge). */
export const STEP_MS = 200;

/** Runs one episode of `policy` in the simulator. */
export async function runEpisode(policy: Policy, spec: EpisodeSpec, options: RunEpisodeOptions = {}): Promise<EpisodeResult> {
  const limits = options.limits ?? EPISODE_DEFAULTS;
  const timing = options.timing ?? null;
  const rollout = new Rollout(spec.task, spec.gripper);
  await policy.reset(spec.task.instruction, { seed: spec.seed });
  const result: EpisodeResult = {
    key: timing?.async ? `${spec.key}#async` : spec.key,
    suite: spec.suite,
    index: spec.index,
    family: spec.task.family,
    instruction: spec.task.instruction,
    language: spec.task.language,
    success: false,
    end: 'cycles',
    steps: 0,
    cycles: 0,
    malformed: 0,
    failedCycles: 0,
    verifier: { decisions: 0, agree: 0 },
    cycleMs: [],
    stageMs: {},
    idleMs: 0,
  };
  let previousSubtask: string | null = null;
  let clock = 0;
  let lastLatency = timing?.delayMs ?? 0;
  let queue: { action: Float32Array; caption: string[] }[] = [];
  let pending: { out: PolicyResult; arrival: number } | null = null;
  const frame = (caption: string[]) =>
    options.video?.push(captionFrame(render(rollout.world, limits.imageSize, limits.imageSize), caption, `step ${result.steps}`, 'plain'));
  for (;;) {
    if (result.steps >= limits.maxSteps) {
      result.end = 'steps';
      break;
    }
    const wantsNext = queue.length === 0 || (timing?.async === true && queue.length * STEP_MS <= lastLatency);
    if (!pending && wantsNext && result.cycles < limits.maxCycles) {
      const obs = observe(rollout, limits.imageSize);
      const out = await policy.infer(obs);
      result.cycles++;
      result.cycleMs.push(out.timing.totalMs);
      for (const [stage, ms] of Object.entries(out.timing.stages)) (result.stageMs[stage] ??= []).push(ms);
      result.malformed += out.malformed ?? 0;
      let truth: boolean | null = null;
      if (out.verified !== undefined && previousSubtask !== null) {
        truth = subtaskDoneInSim(rollout, previousSubtask);
        result.verifier.decisions++;
        if (truth === out.verified) result.verifier.agree++;
      }
      if (out.text?.subtask !== undefined) previousSubtask = out.text.subtask;
      if (out.actions.length === 0 && !out.done) result.failedCycles++;
      for (const action of out.actions) {
        if (action.length !== 7 || ![...action].every(Number.isFinite))
          throw new UsageError(
            `the ${policy.metadata.name} policy returned a step that is not 7 finite values`,
            'a policy must return steps that passed the safety envelope',
          );
      }
      options.onCycle?.({
        episode: result.key,
        cycle: result.cycles - 1,
        step: result.steps,
        text: out.text ?? null,
        actions: out.actions.map((a) => [...a].map((v) => Math.round(v * 1e5) / 1e5)),
        malformed: out.malformed ?? 0,
        verified: out.verified ?? null,
        verifiedTruth: truth,
        failed: out.failed ?? null,
        ms: out.timing.totalMs,
        stages: out.timing.stages,
      });
      const latency = timing ? out.timing.totalMs + timing.delayMs : 0;
      lastLatency = latency;
      pending = { out, arrival: clock + latency };
    }
    if (pending && (queue.length === 0 || pending.arrival <= clock)) {
      if (pending.arrival > clock) {
        result.idleMs += pending.arrival - clock;
        clock = pending.arrival;
      }
      const out = pending.out;
      pending = null;
      const caption = [
        out.text?.subtask ? `subtask: ${out.text.subtask}` : '',
        out.text?.plan ? `plan: ${out.text.plan}` : '',
        out.text?.chunk ? `chunk: ${out.text.chunk}` : '',
      ].filter((l) => l !== '');
      queue = out.actions.map((action) => ({ action, caption }));
      if (out.done && queue.length === 0) {
        result.end = 'done';
        break;
      }
      continue;
    }
    if (queue.length === 0) {
      if (result.cycles >= limits.maxCycles) break;
      continue;
    }
    const next = queue.shift()!;
    frame(next.caption);
    rollout.step(next.action);
    result.steps++;
    clock += STEP_MS;
    if (rollout.success()) {
      result.success = true;
      result.end = 'success';
      break;
    }
  }
  options.video?.push(
    captionFrame(
      render(rollout.world, limits.imageSize, limits.imageSize),
      [spec.task.instruction],
      result.success ? 'success' : 'failure',
      result.success ? 'success' : 'failure',
    ),
  );
  return result;
}

/** Wilson score interval (95%) of k successes in n trials. */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export interface GroupSummary {
  episodes: number;
  successes: number;
  success_rate: number;
  interval: [number, number];
  mean_steps: number;
  mean_cycles: number;
  malformed_per_cycle: number;
  failed_cycles: number;
  verifier: { decisions: number; agreement: number | null };
  /** Mean simulated seconds per episode the robot waited for the policy (with a timing model). */
  idle_s_per_episode: number;
  cycle_ms: { p50: number | null; p95: number | null };
  stage_ms: Record<string, { p50: number | null; p95: number | null }>;
}

export function summarise(results: readonly EpisodeResult[]): GroupSummary {
  const n = results.length;
  const k = results.filter((r) => r.success).length;
  const cycles = results.reduce((a, r) => a + r.cycles, 0);
  const decisions = results.reduce((a, r) => a + r.verifier.decisions, 0);
  const agree = results.reduce((a, r) => a + r.verifier.agree, 0);
  const stages: Record<string, number[]> = {};
  for (const r of results) for (const [s, v] of Object.entries(r.stageMs)) (stages[s] ??= []).push(...v);
  const allCycles = results.flatMap((r) => r.cycleMs);
  return {
    episodes: n,
    successes: k,
    success_rate: n > 0 ? k / n : 0,
    interval: wilson(k, n),
    mean_steps: n > 0 ? results.reduce((a, r) => a + r.steps, 0) / n : 0,
    mean_cycles: n > 0 ? cycles / n : 0,
    malformed_per_cycle: cycles > 0 ? results.reduce((a, r) => a + r.malformed, 0) / cycles : 0,
    failed_cycles: results.reduce((a, r) => a + r.failedCycles, 0),
    verifier: { decisions, agreement: decisions > 0 ? agree / decisions : null },
    idle_s_per_episode: n > 0 ? results.reduce((a, r) => a + (r.idleMs ?? 0), 0) / n / 1000 : 0,
    cycle_ms: { p50: quantile(allCycles, 0.5), p95: quantile(allCycles, 0.95) },
    stage_ms: Object.fromEntries(Object.entries(stages).map(([s, v]) => [s, { p50: quantile(v, 0.5), p95: quantile(v, 0.95) }])),
  };
}

export interface SimEvalOptions {
  /** Builds the policy (once per process). */
  policy: () => Promise<Policy>;
  /** What results.json says about the policy (its command-line description). */
  policyInfo: Record<string, unknown>;
  suites: readonly Suite[];
  families: readonly TaskFamily[];
  episodes: number;
  seed: number;
  out: string;
  limits?: EpisodeLimits;
  video?: boolean;
  /** Worker processes (each builds its own policy). 1 = in this process. */
  workers?: number;
  /** How a worker process rebuilds the policy (required with workers > 1). */
  policySpec?: EvalPolicySpec;
  /** Model the policy's latency in simulated time; with `async`, every episode also runs with
   *  asynchronous execution and results.json compares the two. */
  timing?: EpisodeTiming;
  silent?: boolean;
}

export interface SimEvalResults {
  schema: typeof SIM_EVAL_SCHEMA;
  policy: Record<string, unknown>;
  seed: number;
  episodes_per_suite: number;
  families: TaskFamily[];
  /** With --async: the same episodes run synchronously and asynchronously under the same delay. */
  timing: { delay_ms: number; sync: GroupSummary; async: GroupSummary } | null;
  success_rate: number;
  interval: [number, number];
  overall: GroupSummary;
  suites: Record<string, GroupSummary & { families: Record<string, GroupSummary> }>;
}

export const MAX_EPISODES = 100_000;

function checkOptions(o: SimEvalOptions): void {
  if (!(Number.isInteger(o.episodes) && o.episodes >= 1 && o.episodes <= MAX_EPISODES))
    throw new UsageError(`--episodes must be a whole number in 1…${MAX_EPISODES}, got ${o.episodes}`);
  if (!(Number.isSafeInteger(o.seed) && o.seed >= 0)) throw new UsageError(`--seed must be a non-negative whole number, got ${o.seed}`);
  for (const s of o.suites)
    if (!SUITES.includes(s)) throw new UsageError(`unknown suite ${JSON.stringify(s)}`, `use one or more of ${SUITES.join(', ')}`);
  for (const f of o.families)
    if (!TASK_FAMILIES.includes(f))
      throw new UsageError(`unknown task family ${JSON.stringify(f)}`, `use one or more of ${TASK_FAMILIES.join(', ')}`);
  const w = o.workers ?? 1;
  if (!(Number.isInteger(w) && w >= 1 && w <= 64)) throw new UsageError(`--workers must be a whole number in 1…64, got ${w}`);
}

export interface RunManifest {
  schema: typeof SIM_EVAL_SCHEMA;
  policy: Record<string, unknown>;
  suites: Suite[];
  families: TaskFamily[];
  episodes: number;
  seed: number;
  limits: EpisodeLimits;
  timing?: EpisodeTiming | null;
}

const JOURNAL = (w: number) => `episodes.${w}.jsonl`;

/** Every finished episode in the run folder's journals, by key. */
export function readEpisodeJournals(out: string): Map<string, EpisodeResult> {
  const done = new Map<string, EpisodeResult>();
  if (!existsSync(out)) return done;
  for (const f of readdirSync(out)
    .filter((n) => /^episodes\.\d+\.jsonl$/.test(n))
    .sort()) {
    for (const r of readJsonl<EpisodeResult>(join(out, f))) if (r && typeof r.key === 'string') done.set(r.key, r);
  }
  return done;
}

/** Runs the episodes of `keys` not yet journaled, appending to journal `w`. */
export async function runShard(
  policy: Policy,
  manifest: RunManifest,
  out: string,
  w: number,
  keys: readonly string[],
  video: boolean,
  onEpisode?: (r: EpisodeResult) => void,
): Promise<void> {
  const done = readEpisodeJournals(out);
  const journal = new Journal(join(out, JOURNAL(w)));
  try {
    for (const key of keys) {
      if (done.has(key)) continue;
      const [base, mode] = key.split('#');
      const [suite, index] = base!.split('/') as [Suite, string];
      const spec = episodeSpec(suite, manifest.seed, Number(index), manifest.families);
      const traces: CycleTrace[] = [];
      const frames: RgbImage[] | undefined = video ? [] : undefined;
      const timing = manifest.timing ? { delayMs: manifest.timing.delayMs, async: mode === 'async' } : undefined;
      const r = await runEpisode(policy, spec, {
        limits: manifest.limits,
        onCycle: (t) => traces.push(t),
        video: frames,
        ...(timing ? { timing } : {}),
      });
      const name = key.replace('/', '-').replace('#', '-');
      writeFileAtomic(join(out, 'traces', `${name}.jsonl`), traces.map((t) => JSON.stringify(t)).join('\n') + '\n');
      if (frames) writeFileAtomic(join(out, 'videos', `${name}.gif`), encodeGif(frames));
      crashPoint('eval-sim:before-journal');
      journal.append(r);
      crashPoint('eval-sim:after-journal');
      onEpisode?.(r);
    }
  } finally {
    journal.close();
  }
}

/** Evaluates a policy over suites × episodes; resumes a run folder that holds the same run. */
export async function evaluateSim(o: SimEvalOptions): Promise<SimEvalResults> {
  checkOptions(o);
  const limits = o.limits ?? EPISODE_DEFAULTS;
  if (o.timing && !(Number.isFinite(o.timing.delayMs) && o.timing.delayMs >= 0 && o.timing.delayMs <= 600_000))
    throw new UsageError(`--delay-ms must be a number of milliseconds in 0…600000, got ${o.timing.delayMs}`);
  const manifest: RunManifest = {
    schema: SIM_EVAL_SCHEMA,
    policy: o.policyInfo,
    suites: [...o.suites],
    families: [...o.families],
    episodes: o.episodes,
    seed: o.seed,
    limits,
    timing: o.timing ?? null,
  };
  // The policy is built before anything is written, so a bad model, adapter or verifier leaves no
  // run folder behind (worker processes build their own).
  const policy = await o.policy();
  mkdirSync(o.out, { recursive: true });
  const manifestPath = join(o.out, 'run.json');
  if (existsSync(manifestPath)) {
    const old = readJsonl<RunManifest>(manifestPath)[0];
    if (JSON.stringify(old) !== JSON.stringify(manifest))
      throw new VlmError('E_EVAL_EXISTS', `${o.out} holds another evaluation (other policy, suites, families, episodes, seed or limits)`, {
        file: manifestPath,
        fix: 'choose a new --out folder, or repeat the original command to resume it',
      });
  } else writeFileAtomic(manifestPath, `${JSON.stringify(manifest)}\n`);
  const keys = o.suites.flatMap((s) =>
    Array.from({ length: o.episodes }, (_, i) => (o.timing?.async ? [`${s}/${i}`, `${s}/${i}#async`] : [`${s}/${i}`])).flat(),
  );
  const before = readEpisodeJournals(o.out);
  const progress = new Progress({ label: 'eval sim', total: keys.length, unit: 'episodes', silent: o.silent });
  progress.resumedAt([...before.keys()].filter((k) => keys.includes(k)).length);
  let successes = [...before.values()].filter((r) => r.success).length;
  let finished = before.size;
  const tick = (r: EpisodeResult) => {
    finished++;
    if (r.success) successes++;
    progress.tick(1, `success ${successes}/${finished}`);
  };
  const workers = o.workers ?? 1;
  try {
    if (workers === 1) await runShard(policy, manifest, o.out, 0, keys, Boolean(o.video), tick);
    else {
      if (!o.policySpec) throw new UsageError('worker processes need the policy as a PolicySpec (policySpec)');
      await Promise.all(
        Array.from({ length: workers }, (_, w) =>
          runWorker(
            o,
            manifest,
            w,
            keys.filter((_, i) => i % workers === w),
            tick,
          ),
        ),
      );
    }
  } finally {
    await policy.close?.();
  }
  progress.finish();
  const all = readEpisodeJournals(o.out);
  const found = keys.map((k) => all.get(k)).filter((r): r is EpisodeResult => r !== undefined);
  const results = found.filter((r) => !r.key.endsWith('#async'));
  if (found.length !== keys.length)
    throw new VlmError('E_EVAL_INCOMPLETE', `${keys.length - found.length} of ${keys.length} episodes did not finish`, {
      file: o.out,
      fix: 'repeat the command to resume the missing episodes',
    });
  const overall = summarise(results);
  const suites: SimEvalResults['suites'] = {};
  for (const s of o.suites) {
    const rs = results.filter((r) => r.suite === s);
    const families = Object.fromEntries(
      o.families.map((f) => [f, summarise(rs.filter((r) => r.family === f))]).filter(([, g]) => (g as GroupSummary).episodes > 0),
    );
    suites[s] = { ...summarise(rs), families };
  }
  const timing = o.timing?.async
    ? { delay_ms: o.timing.delayMs, sync: overall, async: summarise(found.filter((r) => r.key.endsWith('#async'))) }
    : null;
  const out: SimEvalResults = {
    schema: SIM_EVAL_SCHEMA,
    policy: o.policyInfo,
    seed: o.seed,
    episodes_per_suite: o.episodes,
    families: [...o.families],
    timing,
    success_rate: overall.success_rate,
    interval: overall.interval,
    overall,
    suites,
  };
  writeFileAtomic(join(o.out, 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

// The worker beside this module: sim-worker.ts in the sources, sim-worker.js when compiled (dist/).
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './sim-worker.ts' : './sim-worker.js', import.meta.url));

function runWorker(o: SimEvalOptions, manifest: RunManifest, w: number, keys: string[], tick: (r: EpisodeResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', WORKER, JSON.stringify({ out: o.out, worker: w, keys, video: Boolean(o.video), manifest, spec: o.policySpec })],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, VLM2VLA_THREADS: '1' },
      },
    );
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          tick(JSON.parse(line) as EpisodeResult);
        } catch {
          /* a worker's stray output line is not a result */
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new VlmError('E_EVAL_WORKER', `evaluation worker ${w} exited with code ${code}`, {
              fix: 'see its error above; repeat the command to resume',
            }),
          ),
    );
  });
}
