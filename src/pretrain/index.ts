// Pretraining the embedded base VLM: presets, the vision stage, grounding targets and `pretrain()`.
export { pretrain, presetConfig, CorpusSource, PRETRAIN_PRESETS } from './pretrain.ts';
export type { PretrainPreset, PretrainOptions, PretrainResult } from './pretrain.ts';
