// LoRA adapters on a model's projections, with PEFT semantics and files: add (A ~ kaiming-uniform,
// B = 0), activate one of several loaded adapters (or none), save and load `adapter_config.json` +
// `adapter_model.safetensors` with PEFT key names, and merge an adapter into the base weights.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError } from '../../errors/index.ts';
import { SafetensorsFile, refusePickle, writeSafetensors } from '../../formats/index.ts';
import type { TensorToWrite } from '../../formats/index.ts';
import { Tensor, getBackend } from '../../tensor/index.ts';
import { Rng, writeFileAtomic } from '../../util/index.ts';
import type { LoraPair, Proj, TokenAdapter } from '../gemma3/model.ts';
import type { Weight } from '../../tensor/index.ts';
import {
  adapterConfigToJson,
  loraScaling,
  parseAdapterConfig,
  parsePeftKey,
  peftKey,
  targetMatches,
  tokenDeltaKey,
  PAPER_LORA,
} from './peft.ts';
import type { LoraConfig } from './peft.ts';
import { readFloats, widen } from '../tensors.ts';

/** What LoRA needs of a model: its projections by module name. Hosts with an embedding can also
 *  carry trainable-token deltas (PEFT `trainable_token_indices`). */
export interface LoraHost {
  projections(): Map<string, Proj>;
  /** The model's weights by name, updated when an adapter is merged. */
  readonly params?: Map<string, unknown>;
  readonly tokenAdapters?: Map<string, TokenAdapter>;
  activeTokenAdapter?: TokenAdapter | null;
  readonly embedModuleName?: string;
  readonly embed?: Weight;
  setEmbedding?(e: Tensor): void;
}

function tokenHost(host: LoraHost, what: string): Required<Pick<LoraHost, 'tokenAdapters' | 'embedModuleName' | 'embed'>> {
  if (!host.tokenAdapters || !host.embedModuleName || !host.embed)
    throw new UsageError(`${what}: this model has no token embedding for trainable tokens`);
  return host as Required<Pick<LoraHost, 'tokenAdapters' | 'embedModuleName' | 'embed'>>;
}

function checkTokenIds(host: LoraHost, ids: readonly number[], what: string): void {
  const vocab = tokenHost(host, what).embed.shape[0]!;
  for (const id of ids)
    if (!(Number.isInteger(id) && id >= 0 && id < vocab))
      throw new UsageError(`${what}: token id ${id} is outside the vocabulary of ${vocab}`);
}

export const DECODER_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The target_modules that put LoRA on the given projections of the text decoder only (default: all
 *  seven linear layers). For a model with a vision tower a PEFT list would also catch SigLIP's
 *  q/k/v_proj, so the decoder is named by a regex. */
export function decoderTargets(modelType: string, modules: readonly string[] = DECODER_PROJECTIONS): string[] | string {
  if (modelType === 'gemma3') return `.*language_model.*\\.(${modules.join('|')})`;
  return [...modules];
}

/** LoRA settings a user chooses; the rest comes from the paper's defaults. */
export interface LoraSettings {
  r?: number;
  alpha?: number;
  dropout?: number;
  /** Decoder projections to adapt, e.g. ['q_proj', 'v_proj'] (default: all seven). */
  targets?: string[];
}

/** A full LoRA config for a model type: the paper's defaults (PAPER_LORA) on the decoder, overridden
 *  by `settings`, each checked. */
/** Largest LoRA rank accepted before the model is known (each projection also caps r at min(in, out)). */
export const MAX_LORA_RANK = 4096;

export function loraConfig(modelType: string, settings: LoraSettings = {}): LoraConfig {
  const cfg: LoraConfig = { ...PAPER_LORA, targetModules: decoderTargets(modelType, settings.targets) };
  if (settings.r !== undefined) {
    if (!Number.isInteger(settings.r) || settings.r < 1 || settings.r > MAX_LORA_RANK)
      throw new UsageError(`LoRA r=${settings.r}: r must be an integer in 1…${MAX_LORA_RANK}`);
    cfg.r = settings.r;
  }
  if (settings.alpha !== undefined) {
    if (!(settings.alpha > 0 && Number.isFinite(settings.alpha)))
      throw new UsageError(`LoRA alpha=${settings.alpha}: alpha must be positive`);
    cfg.alpha = settings.alpha;
  }
  if (settings.dropout !== undefined) {
    if (!(settings.dropout >= 0 && settings.dropout < 1))
      throw new UsageError(`LoRA dropout=${settings.dropout}: dropout must be in [0, 1)`);
    cfg.dropout = settings.dropout;
  }
  if (settings.targets !== undefined && (settings.targets.length === 0 || !settings.targets.every((t) => /^[A-Za-z0-9_]+$/.test(t))))
    throw new UsageError(`LoRA targets ${settings.targets.join('+')}: name decoder projections such as q_proj+v_proj`);
  return cfg;
}

function targets(host: LoraHost, cfg: LoraConfig): Proj[] {
  const out = [...host.projections().values()].filter((p) => targetMatches(p.name, cfg.targetModules));
  if (out.length === 0)
    throw new UsageError(
      `target_modules ${JSON.stringify(cfg.targetModules)} match no projection of the model`,
      'use module names such as q_proj, v_proj',
    );
  return out;
}

/** Adds a fresh adapter named `name` on every targeted projection (trainable A and B); returns its
 *  parameters. It does not become active. */
export function addAdapter(host: LoraHost, name: string, cfg: LoraConfig = PAPER_LORA, seed = 0): Tensor[] {
  const rng = new Rng(seed);
  const params: Tensor[] = [];
  const projections = targets(host, cfg);
  // A rank above min(in, out) adds parameters without adding expressiveness; checked before allocating.
  for (const p of projections) {
    const most = Math.min(p.inFeatures, p.outFeatures);
    if (cfg.r > most)
      throw new UsageError(
        `LoRA r=${cfg.r} is larger than ${p.name} (${p.outFeatures}×${p.inFeatures}) allows`,
        `use r ≤ ${most}; the paper uses 16`,
      );
  }
  for (const p of projections) {
    if (p.adapters.has(name))
      throw new UsageError(`adapter "${name}" is already loaded`, 'choose another adapter name or remove the old one');
    const bound = 1 / Math.sqrt(p.inFeatures);
    const A = new Tensor(
      [cfg.r, p.inFeatures],
      Float32Array.from({ length: cfg.r * p.inFeatures }, () => rng.uniform(-bound, bound)),
      { requiresGrad: true, name: peftKey(p.name, 'A') },
    );
    const B = new Tensor([p.outFeatures, cfg.r], new Float32Array(p.outFeatures * cfg.r), {
      requiresGrad: true,
      name: peftKey(p.name, 'B'),
    });
    p.adapters.set(name, { A, B, scaling: loraScaling(cfg), dropout: cfg.dropout });
    params.push(A, B);
  }
  const ids = cfg.trainableTokenIndices ?? [];
  if (ids.length > 0) {
    checkTokenIds(host, ids, `adapter "${name}"`);
    const h = tokenHost(host, `adapter "${name}"`);
    const D = h.embed.shape[1]!;
    // PEFT initialises the delta at zero: the adapter starts as the base model.
    const delta = new Tensor([ids.length, D], new Float32Array(ids.length * D), {
      requiresGrad: true,
      name: tokenDeltaKey(h.embedModuleName),
    });
    h.tokenAdapters.set(name, { ids: Int32Array.from(ids), delta });
    params.push(delta);
  }
  adapterConfigs.set(host, { ...(adapterConfigs.get(host) ?? {}), [name]: cfg });
  return params;
}

const adapterConfigs = new WeakMap<LoraHost, Record<string, LoraConfig>>();

export function adapterNames(host: LoraHost): string[] {
  return Object.keys(adapterConfigs.get(host) ?? {});
}

export function adapterConfig(host: LoraHost, name: string): LoraConfig {
  const cfg = adapterConfigs.get(host)?.[name];
  if (!cfg) throw new UsageError(`no adapter named "${name}" is loaded (loaded: ${adapterNames(host).join(', ') || 'none'})`);
  return cfg;
}

/** Makes `name` the active adapter (null: the base model alone). */
export function setActiveAdapter(host: LoraHost, name: string | null): void {
  if (name !== null) adapterConfig(host, name);
  for (const p of host.projections().values()) p.active = name === null ? null : (p.adapters.get(name) ?? null);
  if (host.tokenAdapters) host.activeTokenAdapter = name === null ? null : (host.tokenAdapters.get(name) ?? null);
}

/** The trainable tensors of an adapter (A and B of every targeted projection). */
export function adapterParameters(host: LoraHost, name: string): Tensor[] {
  adapterConfig(host, name);
  const out = [...host.projections().values()].flatMap((p) => {
    const a = p.adapters.get(name);
    return a ? [a.A, a.B] : [];
  });
  const ta = host.tokenAdapters?.get(name);
  if (ta) out.push(ta.delta);
  return out;
}

/** Writes adapter_config.json and adapter_model.safetensors (fp32, PEFT key names). */
export function saveAdapter(host: LoraHost, name: string, dir: string, baseModel: string | null = null): void {
  const cfg = adapterConfig(host, name);
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, TensorToWrite>();
  for (const p of host.projections().values()) {
    const a = p.adapters.get(name);
    if (!a) continue;
    tensors.set(peftKey(p.name, 'A'), { dtype: 'F32', shape: [...a.A.shape], data: a.A.data });
    tensors.set(peftKey(p.name, 'B'), { dtype: 'F32', shape: [...a.B.shape], data: a.B.data });
  }
  const ta = host.tokenAdapters?.get(name);
  if (ta) tensors.set(tokenDeltaKey(host.embedModuleName!), { dtype: 'F32', shape: [...ta.delta.shape], data: ta.delta.data });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(
    join(dir, 'adapter_config.json'),
    `${JSON.stringify(adapterConfigToJson({ ...cfg, baseModel: baseModel ?? cfg.baseModel }), null, 2)}\n`,
  );
}

/** Loads a PEFT adapter folder under `name`. Every key must name a projection of this model with
 *  the right shapes, every targeted projection must have both matrices. */
export function loadAdapter(host: LoraHost, dir: string, name = 'default'): LoraConfig {
  const weightsPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) {
    const pickles = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(bin|pt|pth)$/i.test(f)) : [];
    if (pickles.length > 0) refusePickle(join(dir, pickles[0]!));
    throw new FormatError('E_ADAPTER_FILES', `${weightsPath} does not exist`, {
      file: weightsPath,
      fix: 'point --adapter at a PEFT folder with adapter_config.json and adapter_model.safetensors',
    });
  }
  const configPath = join(dir, 'adapter_config.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (cause) {
    throw new FormatError('E_ADAPTER_CONFIG', `${configPath} is missing or not valid JSON: ${(cause as Error).message}`, {
      file: configPath,
      fix: 'restore adapter_config.json next to adapter_model.safetensors',
    });
  }
  const cfg = parseAdapterConfig(json, configPath);
  if (adapterConfigs.get(host)?.[name]) throw new UsageError(`adapter "${name}" is already loaded`, 'load it under another name');
  const projections = host.projections();
  const file = SafetensorsFile.open(weightsPath);
  try {
    const found = new Map<string, { A?: Tensor; B?: Tensor }>();
    let tokenDelta: Tensor | null = null;
    const fail = (key: string, message: string, fix: string): never => {
      throw new FormatError('E_ADAPTER_TENSORS', message, { file: weightsPath, field: key, fix });
    };
    const ids = cfg.trainableTokenIndices ?? [];
    const deltaKey = host.embedModuleName ? tokenDeltaKey(host.embedModuleName) : null;
    for (const [key, info] of file.tensors) {
      if (key === deltaKey || key === `${deltaKey}.default`) {
        if (ids.length === 0)
          fail(
            key,
            `${key} is present but adapter_config.json lists no trainable_token_indices`,
            'restore trainable_token_indices in adapter_config.json',
          );
        checkTokenIds(host, ids, configPath);
        const D = host.embed!.shape[1]!;
        if (info.shape.length !== 2 || info.shape[0] !== ids.length || info.shape[1] !== D)
          fail(
            key,
            `${key} is [${info.shape.join(', ')}], expected [${ids.length}, ${D}]`,
            'the adapter was trained on another base model',
          );
        tokenDelta = new Tensor(
          info.shape,
          readFloats(file.readTensor(key), info.dtype, ids.length * D, (message) =>
            fail(key, `${key} ${message}`, 'the adapter is corrupt or not a floating-point file'),
          ),
          { name: key, requiresGrad: false },
        );
        continue;
      }
      const parsed = parsePeftKey(key);
      if (!parsed)
        fail(
          key,
          `${key} is not a LoRA key (base_model.model.<module>.lora_A|lora_B.weight)`,
          'this file holds more than a LoRA adapter; modules_to_save is not supported',
        );
      const proj = projections.get(parsed!.moduleName);
      if (!proj)
        fail(
          key,
          `${key} names module ${parsed!.moduleName}, which this model does not have`,
          'the adapter was trained on another architecture or naming layout',
        );
      const expected = parsed!.which === 'A' ? [cfg.r, proj!.inFeatures] : [proj!.outFeatures, cfg.r];
      if (info.shape.length !== 2 || info.shape[0] !== expected[0] || info.shape[1] !== expected[1]) {
        fail(
          key,
          `${key} is [${info.shape.join(', ')}], expected [${expected.join(', ')}] (r = ${cfg.r})`,
          'adapter_config.json r does not match the weights, or the base model differs',
        );
      }
      const data = readFloats(file.readTensor(key), info.dtype, info.shape[0]! * info.shape[1]!, (message) =>
        fail(key, `${key} ${message}`, 'the adapter is corrupt (diverged training?) or not a floating-point file'),
      );
      const entry = found.get(proj!.name) ?? {};
      entry[parsed!.which] = new Tensor(info.shape, data, { name: key, requiresGrad: false });
      found.set(proj!.name, entry);
    }
    if (found.size === 0) fail('', `${weightsPath} holds no LoRA tensors`, 'the adapter is empty');
    if (ids.length > 0 && !tokenDelta)
      fail(
        deltaKey ?? 'trainable_token_indices',
        `adapter_config.json lists ${ids.length} trainable_token_indices but ${weightsPath} has no ${deltaKey ?? 'token delta'}`,
        'the adapter file is incomplete',
      );
    for (const [module, pair] of found) {
      if (!pair.A || !pair.B)
        fail(
          peftKey(module, pair.A ? 'B' : 'A'),
          `module ${module} has lora_${pair.A ? 'A' : 'B'} but no lora_${pair.A ? 'B' : 'A'}`,
          'the adapter file is incomplete',
        );
    }
    for (const [module, pair] of found) {
      const lp: LoraPair = { A: pair.A!, B: pair.B!, scaling: loraScaling(cfg), dropout: cfg.dropout };
      projections.get(module)!.adapters.set(name, lp);
    }
    if (tokenDelta) host.tokenAdapters!.set(name, { ids: Int32Array.from(ids), delta: tokenDelta });
  } finally {
    file.close();
  }
  adapterConfigs.set(host, { ...(adapterConfigs.get(host) ?? {}), [name]: cfg });
  return cfg;
}

/** W += scaling · B·A on every projection of the adapter, then drops it. A bf16 base weight becomes
 *  fp32 (merging in bf16 would round the update away). */
export function mergeAdapter(host: LoraHost, name: string): void {
  adapterConfig(host, name);
  const K = getBackend();
  for (const p of host.projections().values()) {
    const a = p.adapters.get(name);
    if (!a) continue;
    const w = widen(p.weight);
    const [out, inF] = w.shape as [number, number];
    const r = a.A.shape[0]!;
    K.gemm({
      transA: false,
      transB: false,
      M: out,
      N: inF,
      K: r,
      alpha: a.scaling,
      beta: 1,
      A: a.B.data,
      lda: r,
      B: a.A.data,
      ldb: inF,
      C: w.data,
      ldc: inF,
    });
    p.weight = w;
    host.params?.set(`${p.name}.weight`, w);
    if (p.active === a) p.active = null;
    p.adapters.delete(name);
  }
  const ta = host.tokenAdapters?.get(name);
  if (ta) {
    // E[id] += delta; a bf16 table becomes fp32 (the tied LM head is the same tensor).
    if (!host.setEmbedding) throw new UsageError(`adapter "${name}": this model cannot merge trainable tokens`);
    const e = widen(host.embed!);
    const D = e.shape[1]!;
    ta.ids.forEach((id, k) => {
      for (let j = 0; j < D; j++) e.data[id * D + j]! += ta.delta.data[k * D + j]!;
    });
    host.setEmbedding(e);
    if (host.activeTokenAdapter === ta) host.activeTokenAdapter = null;
    host.tokenAdapters!.delete(name);
  }
  const all = { ...(adapterConfigs.get(host) ?? {}) };
  delete all[name];
  adapterConfigs.set(host, all);
}

/** Removes an adapter without merging it. */
export function removeAdapter(host: LoraHost, name: string): void {
  adapterConfig(host, name);
  for (const p of host.projections().values()) {
    const a = p.adapters.get(name);
    if (a && p.active === a) p.active = null;
    p.adapters.delete(name);
  }
  const ta = host.tokenAdapters?.get(name);
  if (ta && host.activeTokenAdapter === ta) host.activeTokenAdapter = null;
  host.tokenAdapters?.delete(name);
  const all = { ...(adapterConfigs.get(host) ?? {}) };
  delete all[name];
  adapterConfigs.set(host, all);
}
