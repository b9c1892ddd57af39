// Training: the generic trainer (LoRA and full), checkpoints and resume, and SFT encoding.
export { train, evaluateLoss, makeBatch, nextTokenObjective, checkTrainerConfig, assertNewRun, loadLatestTrainable, writeLossChart, TRAINER_DEFAULTS } from './trainer.ts';
export type { TrainExample, ExampleSource, Objective, ObjectiveResult, TrainerConfig, TrainerRun, TrainResult, StepMetrics } from './trainer.ts';
export { encodeConversation, loadSftSplit } from './sft.ts';
export type { ChatEncoder, SplitStats } from './sft.ts';
