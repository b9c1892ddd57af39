// `vlm2vla annotate`: rewrite every episode of a dataset as the three language levels of VLM2VLA
// (subtasks, motion plans, action chunks), journaled and resumable.
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator, runAnnotationJob, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import type { Annotator } from '../../annotate/index.ts';
import { Progress } from '../../util/index.ts';
import { join } from 'node:path';

const ANNOTATORS: Record<string, () => Annotator> = {
  rules: () => rulesAnnotator,
};

export const annotateCommand: Command = {
  name: 'annotate',
  summary: 'relabel robot episodes into subtasks, motion plans and action chunks (JSONL, resumable)',
  usage: '--in DATA_DIR --out OUT_DIR [--annotator rules] [--max-episodes N]',
  description:
    'Reads an RLDS dataset (Bridge schema: real Bridge V2 shards or `vlm2vla sim collect` output) and\n' +
    `writes OUT_DIR/${ANNOTATIONS_FILE}, one annotated episode per line (schema vlm2vla.annotation/1),\n` +
    'and OUT_DIR/summary.json. Each record is fsynced as it is written; rerunning the same command\n' +
    'skips the episodes already annotated, so an interrupted job continues where it stopped.\n' +
    'Action chunks and motion plans always come from the recorded trajectory.',
  flags: [
    { name: 'in', type: 'string', help: 'input dataset folder (RLDS)' },
    { name: 'out', type: 'string', help: 'output folder for annotations.jsonl and summary.json' },
    { name: 'annotator', type: 'string', help: 'annotator', default: 'rules', choices: Object.keys(ANNOTATORS) },
    { name: 'max-episodes', type: 'number', help: 'annotate at most N new episodes this run' },
    { name: 'concurrency', type: 'number', help: 'episodes annotated at the same time', default: 1 },
  ],
  async run(args) {
    const input = requireString(args, 'in');
    const out = requireString(args, 'out');
    const max = args.flags['max-episodes'] as number | undefined;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new UsageError('--max-episodes must be a positive integer');
    const ds = openRlds(input);
    const annotator = ANNOTATORS[args.flags.annotator as string]!();
    const progress = new Progress({ total: max ?? ds.count ?? 0, label: `annotating (${annotator.identity.name})`, unit: 'episodes' });
    const summary = await runAnnotationJob(ds.episodes(), annotator, {
      outDir: out,
      ...(max !== undefined ? { maxEpisodes: max } : {}),
      concurrency: args.flags.concurrency as number,
      onProgress: (done, skipped, failed) => progress.set(done + skipped, failed > 0 ? `${failed} failed` : ''),
    });
    progress.finish();
    console.log(`annotated ${summary.written} episode(s) (${summary.ok} ok, ${summary.failed} failed), skipped ${summary.skipped} already done, in ${summary.seconds.toFixed(1)} s`);
    for (const f of summary.failures.slice(0, 10)) console.log(`  failed ${f.episodeId}: ${f.reason}`);
    console.log(`wrote ${join(out, ANNOTATIONS_FILE)}`);
    return summary.failed > 0 ? 1 : 0;
  },
};
