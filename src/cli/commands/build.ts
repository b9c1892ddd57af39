// `vlm2vla build`: annotations + episodes → SFT chat dataset for every VLM2VLA stage.
import { join } from 'node:path';
import { statSync } from 'node:fs';
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { readAnnotations, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../../sft/index.ts';
import { Progress } from '../../util/index.ts';

export const buildCommand: Command = {
  name: 'build',
  summary: 'build the SFT chat dataset (subtasks, plans, action chunks, verifier, direction) from annotations',
  usage: '--annotations ANN --episodes DATA_DIR --out SFT_DIR [--format jsonl|parquet] [--action-style list|phrase|rot|tokens|at] [--reasoning full|none]',
  description:
    'ANN is the folder written by `vlm2vla annotate` (or its annotations.jsonl). For each annotated episode:\n' +
    'one stage-1 example (first frame + task → JSON list of subtasks), per cycle of each segment a stage-2\n' +
    '(frame + task + subtask → motion plan) and a stage-3 example (… + plan → action chunk), a direction\n' +
    'example (before/after frames → left/right/none) and verifier examples (before/after → yes/no).\n' +
    'Episodes go wholly to train or validation (hash of seed and episode id). Writes train.jsonl,\n' +
    'val.jsonl, images/ and build_info.json; --format parquet adds train.parquet and val.parquet.',
  flags: [
    { name: 'annotations', type: 'string', help: 'annotation folder or annotations.jsonl' },
    { name: 'episodes', type: 'string', help: 'the RLDS dataset the annotations were made from' },
    { name: 'out', type: 'string', help: 'output folder (must not hold a built dataset)' },
    { name: 'format', type: 'string', help: 'output format', default: 'jsonl', choices: ['jsonl', 'parquet'] },
    { name: 'action-style', type: 'string', help: 'action text style', default: DEFAULT_EXAMPLES.actionStyle, choices: ['list', 'phrase', 'rot', 'tokens', 'at'] },
    { name: 'reasoning', type: 'string', help: 'full: subtasks, motion plans, action chunks and verifier examples; none: action chunks from frame and task only (the paper\'s -NR ablation)', default: DEFAULT_EXAMPLES.reasoning, choices: ['full', 'none'] },
    { name: 'camera', type: 'string', help: 'camera whose frames the examples show', default: DEFAULT_EXAMPLES.camera },
    { name: 'max-chunk-elements', type: 'number', help: 'elements per stage-3 answer (longer segments become several cycles)', default: DEFAULT_EXAMPLES.maxChunkElements },
    { name: 'val-fraction', type: 'number', help: 'fraction of episodes held out for validation', default: 0.1 },
    { name: 'seed', type: 'number', help: 'seed of the train/validation split', default: 0 },
  ],
  async run(args) {
    let annPath = requireString(args, 'annotations');
    if (statSync(annPath, { throwIfNoEntry: false })?.isDirectory()) annPath = join(annPath, ANNOTATIONS_FILE);
    if (!statSync(annPath, { throwIfNoEntry: false })) throw new UsageError(`${annPath} does not exist`, 'run `vlm2vla annotate` first');
    const maxEl = args.flags['max-chunk-elements'] as number;
    if (!Number.isInteger(maxEl) || maxEl < 1) throw new UsageError('--max-chunk-elements must be a positive integer');
    const annotations = readAnnotations(annPath);
    const ds = openRlds(requireString(args, 'episodes'));
    const progress = new Progress({ total: ds.count ?? 0, label: 'building', unit: 'episodes' });
    const info = await buildSft(ds.episodes(), annotations, {
      outDir: requireString(args, 'out'),
      format: args.flags.format as 'jsonl' | 'parquet',
      actionStyle: args.flags['action-style'] as string,
      camera: args.flags.camera as string,
      maxChunkElements: maxEl,
      directionCm: DEFAULT_EXAMPLES.directionCm,
      reasoning: args.flags.reasoning as 'full' | 'none',
      valFraction: args.flags['val-fraction'] as number,
      seed: args.flags.seed as number,
      onEpisode: () => progress.tick(1),
    });
    progress.finish();
    const fmt = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    console.log(`episodes: ${info.episodes.train} train, ${info.episodes.val} val, ${info.episodes.withoutAnnotation} without annotation, ${info.episodes.failedAnnotation} with failed annotation`);
    console.log(`train examples: ${fmt(info.examples.train)}`);
    console.log(`val examples:   ${fmt(info.examples.val)}`);
    console.log(`${info.images} images; wrote ${args.flags.out}`);
    return 0;
  },
};
