// Pretraining the embedded base VLM: presets, the vision stage, grounding targets and `pretrain()`.
export { pretrain, presetConfig, CorpusSource, PRETRAIN_PRESETS } from './pretrain.ts';
export type { PretrainPreset, PretrainOptions, PretrainResult, VqaEvaluator } from './pretrain.ts';
export { groundingObjective, namingBatch } from './objective.ts';
export type { AttentionObjective, GroundingExample } from './objective.ts';
export { attentionTargetLoss } from './attend.ts';
export type { AttendTargets } from './attend.ts';
