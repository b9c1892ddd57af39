// `vlm2vla annotate`: rewrite every episode of a dataset as the three language levels of VLM2VLA
// (subtasks, motion plans, action chunks), journaled and resumable.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { openDataset } from '../../data/open.ts';
import {
  rulesAnnotator,
  runAnnotationJob,
  openAiAnnotator,
  CLIENT_DEFAULTS,
  ANNOTATIONS_FILE,
  readAnnotations,
  auditAnnotations,
} from '../../annotate/index.ts';
import type { AnnotationRecord } from '../../annotate/index.ts';
import type { Episode } from '../../data/episode.ts';
import { statSync } from 'node:fs';
import { writeFileAtomic, checkOutputDir } from '../../util/index.ts';
import type { Annotator, Usage } from '../../annotate/index.ts';
import { Progress } from '../../util/index.ts';
import { join } from 'node:path';

/** Most episodes annotated at the same time (API rate limits bind long before this). */
const MAX_CONCURRENCY = 256;

export const annotateCommand = defineCommand({
  name: 'annotate',
  summary: 'relabel robot episodes into subtasks, motion plans and action chunks (JSONL, resumable)',
  description:
    'Reads an RLDS dataset (Bridge schema: real Bridge V2 shards or `vlm2vla sim collect` output) or a\n' +
    'LeRobot v3 dataset (a folder with meta/info.json), and\n' +
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
  flags: {
    in: { type: 'string', required: true, meta: 'DATA_DIR', help: 'input dataset folder (RLDS or LeRobot v3)' },
    out: { type: 'string', required: true, meta: 'OUT_DIR', help: 'output folder for annotations.jsonl and summary.json' },
    annotator: { type: 'string', default: 'rules', choices: ['rules', 'openai'], help: 'annotator' },
    'base-url': { type: 'string', meta: 'URL', help: 'openai: the API base URL (…/v1)' },
    model: { type: 'string', meta: 'NAME', help: 'openai: model name' },
    'api-key-env': { type: 'string', meta: 'NAME', default: 'OPENAI_API_KEY', help: 'openai: environment variable holding the API key' },
    rpm: { type: 'number', min: 0, default: CLIENT_DEFAULTS.requestsPerMinute, help: 'openai: requests per minute' },
    tpm: {
      type: 'number',
      min: 0,
      default: CLIENT_DEFAULTS.tokensPerMinute,
      help: 'openai: tokens per minute (estimated from request size)',
    },
    timeout: { type: 'number', min: 0, default: CLIENT_DEFAULTS.timeoutMs / 1000, help: 'openai: seconds per request' },
    'max-retries': { type: 'number', integer: true, min: 0, default: CLIENT_DEFAULTS.maxRetries, help: 'openai: retries per request' },
    frames: { type: 'number', integer: true, min: 1, default: 4, help: 'openai: frames sent per episode' },
    camera: { type: 'string', default: 'image_0', help: 'openai: camera of the frames' },
    'price-in': { type: 'number', min: 0, default: 0, help: 'openai: USD per 1M prompt tokens (for the cost estimate)' },
    'price-out': { type: 'number', min: 0, default: 0, help: 'openai: USD per 1M completion tokens' },
    'max-episodes': { type: 'number', integer: true, min: 1, help: 'annotate at most N new episodes this run' },
    concurrency: { type: 'number', integer: true, min: 1, max: MAX_CONCURRENCY, default: 1, help: 'episodes annotated at the same time' },
    'retry-failed': { type: 'boolean', help: 'annotate again the episodes whose earlier record failed' },
  },
  async run(f) {
    const { in: input, out, concurrency } = f;
    const max = f['max-episodes'];
    if (f.annotator === 'rules') {
      for (const name of ['model', 'base-url'] as const)
        if (f[name] !== undefined)
          throw new UsageError(
            `--${name} is for --annotator openai; the rules annotator takes no model`,
            'drop it, or add --annotator openai',
          );
    }
    checkOutputDir(out, { what: 'the annotation folder' });
    const ds = openDataset(input);
    let annotator: Annotator = rulesAnnotator;
    let usage: Usage | null = null;
    if (f.annotator === 'openai') {
      const baseUrl = f['base-url'];
      const model = f.model;
      if (!baseUrl || !model)
        throw new UsageError(
          `--annotator openai needs --${baseUrl ? 'model' : 'base-url'}`,
          'e.g. --base-url https://api.openai.com/v1 --model gpt-4o-mini',
        );
      const envName = f['api-key-env'];
      const apiKey = process.env[envName];
      if (!apiKey)
        throw new UsageError(
          `the environment variable ${envName} is not set`,
          `export ${envName}=… (the key is read from the environment only)`,
        );
      const oa = openAiAnnotator({
        ...CLIENT_DEFAULTS,
        baseUrl,
        model,
        apiKey,
        requestsPerMinute: f.rpm,
        tokensPerMinute: f.tpm,
        timeoutMs: f.timeout * 1000,
        maxRetries: f['max-retries'],
        concurrency,
        cacheDir: join(out, 'cache'),
        frames: f.frames,
        camera: f.camera,
      });
      annotator = oa;
      usage = oa.client.usage;
    }
    const cost = () => (usage ? (usage.promptTokens * f['price-in'] + usage.completionTokens * f['price-out']) / 1e6 : 0);
    const progress = new Progress({ total: max ?? ds.count ?? 0, label: `annotating (${annotator.identity.name})`, unit: 'episodes' });
    const summary = await runAnnotationJob(ds.episodes(), annotator, {
      outDir: out,
      ...(max !== undefined ? { maxEpisodes: max } : {}),
      concurrency,
      retryFailed: f['retry-failed'],
      onProgress: (done, skipped, failed) => progress.set(done + skipped, failed > 0 ? `${failed} failed` : ''),
      extraSummary: () => (usage ? { usage, costUsd: cost() } : {}),
    });
    progress.finish();
    console.log(
      `annotated ${summary.written} episode(s) (${summary.ok} ok, ${summary.failed} failed), skipped ${summary.skipped} already done, in ${summary.seconds.toFixed(1)} s`,
    );
    for (const f of summary.failures.slice(0, 10)) console.log(`  failed ${f.episodeId}: ${f.reason}`);
    if (usage)
      console.log(
        `API: ${usage.requests} requests (${usage.retries} retries, ${usage.cacheHits} cache hits), ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens, ≈ $${cost().toFixed(4)}`,
      );
    console.log(`wrote ${join(out, ANNOTATIONS_FILE)}`);
    return summary.failed > 0 ? 1 : 0;
  },
});

export const annotateAuditCommand = defineCommand({
  name: 'annotate audit',
  summary: 'check annotations against ground truth (sim) and against the recorded motion (any data)',
  description:
    'On episodes with ground truth (sim): subtask texts equal to the truth, and segment boundary errors in\n' +
    'steps. On any data: whether each motion plan states the direction the gripper really moved along\n' +
    'every axis that moved at least 1 cm, and the distance between the decoded action chunk (list style,\n' +
    'as printed) and the real displacement of its segment.',
  flags: {
    annotations: { type: 'string', required: true, meta: 'ANN', help: 'annotation folder or annotations.jsonl' },
    in: { type: 'string', required: true, meta: 'DATA_DIR', help: 'the dataset the annotations were made from' },
    json: { type: 'string', meta: 'OUT.json', help: 'also write the report as JSON here' },
  },
  async run(f) {
    let annPath = f.annotations;
    if (statSync(annPath, { throwIfNoEntry: false })?.isDirectory()) annPath = join(annPath, ANNOTATIONS_FILE);
    const byId = new Map<string, AnnotationRecord>();
    for (const a of readAnnotations(annPath)) byId.set(a.episode.episodeId, a);
    const pairs: { episode: Episode; annotation: AnnotationRecord | null }[] = [];
    for await (const ep of openDataset(f.in).episodes()) pairs.push({ episode: ep, annotation: byId.get(ep.metadata.episodeId) ?? null });
    const r = auditAnnotations(pairs);
    const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : 'n/a');
    const rows: [string, string, string][] = [
      [
        'episodes',
        `${r.episodes}`,
        `${r.annotated} annotated, ${r.failed} failed, ${r.episodes - r.annotated - r.failed} without annotation`,
      ],
    ];
    if (r.groundTruth) {
      const g = r.groundTruth;
      rows.push(['subtask texts = ground truth', pct(g.textsCorrect, g.episodes), `of ${g.episodes} episodes with ground truth`]);
      rows.push([
        'boundaries within 2 steps',
        pct(g.within2, g.segments),
        `of ${g.segments} segments; mean error ${g.boundaryErrorMean.toFixed(2)} steps`,
      ]);
    }
    rows.push([
      'plan directions agree',
      pct(r.plans.agree, r.plans.axes),
      `of ${r.plans.axes} axes that moved ≥ 1 cm; ${r.plans.unparseable} of ${r.plans.segments} plans unreadable`,
    ]);
    rows.push([
      'chunk reconstruction error',
      `${r.chunks.meanErrorCm.toFixed(3)} cm`,
      `mean over ${r.chunks.segments} segments; max ${r.chunks.maxErrorCm.toFixed(3)} cm`,
    ]);
    const w0 = Math.max(...rows.map((x) => x[0].length));
    const w1 = Math.max(...rows.map((x) => x[1].length));
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
    if (f.json) writeFileAtomic(f.json, `${JSON.stringify(r, null, 2)}\n`);
    return 0;
  },
});
