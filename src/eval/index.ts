// Evaluation: held-out VQA accuracy and retention; offline per-stage checks on an SFT split.
// (Scoring, retention and the VQA report types are the corpus module's: src/corpus/vqa-score.ts.)
export { evaluateVqa, evaluateVqaFolder, loadVqaModel, vqaPrompt, answerStopIds } from './vqa.ts';
export type { VqaOptions, VqaModel } from './vqa.ts';
export { evaluateActions, openEvalSet, loadActionModel, actionsTable, stageChecks, EVAL_STAGES, ACTION_EVAL_SCHEMA } from './actions.ts';
export type {
  ActionEvalReport,
  ActionEvalOptions,
  ActionEvalSubject,
  ActionEvalModel,
  EvalSet,
  EvalStage,
  StageReport,
  RecordsLoss,
} from './actions.ts';
export { chunkError, zeroChunk, meanElement, scorePass } from './action-metrics.ts';
export type { ActionScore, PassScore } from './action-metrics.ts';
