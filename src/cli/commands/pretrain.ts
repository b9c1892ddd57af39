// `vlm2vla pretrain`: trains the embedded base VLM from scratch on the synthetic corpus, tokenizer
// included, and writes it in Hugging Face layout with a model card (see src/pretrain/pretrain.ts).
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { PRETRAIN_PRESETS, pretrain } from '../../pretrain/pretrain.ts';
import { vqaTable } from '../../eval/vqa.ts';

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'train the embedded base VLM from scratch on the synthetic corpus',
  usage: '--preset tiny|base --out DIR [--resume] [--seed N] [--steps N]',
  description:
    'Trains a BPE tokenizer on corpus text, then a miniature Gemma 3 vision-language model: first\n' +
    'its vision tower alone, to name the object under each image token of rendered scenes, then\n' +
    'the whole model on conversations about rendered tabletop scenes, world knowledge and five\n' +
    'languages (each conversation generated once from the seed). Presets:\n' +
    Object.values(PRETRAIN_PRESETS).map((p) => `  ${p.name.padEnd(5)} ${p.summary}; ${p.steps} steps\n`).join('') +
    'DIR gets the model (config.json, model.safetensors, tokenizer files), vqa.json and a model card\n' +
    'README.md with the held-out VQA accuracy per category. Checkpoints and metrics go to DIR.run/;\n' +
    'after an interruption rerun the same command with --resume to continue with the same losses.',
  flags: [
    { name: 'preset', type: 'string', help: 'model and schedule size', default: 'tiny', choices: Object.keys(PRETRAIN_PRESETS) },
    { name: 'out', type: 'string', help: 'model folder to write' },
    { name: 'run-dir', type: 'string', help: 'checkpoints, metrics and the tokenizer while training (default DIR.run)' },
    { name: 'resume', type: 'boolean', help: 'continue from the last checkpoint', default: false },
    { name: 'seed', type: 'number', help: 'seed of the corpus, the initialisation and the data order', default: 0 },
    { name: 'steps', type: 'number', help: 'optimizer steps (default: the preset\'s)' },
  ],
  async run(args) {
    const out = requireString(args, 'out');
    const preset = PRETRAIN_PRESETS[args.flags.preset as string]!;
    const steps = args.flags.steps as number | undefined;
    if (steps !== undefined && !(Number.isInteger(steps) && steps >= 1)) throw new UsageError(`--steps must be a positive integer, got ${steps}`);
    const seed = args.flags.seed as number;
    if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
    const parts = [`vlm2vla pretrain --preset ${preset.name} --out ${out}`];
    if (seed !== 0) parts.push(`--seed ${seed}`);
    if (steps !== undefined) parts.push(`--steps ${steps}`);
    const result = await pretrain({ preset, out, runDir: args.flags['run-dir'] as string | undefined, resume: Boolean(args.flags.resume), seed, steps, command: parts.join(' ') });
    console.log(`done: ${result.steps} steps in ${(result.trainSeconds / 60).toFixed(1)} min of training, final loss ${result.finalLoss.toFixed(4)}; model in ${out}`);
    console.log(vqaTable(result.vqa));
    return 0;
  },
};
