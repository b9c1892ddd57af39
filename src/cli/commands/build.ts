// `vlm2vla build`: annotations + episodes → SFT chat dataset for every VLM2VLA stage.
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { openDataset } from '../../data/open.ts';
import { readAnnotations, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import { buildSft, checkBuildOutput, DEFAULT_EXAMPLES } from '../../sft/index.ts';
import { Progress } from '../../util/index.ts';

export const buildCommand = defineCommand({
  name: 'build',
  summary: 'build the SFT chat dataset (subtasks, plans, action chunks, verifier, direction) from annotations',
  description:
    'ANN is the folder written by `vlm2vla annotate` (or its annotations.jsonl). For each annotated episode:\n' +
    'one stage-1 example (first frame + task → JSON list of subtasks), per cycle of each segment a stage-2\n' +
    '(frame + task + subtask → motion plan) and a stage-3 example (… + plan → action chunk), a direction\n' +
    'example (before/after frames → left/right/none) and verifier examples (before/after → yes/no).\n' +
    'Episodes go wholly to train or validation (hash of seed and episode id). Writes train.jsonl,\n' +
    'val.jsonl, images/ and build_info.json; --format parquet adds train.parquet and val.parquet.',
  flags: {
    annotations: { type: 'string', required: true, meta: 'ANN', help: 'annotation folder or annotations.jsonl' },
    episodes: { type: 'string', required: true, meta: 'DATA_DIR', help: 'the dataset (RLDS or LeRobot v3) the annotations were made from' },
    out: {
      type: 'string',
      required: true,
      meta: 'SFT_DIR',
      help: 'output folder (must not hold a built dataset, robot data or annotations)',
    },
    format: { type: 'string', default: 'jsonl', choices: ['jsonl', 'parquet'], help: 'output format' },
    'action-style': {
      type: 'string',
      default: DEFAULT_EXAMPLES.actionStyle,
      choices: ['list', 'phrase', 'rot', 'tokens', 'at'],
      help: 'action text style',
    },
    reasoning: {
      type: 'string',
      default: DEFAULT_EXAMPLES.reasoning,
      choices: ['full', 'none'],
      help: "full: subtasks, motion plans, action chunks and verifier examples; none: action chunks from frame and task only (the paper's -NR ablation)",
    },
    camera: { type: 'string', default: DEFAULT_EXAMPLES.camera, help: 'camera whose frames the examples show' },
    'max-chunk-elements': {
      type: 'number',
      integer: true,
      min: 1,
      default: DEFAULT_EXAMPLES.maxChunkElements,
      help: 'elements per stage-3 answer (longer segments become several cycles)',
    },
    'val-fraction': { type: 'number', min: 0, max: 1, default: 0.1, help: 'fraction of episodes held out for validation' },
    seed: { type: 'number', integer: true, min: 0, default: 0, help: 'seed of the train/validation split' },
  },
  async run(f) {
    let annPath = f.annotations;
    if (statSync(annPath, { throwIfNoEntry: false })?.isDirectory()) annPath = join(annPath, ANNOTATIONS_FILE);
    if (!statSync(annPath, { throwIfNoEntry: false })) throw new UsageError(`${annPath} does not exist`, 'run `vlm2vla annotate` first');
    checkBuildOutput(f.out);
    const annotations = readAnnotations(annPath);
    const ds = openDataset(f.episodes);
    const progress = new Progress({ total: ds.count ?? 0, label: 'building', unit: 'episodes' });
    const info = await buildSft(ds.episodes(), annotations, {
      outDir: f.out,
      format: f.format,
      actionStyle: f['action-style'],
      camera: f.camera,
      maxChunkElements: f['max-chunk-elements'],
      directionCm: DEFAULT_EXAMPLES.directionCm,
      reasoning: f.reasoning,
      valFraction: f['val-fraction'],
      seed: f.seed,
      onEpisode: () => progress.tick(1),
    });
    progress.finish();
    const fmt = (r: Record<string, number>) =>
      Object.entries(r)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none';
    console.log(
      `episodes: ${info.episodes.train} train, ${info.episodes.val} val, ${info.episodes.withoutAnnotation} without annotation, ${info.episodes.failedAnnotation} with failed annotation`,
    );
    console.log(`train examples: ${fmt(info.examples.train)}`);
    console.log(`val examples:   ${fmt(info.examples.val)}`);
    console.log(`${info.images} images; wrote ${f.out}`);
    return 0;
  },
});
