// `vlm2vla eval vqa`: held-out VQA accuracy per category of a model (optionally with a LoRA adapter),
// and the retention ratio against a baseline model.
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { evaluateVqa, loadVqaModel, retention, vqaTable, VQA_EVAL_PER_CATEGORY, VQA_EVAL_SEED } from '../../eval/vqa.ts';
import type { VqaOptions } from '../../eval/vqa.ts';
import { writeFileAtomic } from '../../util/index.ts';

export const evalVqaCommand: Command = {
  name: 'eval vqa',
  summary: 'held-out VQA accuracy per category, and retention against a baseline',
  usage: '--model DIR [--adapter RUN] [--baseline DIR] [--per-category N] [--out FILE.json]',
  description:
    'Asks the held-out VQA set of the pretraining distribution (questions about scenes the corpus\n' +
    'never shows, knowledge, and four other languages), one question per prompt with greedy decoding,\n' +
    'and scores exact match after normalisation (NFKC, lower case, surrounding punctuation removed).\n' +
    'With --baseline (normally the base model before fine-tuning) it also reports the retention ratio\n' +
    'accuracy / baseline accuracy per category: the measure of catastrophic forgetting.',
  flags: [
    { name: 'model', type: 'string', help: 'model folder (config.json, weights, tokenizer files)' },
    { name: 'adapter', type: 'string', help: 'a `vlm2vla train` run folder or a PEFT adapter folder to apply' },
    { name: 'baseline', type: 'string', help: 'model folder to compare against (retention ratio)' },
    { name: 'per-category', type: 'number', help: 'questions per category', default: VQA_EVAL_PER_CATEGORY },
    { name: 'seed', type: 'number', help: 'seed of the held-out set (the model cards use the default)', default: VQA_EVAL_SEED },
    { name: 'batch-size', type: 'number', help: 'questions decoded together', default: 32 },
    { name: 'out', type: 'string', help: 'also write the report (and every prediction) to this JSON file' },
  ],
  async run(args) {
    const dir = requireString(args, 'model');
    const batchSize = args.flags['batch-size'] as number;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch-size must be a positive integer, got ${batchSize}`);
    const options: VqaOptions = { seed: args.flags.seed as number, perCategory: args.flags['per-category'] as number, batchSize };
    const run = evaluateVqa(loadVqaModel(dir, args.flags.adapter as string | undefined), options);
    const baselineDir = args.flags.baseline as string | undefined;
    const baseline = baselineDir ? evaluateVqa(loadVqaModel(baselineDir), options) : undefined;
    console.log(vqaTable(run, baseline));
    const out = args.flags.out as string | undefined;
    if (out) {
      const json = { model: dir, adapter: args.flags.adapter ?? null, ...run, baseline: baseline ? { model: baselineDir, overall: baseline.overall, categories: baseline.categories } : null, retention: baseline ? retention(run, baseline) : null };
      writeFileAtomic(out, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`wrote ${out}`);
    }
    return 0;
  },
};
