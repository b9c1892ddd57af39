// `vlm2vla train`: typed flags → `finetune()` (src/train/finetune.ts: LoRA or full fine-tuning on an
// SFT dataset, the run folder and its files) → a one-line summary.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { loraConfig } from '../../models/index.ts';
import type { LoraConfig, LoraSettings } from '../../models/index.ts';
import { FINETUNE_DEFAULTS, finetune } from '../../train/finetune.ts';
import { assertRunDirFree } from '../../train/trainer.ts';
import { checkOutputDir, parseDecimal } from '../../util/index.ts';

/** Parses `r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj` (each key optional). */
export function parseLoraSettings(spec: string): LoraSettings {
  const out: LoraSettings = {};
  if (spec === '' || spec === 'true') return out;
  for (const part of spec.split(',')) {
    const [key, value] = part.split('=');
    if (value === undefined || value === '') throw new UsageError(`--lora ${spec}: "${part}" is not key=value`, 'e.g. --lora r=16,alpha=32,dropout=0.05');
    const num = parseDecimal(value) ?? Number.NaN;
    if (key === 'r') out.r = num;
    else if (key === 'alpha') out.alpha = num;
    else if (key === 'dropout') out.dropout = num;
    else if (key === 'targets') out.targets = value.split('+');
    else throw new UsageError(`--lora ${spec}: unknown key "${key}"`, 'keys: r, alpha, dropout, targets (joined with +)');
  }
  return out;
}

/** The LoRA config of a `--lora` spec for a model type (the paper's defaults where the spec is silent). */
export function parseLoraSpec(spec: string, modelType: string): LoraConfig {
  return loraConfig(modelType, parseLoraSettings(spec));
}

const D = FINETUNE_DEFAULTS;

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'fine-tune a model on an SFT dataset with LoRA (default) or fully',
  description:
    'Trains on SFT_DIR/train.jsonl (validation loss on val.jsonl) with the loss on assistant tokens only.\n' +
    'LoRA follows PEFT (default: r 16, alpha 32, dropout 0.05 on q, k, v, o, gate, up, down of the text\n' +
    'decoder); the result is RUN_DIR/adapter in PEFT layout. --full trains every weight and writes\n' +
    'RUN_DIR/model in Hugging Face layout. Checkpoints go to RUN_DIR/checkpoints; after an interruption,\n' +
    'rerun the same command with --resume to continue with exactly the same losses.',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'base model folder (config.json, model.safetensors, tokenizer files)' },
    data: { type: 'string', required: true, meta: 'SFT_DIR', help: 'SFT dataset folder written by `vlm2vla build`' },
    out: { type: 'string', required: true, meta: 'RUN_DIR', help: 'run folder' },
    lora: { type: 'string', meta: 'r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj', help: 'LoRA settings key=value,…', defaultHelp: "the paper's: r=16,alpha=32,dropout=0.05 on all seven decoder projections" },
    full: { type: 'boolean', help: 'full fine-tuning instead of LoRA' },
    steps: { type: 'number', integer: true, min: 1, default: D.steps, help: 'optimizer steps' },
    'batch-size': { type: 'number', integer: true, min: 1, default: D.batchSize, help: 'sequences per micro-batch' },
    'grad-accum': { type: 'number', integer: true, min: 1, default: D.gradAccum, help: 'micro-batches per optimizer step' },
    lr: { type: 'number', min: 0, help: 'peak learning rate', defaultHelp: `${D.loraLr} with LoRA, ${D.fullLr} with --full` },
    schedule: { type: 'string', default: D.schedule, choices: ['cosine', 'linear', 'constant'], help: 'learning-rate schedule' },
    warmup: { type: 'number', integer: true, min: 0, help: 'warm-up steps', defaultHelp: '10% of the steps, at most 10' },
    'weight-decay': { type: 'number', min: 0, default: D.weightDecay, help: 'AdamW weight decay' },
    clip: { type: 'number', min: 0, default: D.clip, help: 'max gradient norm (0 = off)' },
    'max-length': { type: 'number', integer: true, min: 1, default: D.maxLength, help: 'longer sequences are left out (and counted)' },
    'eval-every': { type: 'number', integer: true, min: 0, default: D.evalEvery, help: 'validation loss every N steps' },
    'checkpoint-every': { type: 'number', integer: true, min: 1, default: D.checkpointEvery, help: 'checkpoint every N steps' },
    seed: { type: 'number', integer: true, min: 0, default: D.seed, help: 'seed of data order, LoRA init and dropout' },
    resume: { type: 'boolean', help: 'continue from the last checkpoint in RUN_DIR' },
  },
  async run(f) {
    if (f.full && f.lora !== undefined) throw new UsageError('--full and --lora exclude each other');
    checkOutputDir(f.out, { what: 'the run folder' });
    assertRunDirFree(f.out);
    const r = await finetune({
      model: f.model,
      data: f.data,
      out: f.out,
      full: f.full,
      ...(f.lora !== undefined ? { lora: parseLoraSettings(f.lora) } : {}),
      steps: f.steps,
      batchSize: f['batch-size'],
      gradAccum: f['grad-accum'],
      lr: f.lr,
      schedule: f.schedule,
      warmup: f.warmup,
      weightDecay: f['weight-decay'],
      clip: f.clip,
      maxLength: f['max-length'],
      evalEvery: f['eval-every'],
      checkpointEvery: f['checkpoint-every'],
      seed: f.seed,
      resume: f.resume,
    });
    console.log(`done: ${r.steps} steps, loss ${r.finalLoss.toFixed(4)}${r.finalValLoss !== null ? `, validation ${r.finalValLoss.toFixed(4)}` : ''}; ${r.mode === 'full' ? 'model' : 'adapter'} in ${r.output}`);
    return 0;
  },
});
