// A chat model folder ready to generate: the model (with an adapter applied when one is given), its
// tokenizer and its chat template — what evaluation, the policy and the server all load.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors/index.ts';
import { ChatTemplate, Tokenizer } from '../tokenizer/index.ts';
import { loadAdapter, setActiveAdapter } from './lora/adapter.ts';
import { loadModel } from './registry.ts';
import type { Gemma3Model } from './gemma3/model.ts';

export interface ChatModelFiles {
  model: Gemma3Model;
  tokenizer: Tokenizer;
  template: ChatTemplate;
}

/** The adapter folder of a `vlm2vla train` run folder (RUN/adapter) or of a PEFT folder. */
export function adapterFolder(adapter: string): string {
  const dir = existsSync(join(adapter, 'adapter_config.json')) ? adapter : join(adapter, 'adapter');
  if (!existsSync(join(dir, 'adapter_config.json'))) {
    const full = existsSync(join(adapter, 'model', 'config.json'));
    throw new UsageError(
      `${adapter} holds no adapter (no adapter_config.json in it or in ${join(adapter, 'adapter')})`,
      full
        ? `that run trained all weights: pass --model ${join(adapter, 'model')} instead`
        : 'pass a `vlm2vla train` run folder or a PEFT adapter folder',
    );
  }
  return dir;
}

/** Loads a model folder with its tokenizer and chat template, and an adapter if given. */
export function loadChatModel(dir: string, adapter?: string | null): ChatModelFiles {
  const model = loadModel(dir);
  const tokenizer = Tokenizer.fromDir(dir);
  const template = ChatTemplate.fromConfig(tokenizer.config, join(dir, 'tokenizer_config.json'));
  if (!template)
    throw new UsageError(`${dir}/tokenizer_config.json has no chat_template`, 'use a chat model folder (with tokenizer_config.json)');
  if (adapter) {
    loadAdapter(model, adapterFolder(adapter));
    setActiveAdapter(model, 'default');
  }
  return { model, tokenizer, template };
}
