// `vlm2vla eval vqa`: held-out VQA accuracy per category of a model (optionally with a LoRA adapter),
// and the retention ratio against a baseline model.
import { defineCommand } from '../define.ts';
import { evaluateVqa, loadVqaModel } from '../../eval/vqa.ts';
import { retention, vqaTable, VQA_EVAL_PER_CATEGORY, VQA_EVAL_SEED } from '../../corpus/vqa-score.ts';
import type { VqaOptions } from '../../eval/vqa.ts';
import { writeFileAtomic, checkOutputFile } from '../../util/index.ts';

export const evalVqaCommand = defineCommand({
  name: 'eval vqa',
  summary: 'held-out VQA accuracy per category, and retention against a baseline',
  description:
    'Asks the held-out VQA set of the pretraining distribution (questions about scenes the corpus\n' +
    'never shows, knowledge, and four other languages), one question per prompt with greedy decoding,\n' +
    'and scores exact match after normalisation (NFKC, lower case, surrounding punctuation removed).\n' +
    'With --baseline (normally the base model before fine-tuning) it also reports the retention ratio\n' +
    'accuracy / baseline accuracy per category: the measure of catastrophic forgetting.',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'model folder (config.json, weights, tokenizer files)' },
    adapter: { type: 'string', meta: 'RUN', help: 'a `vlm2vla train` run folder or a PEFT adapter folder to apply' },
    baseline: { type: 'string', meta: 'DIR', help: 'model folder to compare against (retention ratio)' },
    'per-category': { type: 'number', integer: true, min: 1, default: VQA_EVAL_PER_CATEGORY, help: 'questions per category' },
    seed: {
      type: 'number',
      integer: true,
      min: 0,
      default: VQA_EVAL_SEED,
      help: 'seed of the held-out set (the model cards use the default)',
    },
    'batch-size': { type: 'number', integer: true, min: 1, default: 32, help: 'questions decoded together' },
    out: { type: 'string', meta: 'FILE.json', help: 'also write the report (and every prediction) to this JSON file' },
  },
  async run(f) {
    const dir = f.model;
    if (f.out) checkOutputFile(f.out);
    const options: VqaOptions = { seed: f.seed, perCategory: f['per-category'], batchSize: f['batch-size'] };
    const run = evaluateVqa(loadVqaModel(dir, f.adapter), options);
    const baselineDir = f.baseline;
    const baseline = baselineDir ? evaluateVqa(loadVqaModel(baselineDir), options) : undefined;
    console.log(vqaTable(run, baseline));
    const out = f.out;
    if (out) {
      const json = {
        model: dir,
        adapter: f.adapter ?? null,
        ...run,
        baseline: baseline ? { model: baselineDir, overall: baseline.overall, categories: baseline.categories } : null,
        retention: baseline ? retention(run, baseline) : null,
      };
      writeFileAtomic(out, `${JSON.stringify(json, null, 2)}\n`);
      console.log(`wrote ${out}`);
    }
    return 0;
  },
});
