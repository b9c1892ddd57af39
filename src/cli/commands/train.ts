// `vlm2vla train`: fine-tune a model folder on an SFT dataset (from `vlm2vla build`) with LoRA (PEFT
// semantics, the paper's r 16 / alpha 32 on the decoder's seven projections by default) or fully.
// The run folder gets the adapter (PEFT layout) or the full model (HF layout), run.json (config,
// dataset statistics, timing), metrics.jsonl, loss.svg and checkpoints/ (for --resume).
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { FormatError, UsageError } from '../../errors/index.ts';
import { Tokenizer, ChatTemplate } from '../../tokenizer/index.ts';
import { loadModel, saveModel, addAdapter, saveAdapter, setActiveAdapter, decoderTargets, PAPER_LORA } from '../../models/index.ts';
import type { LoraConfig } from '../../models/index.ts';
import { assertNewRun, train, TRAINER_DEFAULTS } from '../../train/trainer.ts';
import type { TrainerConfig } from '../../train/trainer.ts';
import { loadSftSplit } from '../../train/sft.ts';
import { leastUsedTokens, markerMap, saveActionTokens, stripMarkers } from '../../train/action-tokens.ts';
import type { ActionTokens } from '../../train/action-tokens.ts';
import { writeFileAtomic } from '../../util/index.ts';

/** Parses `r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj` over the paper's defaults. */
export function parseLoraSpec(spec: string, modelType: string): LoraConfig {
  const cfg: LoraConfig = { ...PAPER_LORA, targetModules: decoderTargets(modelType) };
  if (spec === '' || spec === 'true') return cfg;
  for (const part of spec.split(',')) {
    const [key, value] = part.split('=');
    if (value === undefined || value === '') throw new UsageError(`--lora ${spec}: "${part}" is not key=value`, 'e.g. --lora r=16,alpha=32,dropout=0.05');
    const num = Number(value);
    if (key === 'r') {
      if (!Number.isInteger(num) || num < 1) throw new UsageError(`--lora r=${value}: r must be a positive integer`);
      cfg.r = num;
    } else if (key === 'alpha') {
      if (!(num > 0)) throw new UsageError(`--lora alpha=${value}: alpha must be positive`);
      cfg.alpha = num;
    } else if (key === 'dropout') {
      if (!(num >= 0 && num < 1)) throw new UsageError(`--lora dropout=${value}: dropout must be in [0, 1)`);
      cfg.dropout = num;
    } else if (key === 'targets') {
      cfg.targetModules = modelType === 'gemma3' ? `.*language_model.*\\.(${value.split('+').join('|')})` : value.split('+');
    } else throw new UsageError(`--lora ${spec}: unknown key "${key}"`, 'keys: r, alpha, dropout, targets (joined with +)');
  }
  return cfg;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'fine-tune a model on an SFT dataset with LoRA (default) or fully',
  usage: '--model DIR --data SFT_DIR --out RUN_DIR [--lora r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj | --full] [--steps N] [--resume]',
  description:
    'Trains on DIR_SFT/train.jsonl (validation loss on val.jsonl) with the loss on assistant tokens only.\n' +
    'LoRA follows PEFT (default: r 16, alpha 32, dropout 0.05 on q, k, v, o, gate, up, down of the text\n' +
    'decoder); the result is RUN_DIR/adapter in PEFT layout. --full trains every weight and writes\n' +
    'RUN_DIR/model in Hugging Face layout. Checkpoints go to RUN_DIR/checkpoints; after an interruption,\n' +
    'rerun the same command with --resume to continue with exactly the same losses.',
  flags: [
    { name: 'model', type: 'string', help: 'base model folder (config.json, model.safetensors, tokenizer files)' },
    { name: 'data', type: 'string', help: 'SFT dataset folder written by `vlm2vla build`' },
    { name: 'out', type: 'string', help: 'run folder' },
    { name: 'lora', type: 'string', help: 'LoRA settings key=value,… (default: the paper\'s)', default: '' },
    { name: 'full', type: 'boolean', help: 'full fine-tuning instead of LoRA', default: false },
    { name: 'steps', type: 'number', help: 'optimizer steps', default: 200 },
    { name: 'batch-size', type: 'number', help: 'sequences per micro-batch', default: 4 },
    { name: 'grad-accum', type: 'number', help: 'micro-batches per optimizer step', default: 1 },
    { name: 'lr', type: 'number', help: 'peak learning rate (default 2e-4 LoRA, 5e-5 full)' },
    { name: 'schedule', type: 'string', help: 'learning-rate schedule', default: 'cosine', choices: ['cosine', 'linear', 'constant'] },
    { name: 'warmup', type: 'number', help: 'warm-up steps (default: 10% of the steps, at most 10)' },
    { name: 'weight-decay', type: 'number', help: 'AdamW weight decay', default: 0 },
    { name: 'clip', type: 'number', help: 'max gradient norm (0 = off)', default: 1 },
    { name: 'max-length', type: 'number', help: 'longer sequences are left out (and counted)', default: 1024 },
    { name: 'eval-every', type: 'number', help: 'validation loss every N steps', default: 50 },
    { name: 'checkpoint-every', type: 'number', help: 'checkpoint every N steps', default: 50 },
    { name: 'seed', type: 'number', help: 'seed of data order, LoRA init and dropout', default: 0 },
    { name: 'resume', type: 'boolean', help: 'continue from the last checkpoint in RUN_DIR', default: false },
  ],
  async run(args) {
    const modelDir = requireString(args, 'model');
    const dataDir = requireString(args, 'data');
    const out = requireString(args, 'out');
    const full = Boolean(args.flags.full);
    const resume = Boolean(args.flags.resume);
    if (full && args.flags.lora) throw new UsageError('--full and --lora exclude each other');
    if (!resume) assertNewRun(out);
    const buildInfoPath = join(dataDir, 'build_info.json');
    let bins: { low: [number, number, number]; high: [number, number, number] } | null = null;
    if (existsSync(buildInfoPath)) {
      let info: { options?: { actionStyle?: string; tokens?: { low?: unknown; high?: unknown } } };
      try {
        info = JSON.parse(readFileSync(buildInfoPath, 'utf8')) as typeof info;
      } catch (cause) {
        throw new FormatError('E_SFT_RECORD', `${buildInfoPath} is not valid JSON: ${(cause as Error).message}`, { file: buildInfoPath, fix: 'rebuild the dataset with `vlm2vla build`' });
      }
      if (info.options?.actionStyle === 'tokens') {
        const t = info.options.tokens;
        const triple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => Number.isFinite(x));
        if (!t || !triple(t.low) || !triple(t.high)) throw new FormatError('E_SFT_RECORD', `${buildInfoPath}: options.tokens (the bin ranges of the tokens action style) is missing or malformed`, { file: buildInfoPath, field: 'options.tokens', fix: 'rebuild the dataset with `vlm2vla build --action-style tokens`' });
        bins = { low: t.low as [number, number, number], high: t.high as [number, number, number] };
      }
    }
    const model = loadModel(modelDir, { dtype: full ? 'f32' : 'auto' });
    const tokenizer = Tokenizer.fromDir(modelDir);
    const template = ChatTemplate.fromConfig(tokenizer.config, join(modelDir, 'tokenizer_config.json'));
    if (!template) throw new UsageError(`${modelDir}/tokenizer_config.json has no chat_template`, 'train from a chat model folder');
    // Discrete-token mode: the 256 least-used vocabulary tokens (by the dataset's own text) become the
    // action bins; in LoRA mode their embedding rows train as PEFT trainable tokens.
    let actionTokens: ActionTokens | null = null;
    if (bins) {
      const texts = readFileSync(join(dataDir, 'train.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => {
        try {
          return (JSON.parse(l) as { messages: { content: { text?: string }[] }[] }).messages.flatMap((m) => m.content.flatMap((p) => (typeof p.text === 'string' ? [stripMarkers(p.text)] : [])));
        } catch {
          return []; // loadSftSplit reports malformed lines with their line numbers
        }
      });
      actionTokens = { ids: leastUsedTokens(tokenizer, texts), ...bins };
    }
    const enc = { tokenizer, template, cfg: model.cfg, actionTokens: actionTokens ? markerMap(actionTokens) : undefined };
    const maxLength = args.flags['max-length'] as number;
    const trainSplit = loadSftSplit(dataDir, 'train', enc, maxLength);
    const valSplit = loadSftSplit(dataDir, 'val', enc, maxLength);
    if (trainSplit.examples.length === 0) throw new UsageError(`no training sequence fits in --max-length ${maxLength} (${trainSplit.stats.tooLong} too long)`, 'raise --max-length');
    const seed = args.flags.seed as number;
    let lora: LoraConfig | null = null;
    let params;
    if (full) params = model.setTrainable(true);
    else {
      lora = parseLoraSpec(String(args.flags.lora ?? ''), model.cfg.modelType);
      if (actionTokens) lora.trainableTokenIndices = actionTokens.ids;
      params = addAdapter(model, 'default', { ...lora, baseModel: modelDir }, seed);
      setActiveAdapter(model, 'default');
    }
    const config: TrainerConfig = {
      ...TRAINER_DEFAULTS,
      steps: args.flags.steps as number,
      batchSize: args.flags['batch-size'] as number,
      gradAccum: args.flags['grad-accum'] as number,
      schedule: { kind: args.flags.schedule as 'cosine', lr: (args.flags.lr as number | undefined) ?? (full ? 5e-5 : 2e-4), warmupSteps: (args.flags.warmup as number | undefined) ?? Math.min(10, Math.floor((args.flags.steps as number) / 10)), minLrRatio: 0.1 },
      weightDecay: args.flags['weight-decay'] as number,
      clip: args.flags.clip as number,
      seed,
      evalEvery: args.flags['eval-every'] as number,
      checkpointEvery: args.flags['checkpoint-every'] as number,
    };
    if (actionTokens) console.log(`discrete-token actions: 256 bins on the least-used tokens ${actionTokens.ids.slice(0, 4).map((id) => JSON.stringify(tokenizer.idToToken(id))).join(', ')}, …${full ? '' : ' (their embedding rows train next to LoRA)'}`);
    console.log(`training ${full ? 'all weights' : `LoRA r ${lora!.r} alpha ${lora!.alpha}`} of ${modelDir} on ${trainSplit.examples.length} sequences (${trainSplit.stats.trainedTokens} trained tokens; ${valSplit.examples.length} for validation)`);
    const result = await train({ model, params, train: trainSplit.examples, val: valSplit.examples, config, outDir: out, resume });
    if (full) {
      saveModel(model, join(out, 'model'));
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(modelDir, f))) copyFileSync(join(modelDir, f), join(out, 'model', f));
    } else saveAdapter(model, 'default', join(out, 'adapter'), modelDir);
    if (actionTokens) {
      saveActionTokens(out, actionTokens);
      saveActionTokens(join(out, full ? 'model' : 'adapter'), actionTokens);
    }
    writeFileAtomic(join(out, 'run.json'), `${JSON.stringify({
      schema: 'vlm2vla.run/1',
      mode: full ? 'full' : 'lora',
      actionStyle: actionTokens ? 'tokens' : 'language',
      actionTokens,
      baseModel: modelDir,
      data: dataDir,
      lora,
      trainer: config,
      dataset: { train: trainSplit.stats, val: valSplit.stats },
      result: { steps: result.steps, resumedFrom: result.resumedFrom, finalLoss: result.finalLoss, finalValLoss: result.finalValLoss, seconds: result.seconds },
    }, null, 2)}\n`);
    console.log(`done: ${result.steps} steps, loss ${result.finalLoss.toFixed(4)}${result.finalValLoss !== null ? `, validation ${result.finalValLoss.toFixed(4)}` : ''}; ${full ? `model in ${join(out, 'model')}` : `adapter in ${join(out, 'adapter')}`}`);
    return 0;
  },
};
