// Training: the generic trainer (LoRA and full, an objective hook), checkpoints and resume, SFT encoding and `finetune()`.
export {
  train,
  evaluateLoss,
  makeBatch,
  nextTokenObjective,
  checkTrainerConfig,
  assertNewRun,
  loadLatestTrainable,
  writeLossChart,
  TRAINER_DEFAULTS,
} from './trainer.ts';
export type {
  TrainExample,
  ExampleSource,
  Objective,
  ObjectiveResult,
  TrainerConfig,
  TrainerRun,
  TrainResult,
  StepMetrics,
} from './trainer.ts';
export { encodeConversation, loadSftSplit } from './sft.ts';
export { finetune, FINETUNE_DEFAULTS } from './finetune.ts';
export type { FinetuneOptions, FinetuneResult } from './finetune.ts';
export type { ChatEncoder, SplitStats } from './sft.ts';
