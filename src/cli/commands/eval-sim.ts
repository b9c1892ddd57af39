// `vlm2vla eval sim`: closed-loop success of a policy (the scripted expert, random steps, or a model
// with its adapter, on the embedded engine or a remote OpenAI-compatible server) over the
// evaluation suites of the tabletop world, with a table, results.json, per-cycle traces and videos.
import type { Command } from '../command.ts';
import type { ParsedArgs } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { evaluateSim, EPISODE_DEFAULTS } from '../../eval/closed-loop.ts';
import type { GroupSummary, SimEvalResults } from '../../eval/closed-loop.ts';
import { POLICY_KINDS } from '../../policy/create.ts';
import { createEvalPolicy } from '../../eval/policies.ts';
import type { EvalPolicySpec } from '../../eval/policies.ts';
import type { PolicySpec } from '../../policy/create.ts';
import { SUITES, TASK_FAMILIES } from '../../sim/index.ts';
import type { Suite, TaskFamily } from '../../sim/index.ts';

/** The policy flags `eval sim`, `act` and `serve` share. */
export const POLICY_FLAGS = [
  { name: 'policy', type: 'string', help: 'which policy acts: expert (scripted, reads the simulator), random, or model', default: 'model', choices: [...POLICY_KINDS] },
  { name: 'model', type: 'string', help: 'model folder (or, with --base-url, the model name on the server)' },
  { name: 'adapter', type: 'string', help: 'a `vlm2vla train` run folder or a PEFT adapter folder; the run tells the action style and reasoning mode' },
  { name: 'base-url', type: 'string', help: 'an OpenAI-compatible server (vLLM, llama.cpp server, Gemini) that runs the model instead of the embedded engine' },
  { name: 'api-key-env', type: 'string', help: 'environment variable holding the server\'s API key' },
  { name: 'grammar', type: 'string', help: 'how the remote server takes each stage\'s grammar: gbnf (llama.cpp), regex (vLLM) or none (parse strictly and retry)', default: 'none', choices: ['none', 'gbnf', 'regex'] },
  { name: 'verifier', type: 'string', help: 'who decides a subtask is done: model (the policy\'s own model), oracle (the simulator\'s truth), budget:K (after K cycles), openai (the --base-url model)', default: 'model' },
  { name: 'greedy', type: 'boolean', help: 'greedy decoding in every stage (reproducible); default: the paper\'s sampling (plan T 0.1, chunk T 0.5, top-p 0.95)', default: false },
  { name: 'unconstrained', type: 'boolean', help: 'decode freely and only parse strictly (default: every stage under its grammar)', default: false },
  { name: 'action-style', type: 'string', help: 'override the run\'s action style', choices: ['list', 'phrase', 'rot', 'tokens'] },
  { name: 'reasoning', type: 'string', help: 'override the run\'s reasoning mode (none = the -NR ablation)', choices: ['full', 'none'] },
  { name: 'seed', type: 'number', help: 'seed of the episodes and of sampling', default: 0 },
] as const;

export function policySpecFrom(args: ParsedArgs, outOfDistribution = false): PolicySpec {
  const kind = args.flags.policy as PolicySpec['kind'];
  const seed = args.flags.seed as number;
  if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative whole number, got ${seed}`);
  const str = (name: string) => (typeof args.flags[name] === 'string' && args.flags[name] !== '' ? (args.flags[name] as string) : undefined);
  if (kind !== 'model') {
    for (const f of ['model', 'adapter', 'base-url']) if (str(f)) throw new UsageError(`--${f} is only for --policy model`, `drop --${f}, or use --policy model`);
    return { kind, seed };
  }
  const model = str('model');
  if (!model) throw new UsageError('--policy model needs --model', 'e.g. --model models/base --adapter runs/vla');
  if (str('base-url') && str('adapter')) throw new UsageError('--adapter is for the embedded engine; a remote server applies its own adapters', 'drop --adapter, or drop --base-url');
  return {
    kind,
    seed,
    model,
    adapter: str('adapter') ?? null,
    baseUrl: str('base-url') ?? null,
    apiKeyEnv: str('api-key-env') ?? null,
    grammar: args.flags.grammar as PolicySpec['grammar'],
    greedy: Boolean(args.flags.greedy),
    verifier: args.flags.verifier as string,
    ...(str('action-style') ? { actionStyle: str('action-style') } : {}),
    ...(str('reasoning') ? { reasoning: str('reasoning') as 'full' | 'none' } : {}),
    outOfDistribution,
    constrained: !args.flags.unconstrained,
  };
}

function list<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`--${flag} is empty`, `use one or more of ${allowed.join(', ')}`);
  for (const s of items) if (!allowed.includes(s as T)) throw new UsageError(`--${flag}: unknown ${JSON.stringify(s)}`, `use one or more of ${allowed.join(', ')} (comma-separated)`);
  return [...new Set(items)] as T[];
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const ms = (v: number | null) => (v === null ? '-' : v.toFixed(0));

export function simTable(r: SimEvalResults): string {
  const head = '| suite | family | episodes | success | 95% interval | steps | cycles | malformed/cycle | verifier agrees | cycle ms p50/p95 |\n|---|---|---:|---:|---|---:|---:|---:|---:|---|';
  const rows: string[] = [];
  for (const [suite, s] of Object.entries(r.suites)) {
    const line = (fam: string, g: GroupSummary) => `| ${suite} | ${fam} | ${g.episodes} | ${pct(g.success_rate)} | ${pct(g.interval[0])}–${pct(g.interval[1])} | ${g.mean_steps.toFixed(1)} | ${g.mean_cycles.toFixed(1)} | ${g.malformed_per_cycle.toFixed(3)} | ${g.verifier.agreement === null ? '-' : pct(g.verifier.agreement)} | ${ms(g.cycle_ms.p50)}/${ms(g.cycle_ms.p95)} |`;
    for (const [fam, g] of Object.entries(s.families)) rows.push(line(fam, g));
    rows.push(line('**all**', s));
  }
  const stages = Object.entries(r.overall.stage_ms).map(([k, v]) => `${k} ${ms(v.p50)}/${ms(v.p95)} ms`).join(', ');
  return `${head}\n${rows.join('\n')}\n\noverall: ${pct(r.success_rate)} (${pct(r.interval[0])}–${pct(r.interval[1])}) over ${r.overall.episodes} episodes${stages ? `; per stage p50/p95: ${stages}` : ''}`;
}

export const evalSimCommand: Command = {
  name: 'eval sim',
  summary: 'closed-loop task success of a policy in the tabletop world, per suite and task family',
  usage: '--policy expert|random|model [--model DIR] [--adapter RUN] | --server ws://HOST:PORT  --suite in-distribution,multilingual,unseen-objects,semantic --episodes N --seed S --out DIR [--video] [--workers N] [--delay-ms MS [--async]]',
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
  flags: [
    ...POLICY_FLAGS,
    { name: 'suite', type: 'string', help: `comma-separated suites: ${SUITES.join(', ')}`, default: 'in-distribution' },
    { name: 'tasks', type: 'string', help: `comma-separated task families, cycled through the episodes: ${TASK_FAMILIES.join(', ')}`, default: 'pick,pick-place' },
    { name: 'episodes', type: 'number', help: 'episodes per suite', default: 20 },
    { name: 'out', type: 'string', help: 'run folder (results.json, traces/, videos/, journals)' },
    { name: 'max-steps', type: 'number', help: 'simulator steps per episode', default: EPISODE_DEFAULTS.maxSteps },
    { name: 'max-cycles', type: 'number', help: 'policy cycles per episode', default: EPISODE_DEFAULTS.maxCycles },
    { name: 'image-size', type: 'number', help: 'camera frame size (as the training data was collected)', default: EPISODE_DEFAULTS.imageSize },
    { name: 'video', type: 'boolean', help: 'write a GIF per episode with the subtask, plan and chunk drawn on the frames', default: false },
    { name: 'workers', type: 'number', help: 'worker processes (each with its own engine and one kernel thread); results are the same as with 1', default: 1 },
    { name: 'server', type: 'string', help: 'evaluate the policy served at this openpi-protocol WebSocket URL (vlm2vla serve, openpi) instead of --policy' },
    { name: 'delay-ms', type: 'number', help: 'model the policy\'s latency in simulated time: each call takes its measured time plus this delay, and the robot\'s idle time is reported' },
    { name: 'async', type: 'boolean', help: 'also run every episode with asynchronous execution (the next chunk is computed while the current one runs) and compare success and idle time with the synchronous loop', default: false },
  ],
  async run(args) {
    const out = typeof args.flags.out === 'string' && args.flags.out !== '' ? args.flags.out : null;
    if (!out) throw new UsageError('--out is required', 'a folder for results.json, traces and journals');
    const suites = list<Suite>(String(args.flags.suite), SUITES, 'suite');
    const families = list<TaskFamily>(String(args.flags.tasks), TASK_FAMILIES, 'tasks');
    const whole = (name: string, lo: number, hi: number) => {
      const v = args.flags[name] as number;
      if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw new UsageError(`--${name} must be a whole number in ${lo}…${hi}, got ${v}`);
      return v;
    };
    const limits = { maxSteps: whole('max-steps', 1, 10_000), maxCycles: whole('max-cycles', 1, 10_000), imageSize: whole('image-size', 16, 1024) };
    const server = typeof args.flags.server === 'string' && args.flags.server !== '' ? args.flags.server : null;
    if (server && args.flags.policy !== 'model') throw new UsageError('--server evaluates the served policy; drop --policy', 'e.g. vlm2vla eval sim --server ws://127.0.0.1:8000 --out runs/eval-served');
    if (server && (args.flags.model || args.flags.adapter)) throw new UsageError('--model and --adapter are the server\'s business with --server', 'drop them; start the server with them instead');
    const delay = args.flags['delay-ms'] as number | undefined;
    if (args.flags.async && delay === undefined) throw new UsageError('--async needs --delay-ms (the latency whose cost it hides)', 'e.g. --async --delay-ms 500');
    const spec: EvalPolicySpec = server ? { kind: 'remote', seed: args.flags.seed as number, server, apiKeyEnv: typeof args.flags['api-key-env'] === 'string' ? args.flags['api-key-env'] : null } : policySpecFrom(args, suites.some((s) => s !== 'in-distribution'));
    const results = await evaluateSim({
      policy: () => createEvalPolicy(spec),
      ...(delay !== undefined ? { timing: { delayMs: delay, async: Boolean(args.flags.async) } } : {}),
      policyInfo: { ...spec },
      policySpec: spec,
      suites,
      families,
      episodes: whole('episodes', 1, 100_000),
      seed: spec.seed,
      out,
      limits,
      video: Boolean(args.flags.video),
      workers: whole('workers', 1, 64),
    });
    console.log(simTable(results));
    if (results.timing) {
      const t = results.timing;
      const line = (name: string, g: GroupSummary) => `${name}: success ${pct(g.success_rate)} (${pct(g.interval[0])}–${pct(g.interval[1])}), robot idle ${g.idle_s_per_episode.toFixed(1)} s per episode, ${g.mean_steps.toFixed(1)} steps`;
      console.log(`\nwith a ${t.delay_ms} ms delay per call:\n  ${line('synchronous ', t.sync)}\n  ${line('asynchronous', t.async)}`);
    } else if (delay !== undefined) console.log(`robot idle ${results.overall.idle_s_per_episode.toFixed(1)} s per episode (a ${delay} ms delay per call)`);
    console.log(`wrote ${out}/results.json`);
    return 0;
  },
};
