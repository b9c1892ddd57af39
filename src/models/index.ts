// Models: config-driven Gemma 3 (vision-language and text-only) on the engine, Hugging Face files,
// LoRA adapters with PEFT files, GGUF export.
export { Gemma3Model, KvCache, Proj } from './gemma3/model.ts';
export type { ModelInput, ForwardOptions, LoraPair, InitOptions } from './gemma3/model.ts';
export { parseGemma3Config, gemma3ConfigToJson } from './gemma3/config.ts';
export type { AnyGemma3Config, Gemma3Config, Gemma3TextConfig, SiglipVisionConfig } from './gemma3/config.ts';
export { gemma3TensorSpec, matchGemma3Tensors } from './gemma3/weights.ts';
export { imageSpec } from './gemma3/image-tokens.ts';
export { loadGemma3, saveGemma3, readModelConfigJson } from './gemma3/files.ts';
export type { LoadOptions, SaveOptions } from './gemma3/files.ts';
export { loadModel, saveModel, modelTypes, registerModelFamily } from './registry.ts';
export type { ModelFamily } from './registry.ts';
export {
  addAdapter,
  loadAdapter,
  saveAdapter,
  mergeAdapter,
  removeAdapter,
  setActiveAdapter,
  adapterParameters,
  adapterNames,
  adapterConfig,
  decoderTargets,
  loraConfig,
  DECODER_PROJECTIONS,
} from './lora/adapter.ts';
export type { LoraHost, LoraSettings } from './lora/adapter.ts';
export { PAPER_LORA, parseAdapterConfig, adapterConfigToJson, loraScaling, peftKey, parsePeftKey, targetMatches } from './lora/peft.ts';
export type { LoraConfig } from './lora/peft.ts';
export { loadChatModel, adapterFolder } from './chat-model.ts';
export type { ChatModelFiles } from './chat-model.ts';
