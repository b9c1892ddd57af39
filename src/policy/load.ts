// Building a policy from the command line's words: a model folder and adapter (the action style and
// the reasoning mode are read from the training run's dataset, so a -NR or discrete-token run is
// driven the way it was trained), a remote OpenAI-compatible back-end, and the verifier.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getCodec, ACTION_MARKERS } from '../actions/index.ts';
import { FormatError, UsageError } from '../errors/index.ts';
import { CHUNK_FORMATS } from '../prompts/index.ts';
import { openSftDataset } from '../sft/dataset.ts';
import { isDigitTokens, loadActionTokens } from '../actions/action-tokens.ts';
import type { MarkerTokens } from '../actions/action-tokens.ts';
import { loadChatModel } from '../models/index.ts';
import type { ChatModelFiles } from '../models/index.ts';
import type { ActionCodec } from '../actions/index.ts';
import { EngineBackend, OpenAIBackend } from './backend.ts';
import type { GrammarMode, ModelBackend } from './backend.ts';
import { GREEDY_SAMPLING, HIERARCHICAL_DEFAULTS, HierarchicalPolicy, PAPER_SAMPLING } from './hierarchical.ts';
import type { StageSampling } from './hierarchical.ts';
import { BudgetVerifier, ModelVerifier, OracleVerifier } from './verifiers.ts';
import type { Verifier } from './verifiers.ts';
import type { Policy, PolicyFactory } from './types.ts';

/** How a model was trained to act, from its run folder (or the defaults for a bare adapter). */
export interface ActingStyle {
  actionStyle: string;
  reasoning: 'full' | 'none';
  /** Discrete-token (`tokens`) and -AT (`at`) runs: which vocabulary ids stand for the 256 bins or
   *  the ten digits. */
  actionTokens: MarkerTokens | null;
  /** Where the style was read from (null: defaults). */
  source: string | null;
}

function readJson(path: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError('E_RUN_INFO', `${path} is not a valid JSON object: ${(cause as Error).message}`, {
      file: path,
      fix: 'restore it from the training run, or pass --action-style and --reasoning explicitly',
    });
  }
}

/** The acting style of a run folder (RUN/run.json → its SFT dataset's build_info.json), of a full
 *  fine-tune's RUN/model, or the defaults (`list`, `full`). */
export function actingStyle(adapterOrModel: string | null): ActingStyle {
  const candidates = adapterOrModel ? [adapterOrModel, dirname(adapterOrModel)] : [];
  for (const dir of candidates) {
    const runFile = join(dir, 'run.json');
    if (!existsSync(runFile)) continue;
    const run = readJson(runFile);
    const tokens = loadActionTokens(dir);
    let reasoning: 'full' | 'none' = 'full';
    let actionStyle = run.actionStyle === 'tokens' || run.actionStyle === 'at' ? run.actionStyle : 'list';
    const data = typeof run.data === 'string' ? run.data : null;
    const info = data && existsSync(join(data, 'build_info.json')) ? openSftDataset(data).info : null;
    if (info) {
      if (info.options?.reasoning === 'none') reasoning = 'none';
      if (typeof info.options?.actionStyle === 'string') actionStyle = info.options.actionStyle;
    }
    const marked = actionStyle === 'tokens' || actionStyle === 'at';
    if (marked && (!tokens || isDigitTokens(tokens) !== (actionStyle === 'at')))
      throw new FormatError(
        'E_RUN_INFO',
        `${dir} was trained on ${actionStyle === 'at' ? 'digit' : 'discrete action'} tokens but has no matching action_tokens.json`,
        { file: join(dir, 'action_tokens.json'), fix: 'restore it from the training run' },
      );
    return { actionStyle, reasoning, actionTokens: marked ? tokens : null, source: runFile };
  }
  return { actionStyle: 'list', reasoning: 'full', actionTokens: null, source: null };
}

export interface LoadPolicyOptions {
  /** Model folder (engine back-end), or the model name on the remote server. */
  model: string;
  adapter?: string | null;
  /** An OpenAI-compatible server instead of the embedded engine. */
  baseUrl?: string | null;
  apiKey?: string;
  grammar?: GrammarMode;
  greedy?: boolean;
  seed?: number;
  /** `model` (default), `oracle`, `budget:K`, or `openai` (an OpenAI-compatible VLM: the
   *  `verifierEndpoint`, else the policy's own remote back-end). */
  verifier?: string;
  verifierEndpoint?: { baseUrl: string; model: string; apiKey: string } | null;
  /** Override what the run folder says. */
  actionStyle?: string;
  reasoning?: 'full' | 'none';
  /** Subtasks sampled at T 1.0 (the paper's out-of-distribution setting) instead of 0.5. */
  outOfDistribution?: boolean;
  constrained?: boolean;
}

export function parseVerifier(
  spec: string,
  backend: ModelBackend,
  sampling: StageSampling,
  endpoint: LoadPolicyOptions['verifierEndpoint'] = null,
): Verifier {
  if (spec === 'model') return new ModelVerifier(backend, spec, sampling.verify);
  if (spec === 'openai') {
    if (endpoint)
      return new ModelVerifier(new OpenAIBackend({ ...endpoint, grammar: 'none' }), `openai:${endpoint.model}`, sampling.verify);
    if (backend.name !== 'openai')
      throw new UsageError(
        '--verifier openai needs an OpenAI-compatible VLM',
        'add --verifier-base-url URL --verifier-model NAME (and --verifier-api-key-env VAR), or run the policy itself with --base-url',
      );
    return new ModelVerifier(backend, spec, sampling.verify);
  }
  if (spec === 'oracle') return new OracleVerifier();
  const m = /^budget:(\d{1,4})$/.exec(spec);
  if (m) return new BudgetVerifier(Number(m[1]));
  throw new UsageError(
    `unknown verifier ${JSON.stringify(spec)}`,
    'use model, oracle, budget:K (advance after K cycles) or, with --base-url, openai',
  );
}

/** A HierarchicalPolicy over the embedded engine (model folder + adapter) or a remote server. */
export async function loadModelPolicy(opts: LoadPolicyOptions): Promise<Policy> {
  return buildModelPolicy(opts);
}

export function buildModelPolicy(opts: LoadPolicyOptions): HierarchicalPolicy {
  return modelPolicyMaker(opts, null)();
}

/** Independent HierarchicalPolicies over one model: the weights, tokenizer and template are loaded
 *  once (or given as `files`), and each policy has its own back-end (KV cache), verifier and episode
 *  — what `vlm2vla serve` gives each client session. */
export function modelPolicyFactory(opts: LoadPolicyOptions, files: ChatModelFiles | null = null): PolicyFactory {
  const make = modelPolicyMaker(opts, files);
  return { metadata: make().metadata, create: make };
}

/** Reads the run's acting style and loads the model once; the function it returns builds a policy. */
function modelPolicyMaker(opts: LoadPolicyOptions, files: ChatModelFiles | null): () => HierarchicalPolicy {
  const style = actingStyle(opts.adapter ?? (opts.baseUrl ? null : opts.model));
  const actionStyle = opts.actionStyle ?? style.actionStyle;
  const reasoning = opts.reasoning ?? style.reasoning;
  if (opts.baseUrl && (actionStyle === 'tokens' || actionStyle === 'at'))
    throw new UsageError(
      `a remote back-end cannot drive a model of the ${actionStyle} style (its action tokens are vocabulary ids)`,
      'run it on the embedded engine',
    );
  const loaded = opts.baseUrl ? null : (files ?? loadChatModel(opts.model, opts.adapter));
  const backend = (): ModelBackend => {
    if (!loaded)
      return new OpenAIBackend({ baseUrl: opts.baseUrl!, model: opts.model, apiKey: opts.apiKey ?? '', grammar: opts.grammar ?? 'none' });
    const engine = new EngineBackend(loaded.model, loaded.tokenizer, loaded.template, { model: opts.model, adapter: opts.adapter ?? null });
    if (style.actionTokens && (actionStyle === 'tokens' || actionStyle === 'at')) engine.useActionTokens(style.actionTokens);
    return engine;
  };
  let codec: ActionCodec;
  if (actionStyle === 'tokens') {
    const t = style.actionTokens;
    if (!t || isDigitTokens(t))
      throw new UsageError(
        "the tokens action style needs the run's action_tokens.json (the bins' ranges and ids)",
        'pass --adapter with the training run folder',
      );
    codec = getCodec('tokens', { tokens: { low: t.low, high: t.high, tokens: ACTION_MARKERS } });
  } else codec = getCodec(actionStyle);
  const base = opts.greedy ? GREEDY_SAMPLING : PAPER_SAMPLING;
  const sampling: StageSampling =
    opts.outOfDistribution && !opts.greedy ? { ...base, subtasks: { ...base.subtasks, temperature: 1 } } : base;
  return () => {
    const b = backend();
    const verifier = parseVerifier(
      opts.verifier ?? (reasoning === 'none' ? 'budget:1' : 'model'),
      b,
      sampling,
      opts.verifierEndpoint ?? null,
    );
    return new HierarchicalPolicy({
      ...HIERARCHICAL_DEFAULTS,
      backend: b,
      codec,
      formatHint: CHUNK_FORMATS[actionStyle] ?? CHUNK_FORMATS.list!,
      reasoning,
      verifier,
      sampling,
      seed: opts.seed ?? 0,
      constrained: opts.constrained ?? true,
      describe: { greedy: Boolean(opts.greedy), styleFrom: style.source },
    });
  };
}
