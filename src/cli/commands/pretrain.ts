// `vlm2vla pretrain`: trains the embedded base VLM from scratch on the synthetic corpus, tokenizer
// included, and writes it in Hugging Face layout with a model card (see src/pretrain/pretrain.ts).
import { defineCommand } from '../define.ts';
import { PRETRAIN_PRESETS, pretrain } from '../../pretrain/pretrain.ts';
import { vqaTable } from '../../corpus/vqa-score.ts';
import { evaluateVqaFolder } from '../../eval/vqa.ts';
import { checkOutputDir } from '../../util/index.ts';

export const pretrainCommand = defineCommand({
  name: 'pretrain',
  summary: 'train the embedded base VLM from scratch on the synthetic corpus',
  description:
    'Trains a BPE tokenizer on corpus text, then a miniature Gemma 3 vision-language model: first\n' +
    'its vision tower alone, to name the object under each image token of rendered scenes, then\n' +
    'the whole model on conversations about rendered tabletop scenes, world knowledge and five\n' +
    'languages (each conversation generated once from the seed). Presets:\n' +
    Object.values(PRETRAIN_PRESETS)
      .map((p) => `  ${p.name.padEnd(5)} ${p.summary}; ${p.steps} steps\n`)
      .join('') +
    'DIR gets the model (config.json, model.safetensors, tokenizer files), vqa.json and a model card\n' +
    'README.md with the held-out VQA accuracy per category. Checkpoints and metrics go to DIR.run/;\n' +
    'after an interruption rerun the same command with --resume to continue with the same losses.',
  flags: {
    preset: { type: 'string', default: 'tiny', choices: Object.keys(PRETRAIN_PRESETS), help: 'model and schedule size' },
    out: { type: 'string', required: true, meta: 'DIR', help: 'model folder to write' },
    'run-dir': { type: 'string', meta: 'DIR', help: 'checkpoints, metrics and the tokenizer while training', defaultHelp: 'DIR.run' },
    resume: { type: 'boolean', help: 'continue from the last checkpoint' },
    seed: { type: 'number', integer: true, min: 0, default: 0, help: 'seed of the corpus, the initialisation and the data order' },
    steps: { type: 'number', integer: true, min: 1, help: 'optimizer steps', defaultHelp: "the preset's" },
  },
  async run(f) {
    const { out, seed, steps } = f;
    checkOutputDir(out, { what: 'the model folder' });
    const preset = PRETRAIN_PRESETS[f.preset]!;
    const parts = [`vlm2vla pretrain --preset ${preset.name} --out ${out}`];
    if (seed !== 0) parts.push(`--seed ${seed}`);
    if (steps !== undefined) parts.push(`--steps ${steps}`);
    const result = await pretrain({
      preset,
      out,
      vqaEvaluator: evaluateVqaFolder,
      runDir: f['run-dir'],
      resume: f.resume,
      seed,
      steps,
      command: parts.join(' '),
    });
    console.log(
      `done: ${result.steps} steps in ${(result.trainSeconds / 60).toFixed(1)} min of training, final loss ${result.finalLoss.toFixed(4)}; model in ${out}`,
    );
    console.log(vqaTable(result.vqa));
    return 0;
  },
});
