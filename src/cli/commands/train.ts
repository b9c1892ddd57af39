// `vlm2vla train`: typed flags → `finetune()` (src/train/finetune.ts: LoRA or full fine-tuning on an
// SFT dataset, the run folder and its files) → a one-line summary.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { loraConfig } from '../../models/index.ts';
import type { LoraConfig, LoraSettings } from '../../models/index.ts';
import { FINETUNE_DEFAULTS, FINETUNE_PRESETS, finetune, finetunePreset } from '../../train/finetune.ts';
import { PRETRAIN_PRESETS } from '../../pretrain/index.ts';
import { assertRunDirFree } from '../../train/trainer.ts';
import { checkOutputDir, parseDecimal } from '../../util/index.ts';

/** Parses `r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj` (each key optional). */
export function parseLoraSettings(spec: string): LoraSettings {
  const out: LoraSettings = {};
  if (spec === '' || spec === 'true') return out;
  for (const part of spec.split(',')) {
    const [key, value] = part.split('=');
    if (value === undefined || value === '')
      throw new UsageError(`--lora ${spec}: "${part}" is not key=value`, 'e.g. --lora r=16,alpha=32,dropout=0.05');
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
    'rerun the same command with --resume to continue with exactly the same losses.\n' +
    'A --preset sets the recipe (flags given as well override it):\n' +
    Object.entries(FINETUNE_PRESETS)
      .map(([k, p]) => `  ${k.padEnd(6)}${p.summary}`)
      .join('\n') +
    "\n--corpus-share S mixes conversations of the base model's pretraining corpus (seed --corpus-seed, the\n" +
    "embedded base preset's mix) into the training split as S of its sequences: rehearsal against forgetting.",
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'base model folder (config.json, model.safetensors, tokenizer files)' },
    data: { type: 'string', required: true, meta: 'SFT_DIR', help: 'SFT dataset folder written by `vlm2vla build`' },
    out: { type: 'string', required: true, meta: 'RUN_DIR', help: 'run folder' },
    lora: {
      type: 'string',
      meta: 'r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj',
      help: 'LoRA settings key=value,…',
      defaultHelp: "the paper's: r=16,alpha=32,dropout=0.05 on all seven decoder projections",
    },
    preset: {
      type: 'string',
      choices: Object.keys(FINETUNE_PRESETS),
      help: 'a named recipe (LoRA settings, learning rate, schedule, batch, epochs, rehearsal)',
    },
    full: { type: 'boolean', help: 'full fine-tuning instead of LoRA' },
    steps: { type: 'number', integer: true, min: 1, help: 'optimizer steps', defaultHelp: `the preset's, else ${D.steps}` },
    epochs: { type: 'number', min: 0, help: 'passes over the training split instead of --steps', defaultHelp: "the preset's" },
    'batch-size': {
      type: 'number',
      integer: true,
      min: 1,
      help: 'sequences per micro-batch',
      defaultHelp: `the preset's, else ${D.batchSize}`,
    },
    'grad-accum': { type: 'number', integer: true, min: 1, default: D.gradAccum, help: 'micro-batches per optimizer step' },
    lr: {
      type: 'number',
      min: 0,
      help: 'peak learning rate',
      defaultHelp: `the preset's, else ${D.loraLr} with LoRA, ${D.fullLr} with --full`,
    },
    schedule: {
      type: 'string',
      choices: ['cosine', 'linear', 'constant'],
      help: 'learning-rate schedule',
      defaultHelp: `the preset's, else ${D.schedule}`,
    },
    'corpus-share': {
      type: 'number',
      min: 0,
      max: 0.9,
      help: "share of rehearsal conversations from the base model's pretraining corpus",
      defaultHelp: "the preset's, else 0",
    },
    'corpus-seed': {
      type: 'number',
      integer: true,
      min: 0,
      default: 0,
      help: "seed of the base model's pretraining corpus (`vlm2vla pretrain --seed`)",
    },
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
    if (f.full && f.preset !== undefined)
      throw new UsageError('--preset names a LoRA recipe; --full excludes it', "drop --full, or set the full run's flags yourself");
    checkOutputDir(f.out, { what: 'the run folder' });
    assertRunDirFree(f.out);
    const p = f.preset !== undefined ? finetunePreset(f.preset) : null;
    // A step count given on the command line wins over the preset's epochs, and the other way round.
    const epochs = f.epochs ?? (f.steps === undefined ? p?.epochs : undefined);
    const share = f['corpus-share'] ?? p?.corpusShare ?? 0;
    const r = await finetune({
      model: f.model,
      data: f.data,
      out: f.out,
      full: f.full,
      ...(f.lora !== undefined ? { lora: parseLoraSettings(f.lora) } : p ? { lora: p.lora } : {}),
      steps: f.steps ?? p?.steps,
      ...(epochs !== undefined ? { epochs } : {}),
      batchSize: f['batch-size'] ?? p?.batchSize,
      gradAccum: f['grad-accum'],
      lr: f.lr ?? p?.lr,
      schedule: (f.schedule ?? p?.schedule) as 'cosine' | 'linear' | 'constant' | undefined,
      warmup: f.warmup ?? p?.warmup,
      ...(share > 0 ? { corpus: { share, seed: f['corpus-seed'], mix: PRETRAIN_PRESETS.base!.mix } } : {}),
      ...(f.preset !== undefined ? { preset: f.preset } : {}),
      weightDecay: f['weight-decay'],
      clip: f.clip,
      maxLength: f['max-length'],
      evalEvery: f['eval-every'],
      checkpointEvery: f['checkpoint-every'],
      seed: f.seed,
      resume: f.resume,
    });
    console.log(
      `done: ${r.steps} steps, loss ${r.finalLoss.toFixed(4)}${r.finalValLoss !== null ? `, validation ${r.finalValLoss.toFixed(4)}` : ''}; ${r.mode === 'full' ? 'model' : 'adapter'} in ${r.output}`,
    );
    return 0;
  },
});
