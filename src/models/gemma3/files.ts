// Gemma 3 checkpoints in Hugging Face layout: `config.json` plus `model.safetensors` (or shards with
// `model.safetensors.index.json`). Loading maps every file name to its canonical name, asserts every
// shape against the config (missing, unknown or misshapen tensors are errors that list them), and
// keeps bf16 matrices in bf16 unless fp32 is asked for (training). Saving writes the canonical
// (Hub) names in fp32 or bf16 with a generation_config.json.
import { existsSync, readdirSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, FormatError } from '../../errors/index.ts';
import { Checkpoint, writeCheckpoint, INDEX_FILE } from '../../formats/index.ts';
import type { TensorToWrite } from '../../formats/index.ts';
import { Tensor, Bf16Tensor } from '../../tensor/index.ts';
import type { Weight } from '../../tensor/index.ts';
import { writeFileAtomic } from '../../util/index.ts';
import { refusePickle } from '../../formats/index.ts';
import { narrow, readFloats, widen } from '../tensors.ts';
import { parseGemma3Config, gemma3ConfigToJson } from './config.ts';
import type { AnyGemma3Config } from './config.ts';
import { Gemma3Model } from './model.ts';
import { matchGemma3Tensors } from './weights.ts';

export interface LoadOptions {
  /** 'auto' keeps bf16 matrices in bf16 (frozen; inference and LoRA); 'f32' widens everything
   *  (full fine-tuning). Default 'auto'. */
  dtype?: 'auto' | 'f32';
}

/** Reads and parses `dir/config.json` (typed errors for a missing file or bad JSON). */
export function readModelConfigJson(dir: string): unknown {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new ConfigError('E_MODEL_CONFIG', `${path} does not exist`, {
      file: path,
      fix: 'point --model at a folder with config.json and model.safetensors (a Hugging Face checkpoint)',
    });
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError('E_MODEL_CONFIG', `${path} is not valid JSON: ${(cause as Error).message}`, {
      file: path,
      fix: 'restore config.json from the model repository',
    });
  }
}

/** Refuses folders whose weights exist only as pickles. */
function checkWeightsPresent(dir: string): void {
  if (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'))) return;
  const pickles = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(bin|pt|pth|ckpt)$/i.test(f)) : [];
  if (pickles.length > 0) refusePickle(join(dir, pickles[0]!));
  throw new FormatError('E_MODEL_FILES', `${dir} has no model.safetensors or model.safetensors.index.json`, {
    file: dir,
    fix: 'download the safetensors weights of the checkpoint',
  });
}

export function loadGemma3(dir: string, options: LoadOptions = {}): Gemma3Model {
  const cfg = parseGemma3Config(readModelConfigJson(dir), join(dir, 'config.json'));
  checkWeightsPresent(dir);
  const ck = Checkpoint.open(dir);
  try {
    const match = matchGemma3Tensors(cfg, ck.shapes(), dir);
    const params = new Map<string, Weight>();
    for (const [canonical, fileName] of match.fileName) {
      const info = ck.info(fileName);
      const raw = ck.read(fileName);
      const shape = info.shape;
      const n = shape.reduce((a, b) => a * b, 1);
      const keepBf16 =
        options.dtype !== 'f32' &&
        info.dtype === 'BF16' &&
        shape.length === 2 &&
        !canonical.includes('mm_input_projection') &&
        !canonical.includes('position_embedding');
      if (keepBf16) {
        params.set(canonical, new Bf16Tensor(shape, raw as Uint16Array, canonical));
        continue;
      }
      const data = readFloats(raw, info.dtype, n, (message) => {
        throw new FormatError('E_MODEL_TENSORS', `tensor ${fileName} ${message}`, {
          file: dir,
          field: fileName,
          fix: 'the checkpoint is corrupt or not a floating-point checkpoint; download or convert it again',
        });
      });
      params.set(canonical, new Tensor(shape, data, { name: canonical }));
    }
    return new Gemma3Model(cfg, params);
  } finally {
    ck.close();
  }
}

export interface SaveOptions {
  dtype?: 'f32' | 'bf16';
  maxShardBytes?: number;
}

/** Writes config.json, generation_config.json and the weights (each file atomically). */
export function saveGemma3(model: Gemma3Model, dir: string, options: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, w] of model.params) {
    if (options.dtype === 'bf16') tensors.set(name, { dtype: 'BF16', shape: [...w.shape], data: narrow(w) });
    else tensors.set(name, { dtype: 'F32', shape: [...w.shape], data: widen(w).data });
  }
  const files = writeCheckpoint(dir, tensors, options.maxShardBytes, { format: 'pt' });
  if (files.length === 1) rmSync(join(dir, INDEX_FILE), { force: true });
  writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(gemma3ConfigToJson(model.cfg), null, 2)}\n`);
  const t = model.cfg.text;
  writeFileAtomic(
    join(dir, 'generation_config.json'),
    `${JSON.stringify({ bos_token_id: t.bosTokenId, eos_token_id: t.eosTokenId, pad_token_id: t.padTokenId, do_sample: false }, null, 2)}\n`,
  );
}

export type { AnyGemma3Config };
