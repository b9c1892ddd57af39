// PEFT's LoRA adapter layout: `adapter_config.json` parsed and written with PEFT's field names and
// semantics, target-module matching as PEFT does it, and the tensor key names of
// `adapter_model.safetensors`, so adapters move between vlm2vla and PyTorch/PEFT unchanged.
import { ConfigError } from '../../errors/index.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** Module-name suffixes (PEFT list form) or one regex matched against the full name (string form). */
  targetModules: string[] | string;
  useRslora: boolean;
  baseModel: string | null;
  taskType: string;
  /** PEFT `trainable_token_indices`: embedding rows trained as a delta next to LoRA (the
   *  discrete-token action mode), or null. */
  trainableTokenIndices?: number[] | null;
}

/** The paper's defaults (PAPER.md §4.1): r 16, alpha 32 on the seven linear projections of the decoder.
 *  The paper does not report dropout; 0.05 is our choice. */
export const PAPER_LORA: LoraConfig = {
  r: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  useRslora: false,
  baseModel: null,
  taskType: 'CAUSAL_LM',
  trainableTokenIndices: null,
};

/** The factor that multiplies B·A (PEFT: alpha / r, or alpha / sqrt(r) with rsLoRA). */
export function loraScaling(cfg: LoraConfig): number {
  return cfg.useRslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** PEFT's rule: a list entry matches a module whose name equals it or ends with `.entry`; a string is
 *  a regex that must match the whole module name. */
export function targetMatches(moduleName: string, target: string[] | string): boolean {
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(moduleName);
  return target.some((t) => moduleName === t || moduleName.endsWith(`.${t}`));
}

/** Key of a LoRA matrix in adapter_model.safetensors (PEFT strips the adapter name "default"). */
export function peftKey(moduleName: string, which: 'A' | 'B'): string {
  return `base_model.model.${moduleName}.lora_${which}.weight`;
}

/** Key of the trainable-tokens delta of an embedding module (PEFT's TrainableTokensLayer). */
export function tokenDeltaKey(embedModule: string): string {
  return `base_model.model.${embedModule}.token_adapter.trainable_tokens_delta`;
}

/** Inverse of peftKey: the module name and matrix of a key, or null for a key that is not LoRA. */
export function parsePeftKey(key: string): { moduleName: string; which: 'A' | 'B' } | null {
  const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(key);
  return m ? { moduleName: m[1]!, which: m[2] as 'A' | 'B' } : null;
}

/** Parses adapter_config.json; refuses what vlm2vla cannot apply faithfully instead of ignoring it. */
export function parseAdapterConfig(json: unknown, file = 'adapter_config.json'): LoraConfig {
  const fail = (field: string, message: string, fix: string): never => {
    throw new ConfigError('E_ADAPTER_CONFIG', message, { file, field, fix });
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    fail('', `${file} must hold a JSON object`, 'restore adapter_config.json');
  const j = json as Record<string, unknown>;
  if ((j.peft_type ?? 'LORA') !== 'LORA')
    fail('peft_type', `peft_type ${JSON.stringify(j.peft_type)} is not LORA`, 'only LoRA adapters are supported');
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 4096)
    fail('r', `r is ${JSON.stringify(r)}, expected an integer in [1, 4096]`, 'fix r in adapter_config.json');
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    fail('lora_alpha', `lora_alpha is ${JSON.stringify(alpha)}, expected a positive number`, 'fix lora_alpha');
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    fail('lora_dropout', `lora_dropout is ${JSON.stringify(dropout)}, expected a number in [0, 1)`, 'fix lora_dropout');
  const targets = j.target_modules;
  let targetModules: string[] | string;
  if (typeof targets === 'string') {
    try {
      new RegExp(targets);
    } catch {
      fail('target_modules', `target_modules regex ${JSON.stringify(targets)} does not compile`, 'use a list of module names');
    }
    targetModules = targets as string;
  } else if (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string' && t.length > 0)) {
    targetModules = [...(targets as string[])].sort();
  } else fail('target_modules', 'target_modules must be a non-empty list of module names or a regex string', 'e.g. ["q_proj", "v_proj"]');
  if (j.use_dora === true) fail('use_dora', 'DoRA adapters are not supported', 'train a plain LoRA adapter');
  if ((j.bias ?? 'none') !== 'none') fail('bias', `bias ${JSON.stringify(j.bias)} is not supported`, 'use bias: "none"');
  if (j.fan_in_fan_out === true)
    fail('fan_in_fan_out', 'fan_in_fan_out adapters (GPT-2 Conv1D) are not supported', 'Gemma uses nn.Linear: set fan_in_fan_out false');
  for (const field of ['modules_to_save', 'layers_to_transform', 'rank_pattern', 'alpha_pattern']) {
    const v = j[field];
    const empty = v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0);
    if (!empty)
      fail(
        field,
        `${field} is set; vlm2vla applies one r and alpha to every target and saves no full modules`,
        `remove ${field} from adapter_config.json`,
      );
  }
  let tokens: number[] | null = null;
  const tti = j.trainable_token_indices;
  if (tti !== undefined && tti !== null) {
    let list: unknown = tti;
    if (typeof tti === 'object' && !Array.isArray(tti)) {
      const keys = Object.keys(tti);
      if (keys.length !== 1 || !keys[0]!.endsWith('embed_tokens'))
        fail(
          'trainable_token_indices',
          `trainable_token_indices names ${keys.join(', ')}; vlm2vla trains token rows of the (tied) input embedding only`,
          'use a list of token ids, or {"embed_tokens": [...]}',
        );
      list = (tti as Record<string, unknown>)[keys[0]!];
    }
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((v) => Number.isInteger(v) && v >= 0) ||
      new Set(list).size !== list.length
    ) {
      fail(
        'trainable_token_indices',
        'trainable_token_indices must be a non-empty list of distinct token ids',
        'fix trainable_token_indices in adapter_config.json',
      );
    }
    tokens = [...(list as number[])];
  }
  return {
    trainableTokenIndices: tokens,
    r: r as number,
    alpha: alpha as number,
    dropout: dropout as number,
    targetModules: targetModules!,
    useRslora: j.use_rslora === true,
    baseModel: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : null,
    taskType: typeof j.task_type === 'string' ? j.task_type : 'CAUSAL_LM',
  };
}

/** The adapter_config.json object PEFT writes for this config. */
export function adapterConfigToJson(cfg: LoraConfig): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: cfg.taskType,
    base_model_name_or_path: cfg.baseModel,
    r: cfg.r,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    target_modules: cfg.targetModules,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: cfg.useRslora,
    use_dora: false,
    modules_to_save: null,
    trainable_token_indices: cfg.trainableTokenIndices && cfg.trainableTokenIndices.length > 0 ? [...cfg.trainableTokenIndices] : null,
    init_lora_weights: true,
    inference_mode: true,
  };
}
