// `vlm2vla annotate`: rewrite every episode of a dataset as the three language levels of VLM2VLA
// (subtasks, motion plans, action chunks), journaled and resumable.
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator, runAnnotationJob, openAiAnnotator, CLIENT_DEFAULTS, ANNOTATIONS_FILE, readAnnotations, auditAnnotations } from '../../annotate/index.ts';
import type { AnnotationRecord } from '../../annotate/index.ts';
import type { Episode } from '../../data/episode.ts';
import { statSync } from 'node:fs';
import { writeFileAtomic, checkOutputDir } from '../../util/index.ts';
import type { Annotator, Usage } from '../../annotate/index.ts';
import { Progress } from '../../util/index.ts';
import { join } from 'node:path';

const ANNOTATORS = ['rules', 'openai'];
/** Most episodes annotated at the same time (API rate limits bind long before this). */
const MAX_CONCURRENCY = 256;

export const annotateCommand: Command = {
  name: 'annotate',
  summary: 'relabel robot episodes into subtasks, motion plans and action chunks (JSONL, resumable)',
  usage: '--in DATA_DIR --out OUT_DIR [--annotator rules] [--max-episodes N]',
  description:
    'Reads an RLDS dataset (Bridge schema: real Bridge V2 shards or `vlm2vla sim collect` output) and\n' +
    `writes OUT_DIR/${ANNOTATIONS_FILE}, one annotated episode per line (schema vlm2vla.annotation/1),\n` +
    'and OUT_DIR/summary.json. Each record is fsynced as it is written; rerunning the same command\n' +
    'skips the episodes already annotated, so an interrupted job continues where it stopped.\n' +
    'Action chunks always come from the recorded trajectory.\n\n' +
    '--annotator openai asks any OpenAI-compatible chat-completions endpoint (Gemini:\n' +
    'https://generativelanguage.googleapis.com/v1beta/openai/, OpenAI, vLLM, llama.cpp server) for segment\n' +
    'boundaries, subtask texts and motion plans from sampled frames and the action log. The API key is\n' +
    'read from the environment variable named by --api-key-env and never written anywhere. Requests are\n' +
    'retried with backoff (429 Retry-After pauses the whole job), limited per minute, and cached by\n' +
    'content hash in OUT_DIR/cache, so reruns cost nothing.',
  flags: [
    { name: 'in', type: 'string', help: 'input dataset folder (RLDS)' },
    { name: 'out', type: 'string', help: 'output folder for annotations.jsonl and summary.json' },
    { name: 'annotator', type: 'string', help: 'annotator', default: 'rules', choices: ANNOTATORS },
    { name: 'base-url', type: 'string', help: 'openai: the API base URL (…/v1)' },
    { name: 'model', type: 'string', help: 'openai: model name' },
    { name: 'api-key-env', type: 'string', help: 'openai: environment variable holding the API key', default: 'OPENAI_API_KEY' },
    { name: 'rpm', type: 'number', help: 'openai: requests per minute', default: CLIENT_DEFAULTS.requestsPerMinute },
    { name: 'tpm', type: 'number', help: 'openai: tokens per minute (estimated from request size)', default: CLIENT_DEFAULTS.tokensPerMinute },
    { name: 'timeout', type: 'number', help: 'openai: seconds per request', default: CLIENT_DEFAULTS.timeoutMs / 1000 },
    { name: 'max-retries', type: 'number', help: 'openai: retries per request', default: CLIENT_DEFAULTS.maxRetries },
    { name: 'frames', type: 'number', help: 'openai: frames sent per episode', default: 4 },
    { name: 'camera', type: 'string', help: 'openai: camera of the frames', default: 'image_0' },
    { name: 'price-in', type: 'number', help: 'openai: USD per 1M prompt tokens (for the cost estimate)', default: 0 },
    { name: 'price-out', type: 'number', help: 'openai: USD per 1M completion tokens', default: 0 },
    { name: 'max-episodes', type: 'number', help: 'annotate at most N new episodes this run' },
    { name: 'concurrency', type: 'number', help: 'episodes annotated at the same time', default: 1 },
  ],
  async run(args) {
    const input = requireString(args, 'in');
    const out = requireString(args, 'out');
    const max = args.flags['max-episodes'] as number | undefined;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new UsageError('--max-episodes must be a positive integer');
    const concurrency = args.flags.concurrency as number;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) throw new UsageError(`--concurrency must be an integer in 1…${MAX_CONCURRENCY}, got ${concurrency}`);
    if (args.flags.annotator === 'rules') {
      for (const name of ['model', 'base-url']) if (args.flags[name] !== undefined) throw new UsageError(`--${name} is for --annotator openai; the rules annotator takes no model`, 'drop it, or add --annotator openai');
    }
    checkOutputDir(out, { what: 'the annotation folder' });
    const ds = openRlds(input);
    let annotator: Annotator = rulesAnnotator;
    let usage: Usage | null = null;
    if (args.flags.annotator === 'openai') {
      const baseUrl = requireString(args, 'base-url');
      const model = requireString(args, 'model');
      const envName = args.flags['api-key-env'] as string;
      const apiKey = process.env[envName];
      if (!apiKey) throw new UsageError(`the environment variable ${envName} is not set`, `export ${envName}=… (the key is read from the environment only)`);
      const oa = openAiAnnotator({
        ...CLIENT_DEFAULTS,
        baseUrl,
        model,
        apiKey,
        requestsPerMinute: args.flags.rpm as number,
        tokensPerMinute: args.flags.tpm as number,
        timeoutMs: (args.flags.timeout as number) * 1000,
        maxRetries: args.flags['max-retries'] as number,
        concurrency,
        cacheDir: join(out, 'cache'),
        frames: args.flags.frames as number,
        camera: args.flags.camera as string,
      });
      annotator = oa;
      usage = oa.client.usage;
    }
    const cost = () => (usage ? ((usage.promptTokens * (args.flags['price-in'] as number)) + usage.completionTokens * (args.flags['price-out'] as number)) / 1e6 : 0);
    const progress = new Progress({ total: max ?? ds.count ?? 0, label: `annotating (${annotator.identity.name})`, unit: 'episodes' });
    const summary = await runAnnotationJob(ds.episodes(), annotator, {
      outDir: out,
      ...(max !== undefined ? { maxEpisodes: max } : {}),
      concurrency,
      onProgress: (done, skipped, failed) => progress.set(done + skipped, failed > 0 ? `${failed} failed` : ''),
      extraSummary: () => (usage ? { usage, costUsd: cost() } : {}),
    });
    progress.finish();
    console.log(`annotated ${summary.written} episode(s) (${summary.ok} ok, ${summary.failed} failed), skipped ${summary.skipped} already done, in ${summary.seconds.toFixed(1)} s`);
    for (const f of summary.failures.slice(0, 10)) console.log(`  failed ${f.episodeId}: ${f.reason}`);
    if (usage) console.log(`API: ${usage.requests} requests (${usage.retries} retries, ${usage.cacheHits} cache hits), ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens, ≈ $${cost().toFixed(4)}`);
    console.log(`wrote ${join(out, ANNOTATIONS_FILE)}`);
    return summary.failed > 0 ? 1 : 0;
  },
};

export const annotateAuditCommand: Command = {
  name: 'annotate audit',
  summary: 'check annotations against ground truth (sim) and against the recorded motion (any data)',
  usage: '--annotations ANN --in DATA_DIR [--json OUT.json]',
  description:
    'On episodes with ground truth (sim): subtask texts equal to the truth, and segment boundary errors in\n' +
    'steps. On any data: whether each motion plan states the direction the gripper really moved along\n' +
    'every axis that moved at least 1 cm, and the distance between the decoded action chunk (list style,\n' +
    'as printed) and the real displacement of its segment.',
  flags: [
    { name: 'annotations', type: 'string', help: 'annotation folder or annotations.jsonl' },
    { name: 'in', type: 'string', help: 'the dataset the annotations were made from' },
    { name: 'json', type: 'string', help: 'also write the report as JSON here' },
  ],
  async run(args) {
    let annPath = requireString(args, 'annotations');
    if (statSync(annPath, { throwIfNoEntry: false })?.isDirectory()) annPath = join(annPath, ANNOTATIONS_FILE);
    const byId = new Map<string, AnnotationRecord>();
    for (const a of readAnnotations(annPath)) byId.set(a.episode.episodeId, a);
    const pairs: { episode: Episode; annotation: AnnotationRecord | null }[] = [];
    for await (const ep of openRlds(requireString(args, 'in')).episodes()) pairs.push({ episode: ep, annotation: byId.get(ep.metadata.episodeId) ?? null });
    const r = auditAnnotations(pairs);
    const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : 'n/a');
    const rows: [string, string, string][] = [
      ['episodes', `${r.episodes}`, `${r.annotated} annotated, ${r.failed} failed, ${r.episodes - r.annotated - r.failed} without annotation`],
    ];
    if (r.groundTruth) {
      const g = r.groundTruth;
      rows.push(['subtask texts = ground truth', pct(g.textsCorrect, g.episodes), `of ${g.episodes} episodes with ground truth`]);
      rows.push(['boundaries within 2 steps', pct(g.within2, g.segments), `of ${g.segments} segments; mean error ${g.boundaryErrorMean.toFixed(2)} steps`]);
    }
    rows.push(['plan directions agree', pct(r.plans.agree, r.plans.axes), `of ${r.plans.axes} axes that moved ≥ 1 cm; ${r.plans.unparseable} of ${r.plans.segments} plans unreadable`]);
    rows.push(['chunk reconstruction error', `${r.chunks.meanErrorCm.toFixed(3)} cm`, `mean over ${r.chunks.segments} segments; max ${r.chunks.maxErrorCm.toFixed(3)} cm`]);
    const w0 = Math.max(...rows.map((x) => x[0].length));
    const w1 = Math.max(...rows.map((x) => x[1].length));
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
    if (typeof args.flags.json === 'string') writeFileAtomic(args.flags.json, `${JSON.stringify(r, null, 2)}\n`);
    return 0;
  },
};
