// Model families by `model_type` in config.json. Each family loads a Hugging Face folder into a
// model on the engine; unknown types are errors that list what is supported.
import { ConfigError } from '../errors/index.ts';
import { loadGemma3, readModelConfigJson, saveGemma3 } from './gemma3/files.ts';
import type { LoadOptions, SaveOptions } from './gemma3/files.ts';
import { Gemma3Model } from './gemma3/model.ts';
import { join } from 'node:path';

export interface ModelFamily {
  modelType: string;
  description: string;
  load(dir: string, options?: LoadOptions): Gemma3Model;
  save(model: Gemma3Model, dir: string, options?: SaveOptions): void;
}

const families = new Map<string, ModelFamily>();

export function registerModelFamily(f: ModelFamily): void {
  families.set(f.modelType, f);
}

export function modelTypes(): string[] {
  return [...families.keys()];
}

registerModelFamily({
  modelType: 'gemma3',
  description: 'Gemma3ForConditionalGeneration (SigLIP tower, pooled projector, Gemma 3 decoder)',
  load: loadGemma3,
  save: saveGemma3,
});
registerModelFamily({ modelType: 'gemma3_text', description: 'Gemma3ForCausalLM (text only)', load: loadGemma3, save: saveGemma3 });

/** Loads any registered model family from a Hugging Face folder. */
export function loadModel(dir: string, options: LoadOptions = {}): Gemma3Model {
  const json = readModelConfigJson(dir) as Record<string, unknown>;
  const type = json && typeof json === 'object' ? json.model_type : undefined;
  const family = typeof type === 'string' ? families.get(type) : undefined;
  if (!family) {
    throw new ConfigError('E_MODEL_TYPE', `model_type ${JSON.stringify(type)} is not supported (supported: ${modelTypes().join(', ')})`, {
      file: join(dir, 'config.json'),
      field: 'model_type',
      fix: 'use a Gemma 3 checkpoint, or add a model family to src/models/registry.ts',
    });
  }
  return family.load(dir, options);
}

export function saveModel(model: Gemma3Model, dir: string, options: SaveOptions = {}): void {
  families.get(model.cfg.modelType)!.save(model, dir, options);
}
