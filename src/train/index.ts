// Training: the trainer (LoRA and full), SFT encoding, the synthetic pretraining corpus and `pretrain`.
export { train, evaluateLoss, makeBatch, checkTrainerConfig, loadLatestTrainable, writeLossChart, TRAINER_DEFAULTS } from './trainer.ts';
export type { TrainExample, ExampleSource, TrainerConfig, TrainerRun, TrainResult, StepMetrics } from './trainer.ts';
export { encodeConversation, loadSftSplit } from './sft.ts';
export type { ChatEncoder, SplitStats } from './sft.ts';
export { pretrain, presetConfig, CorpusSource, PRETRAIN_PRESETS } from './pretrain.ts';
export type { PretrainPreset, PretrainOptions, PretrainResult } from './pretrain.ts';
export { DEFAULT_CORPUS_MIX, VQA_CATEGORIES, checkCorpusMix, corpusConversation, conversationMessages, corpusTexts, heldOutVqa, normaliseAnswer, renderScene, sceneWorld } from './corpus.ts';
export type { VqaCategory, VqaItem, CorpusConversation, CorpusKind, QA, Scene, Placement } from './corpus.ts';
