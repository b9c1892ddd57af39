// `vlm2vla eval sim`: closed-loop success of a policy (the scripted expert, random steps, or a model
// with its adapter, on the embedded engine or a remote OpenAI-compatible server) over the
// evaluation suites of the tabletop world, with a table, results.json, per-cycle traces and videos.
import { defineCommand } from '../define.ts';
import type { FlagDef, FlagValues } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { evaluateSim, EPISODE_DEFAULTS } from '../../eval/closed-loop.ts';
import type { GroupSummary, SimEvalResults } from '../../eval/closed-loop.ts';
import { POLICY_KINDS } from '../../policy/create.ts';
import { createEvalPolicy } from '../../eval/policies.ts';
import type { EvalPolicySpec } from '../../eval/policies.ts';
import type { PolicySpec } from '../../policy/create.ts';
import { SUITES, TASK_FAMILIES } from '../../sim/index.ts';
import type { Suite, TaskFamily } from '../../sim/index.ts';

/** The policy flags `eval sim` and `act` share (act without `policy`: it always runs a model). */
export const POLICY_FLAGS = {
  policy: {
    type: 'string',
    default: 'model',
    choices: POLICY_KINDS,
    help: 'which policy acts: expert (scripted, reads the simulator), random, or model',
  },
  model: { type: 'string', meta: 'DIR', help: 'model folder (or, with --base-url, the model name on the server)' },
  adapter: {
    type: 'string',
    meta: 'RUN',
    help: 'a `vlm2vla train` run folder or a PEFT adapter folder; the run tells the action style and reasoning mode',
  },
  'base-url': {
    type: 'string',
    meta: 'URL',
    help: 'an OpenAI-compatible server (vLLM, llama.cpp server, Gemini) that runs the model instead of the embedded engine',
  },
  'api-key-env': { type: 'string', meta: 'VAR', help: "environment variable holding the server's API key" },
  grammar: {
    type: 'string',
    default: 'none',
    choices: ['none', 'gbnf', 'regex'],
    help: "how the remote server takes each stage's grammar: gbnf (llama.cpp), regex (vLLM) or none (parse strictly and retry)",
  },
  verifier: {
    type: 'string',
    default: 'model',
    help: "who decides a subtask is done: model (the policy's own model), oracle (the simulator's truth), budget:K (after K cycles), openai (an OpenAI-compatible VLM: --verifier-base-url, or else the --base-url model)",
  },
  'verifier-base-url': {
    type: 'string',
    meta: 'URL',
    help: 'with --verifier openai: the OpenAI-compatible VLM that verifies (e.g. Gemini), whatever runs the policy',
  },
  'verifier-model': { type: 'string', meta: 'NAME', help: 'with --verifier-base-url: the model name there' },
  'verifier-api-key-env': {
    type: 'string',
    meta: 'VAR',
    help: "with --verifier-base-url: environment variable holding that server's API key",
  },
  greedy: {
    type: 'boolean',
    help: 'greedy decoding in every stage (reproducible)',
    defaultHelp: "the paper's sampling (plan T 0.1, chunk T 0.5, top-p 0.95)",
  },
  unconstrained: { type: 'boolean', help: 'decode freely and only parse strictly', defaultHelp: 'every stage under its grammar' },
  'action-style': { type: 'string', choices: ['list', 'phrase', 'rot', 'tokens', 'at'], help: "override the run's action style" },
  reasoning: { type: 'string', choices: ['full', 'none'], help: "override the run's reasoning mode (none = the -NR ablation)" },
  seed: { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, help: 'seed of the episodes and of sampling' },
} as const satisfies Record<string, FlagDef>;

export type PolicyFlags = FlagValues<typeof POLICY_FLAGS>;

export function policySpecFrom(f: PolicyFlags, outOfDistribution = false): PolicySpec {
  const kind = f.policy;
  const seed = f.seed;
  const str = (v: string | undefined) => (v !== undefined && v !== '' ? v : undefined);
  if (kind !== 'model') {
    for (const name of ['model', 'adapter', 'base-url'] as const)
      if (str(f[name])) throw new UsageError(`--${name} is only for --policy model`, `drop --${name}, or use --policy model`);
    return { kind, seed };
  }
  const model = str(f.model);
  if (!model) throw new UsageError('--policy model needs --model', 'e.g. --model models/base --adapter runs/vla');
  if (str(f['base-url']) && str(f.adapter))
    throw new UsageError(
      '--adapter is for the embedded engine; a remote server applies its own adapters',
      'drop --adapter, or drop --base-url',
    );
  return {
    kind,
    seed,
    model,
    adapter: str(f.adapter) ?? null,
    baseUrl: str(f['base-url']) ?? null,
    apiKeyEnv: str(f['api-key-env']) ?? null,
    grammar: f.grammar,
    greedy: f.greedy,
    verifier: f.verifier,
    ...verifierEndpoint(f),
    ...(f['action-style'] ? { actionStyle: f['action-style'] } : {}),
    ...(f.reasoning ? { reasoning: f.reasoning } : {}),
    outOfDistribution,
    constrained: !f.unconstrained,
  };
}

/** A separate OpenAI-compatible verifier (`--verifier openai --verifier-base-url …`). */
function verifierEndpoint(f: PolicyFlags): Pick<PolicySpec, 'verifierBaseUrl' | 'verifierModel' | 'verifierApiKeyEnv'> {
  const url = f['verifier-base-url'];
  if (url === undefined || url === '') {
    for (const name of ['verifier-model', 'verifier-api-key-env'] as const)
      if (f[name] !== undefined) throw new UsageError(`--${name} goes with --verifier-base-url`, 'add --verifier-base-url, or drop it');
    return {};
  }
  if (f.verifier !== 'openai') throw new UsageError('--verifier-base-url is for --verifier openai', 'add --verifier openai');
  if (!f['verifier-model'])
    throw new UsageError(
      '--verifier-base-url needs --verifier-model (the model name on that server)',
      'e.g. --verifier-model gemini-2.5-flash',
    );
  return { verifierBaseUrl: url, verifierModel: f['verifier-model'], verifierApiKeyEnv: f['verifier-api-key-env'] ?? null };
}

function list<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`--${flag} is empty`, `use one or more of ${allowed.join(', ')}`);
  for (const s of items)
    if (!allowed.includes(s as T))
      throw new UsageError(`--${flag}: unknown ${JSON.stringify(s)}`, `use one or more of ${allowed.join(', ')} (comma-separated)`);
  return [...new Set(items)] as T[];
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const ms = (v: number | null) => (v === null ? '-' : v.toFixed(0));

export function simTable(r: SimEvalResults): string {
  const head =
    '| suite | family | episodes | success | 95% interval | steps | cycles | malformed/cycle | verifier agrees | cycle ms p50/p95 |\n|---|---|---:|---:|---|---:|---:|---:|---:|---|';
  const rows: string[] = [];
  for (const [suite, s] of Object.entries(r.suites)) {
    const line = (fam: string, g: GroupSummary) =>
      `| ${suite} | ${fam} | ${g.episodes} | ${pct(g.success_rate)} | ${pct(g.interval[0])}–${pct(g.interval[1])} | ${g.mean_steps.toFixed(1)} | ${g.mean_cycles.toFixed(1)} | ${g.malformed_per_cycle.toFixed(3)} | ${g.verifier.agreement === null ? '-' : pct(g.verifier.agreement)} | ${ms(g.cycle_ms.p50)}/${ms(g.cycle_ms.p95)} |`;
    for (const [fam, g] of Object.entries(s.families)) rows.push(line(fam, g));
    rows.push(line('**all**', s));
  }
  const stages = Object.entries(r.overall.stage_ms)
    .map(([k, v]) => `${k} ${ms(v.p50)}/${ms(v.p95)} ms`)
    .join(', ');
  return `${head}\n${rows.join('\n')}\n\noverall: ${pct(r.success_rate)} (${pct(r.interval[0])}–${pct(r.interval[1])}) over ${r.overall.episodes} episodes${stages ? `; per stage p50/p95: ${stages}` : ''}`;
}

export const evalSimCommand = defineCommand({
  name: 'eval sim',
  summary: 'closed-loop task success of a policy in the tabletop world, per suite and task family',
  description:
    'Runs N episodes per suite; episode k of a suite is fixed by (suite, seed, k), so two policies meet\n' +
    'the same scenes. Each cycle the policy sees the camera frame, the gripper state and the instruction;\n' +
    'its steps (through the safety envelope) are executed; an episode ends on success, when the policy\n' +
    'is done, or at --max-steps / --max-cycles. Prints a table (success with a 95% Wilson interval,\n' +
    'steps, cycles, malformed outputs per cycle, verifier agreement with the simulator, cycle time),\n' +
    'writes OUT/results.json, OUT/traces/<suite>-<k>.jsonl (every cycle: texts, actions, timings) and\n' +
    'with --video OUT/videos/<suite>-<k>.gif. Journaled per episode: rerun the same command to resume.\n' +
    '--server evaluates a served policy (vlm2vla serve, or any openpi-protocol server) the same way.\n' +
    '--delay-ms models latency in simulated time (5 Hz steps; each call takes its measured time plus\n' +
    'the delay); --async also runs every episode while computing the next chunk during the current\n' +
    'one, the new chunk replacing what is left, and compares success and idle time with the sync loop.',
  flags: {
    ...POLICY_FLAGS,
    suite: { type: 'string', meta: 'SUITES', default: 'in-distribution', help: `comma-separated suites: ${SUITES.join(', ')}` },
    tasks: {
      type: 'string',
      meta: 'FAMILIES',
      default: 'pick,pick-place',
      help: `comma-separated task families, cycled through the episodes: ${TASK_FAMILIES.join(', ')}`,
    },
    episodes: { type: 'number', integer: true, min: 1, max: 100_000, default: 20, help: 'episodes per suite' },
    out: { type: 'string', required: true, meta: 'DIR', help: 'run folder (results.json, traces/, videos/, journals)' },
    'max-steps': {
      type: 'number',
      integer: true,
      min: 1,
      max: 10_000,
      default: EPISODE_DEFAULTS.maxSteps,
      help: 'simulator steps per episode',
    },
    'max-cycles': {
      type: 'number',
      integer: true,
      min: 1,
      max: 10_000,
      default: EPISODE_DEFAULTS.maxCycles,
      help: 'policy cycles per episode',
    },
    'image-size': {
      type: 'number',
      integer: true,
      min: 16,
      max: 1024,
      default: EPISODE_DEFAULTS.imageSize,
      help: 'camera frame size (as the training data was collected)',
    },
    video: { type: 'boolean', help: 'write a GIF per episode with the subtask, plan and chunk drawn on the frames' },
    workers: {
      type: 'number',
      integer: true,
      min: 1,
      max: 64,
      default: 1,
      help: 'worker processes (each with its own engine and one kernel thread); results are the same as with 1',
    },
    server: {
      type: 'string',
      meta: 'ws://HOST:PORT',
      help: 'evaluate the policy served at this openpi-protocol WebSocket URL (vlm2vla serve, openpi) instead of --policy',
    },
    'delay-ms': {
      type: 'number',
      min: 0,
      meta: 'MS',
      help: "model the policy's latency in simulated time: each call takes its measured time plus this delay, and the robot's idle time is reported",
    },
    async: {
      type: 'boolean',
      help: 'also run every episode with asynchronous execution (the next chunk is computed while the current one runs) and compare success and idle time with the synchronous loop',
    },
  },
  async run(f) {
    const out = f.out;
    const suites = list<Suite>(f.suite, SUITES, 'suite');
    const families = list<TaskFamily>(f.tasks, TASK_FAMILIES, 'tasks');
    const limits = { maxSteps: f['max-steps'], maxCycles: f['max-cycles'], imageSize: f['image-size'] };
    const server = f.server !== undefined && f.server !== '' ? f.server : null;
    if (server && f.policy !== 'model')
      throw new UsageError(
        '--server evaluates the served policy; drop --policy',
        'e.g. vlm2vla eval sim --server ws://127.0.0.1:8000 --out runs/eval-served',
      );
    if (server && (f.model || f.adapter))
      throw new UsageError(
        "--model and --adapter are the server's business with --server",
        'drop them; start the server with them instead',
      );
    const delay = f['delay-ms'];
    if (f.async && delay === undefined)
      throw new UsageError('--async needs --delay-ms (the latency whose cost it hides)', 'e.g. --async --delay-ms 500');
    const spec: EvalPolicySpec = server
      ? { kind: 'remote', seed: f.seed, server, apiKeyEnv: f['api-key-env'] ?? null }
      : policySpecFrom(
          f,
          suites.some((s) => s !== 'in-distribution'),
        );
    const results = await evaluateSim({
      policy: () => createEvalPolicy(spec),
      ...(delay !== undefined ? { timing: { delayMs: delay, async: f.async } } : {}),
      policyInfo: { ...spec },
      policySpec: spec,
      suites,
      families,
      episodes: f.episodes,
      seed: spec.seed,
      out,
      limits,
      video: f.video,
      workers: f.workers,
    });
    console.log(simTable(results));
    if (results.timing) {
      const t = results.timing;
      const line = (name: string, g: GroupSummary) =>
        `${name}: success ${pct(g.success_rate)} (${pct(g.interval[0])}–${pct(g.interval[1])}), robot idle ${g.idle_s_per_episode.toFixed(1)} s per episode, ${g.mean_steps.toFixed(1)} steps`;
      console.log(`\nwith a ${t.delay_ms} ms delay per call:\n  ${line('synchronous ', t.sync)}\n  ${line('asynchronous', t.async)}`);
    } else if (delay !== undefined)
      console.log(`robot idle ${results.overall.idle_s_per_episode.toFixed(1)} s per episode (a ${delay} ms delay per call)`);
    console.log(`wrote ${out}/results.json`);
    return 0;
  },
});
