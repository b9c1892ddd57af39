// Evaluation: held-out VQA accuracy and retention; offline per-stage checks on an SFT split.
export { evaluateVqa, loadVqaModel, scoreVqa, retention, vqaTable, vqaPrompt, answerStopIds, VQA_EVAL_SEED, VQA_EVAL_PER_CATEGORY } from './vqa.ts';
export type { VqaReport, VqaOptions, VqaModel, VqaPrediction, CategoryScore } from './vqa.ts';
export { evaluateActions, openEvalSet, loadActionModel, actionsTable, stageChecks, EVAL_STAGES, ACTION_EVAL_SCHEMA } from './actions.ts';
export type { ActionEvalReport, ActionEvalOptions, ActionEvalSubject, ActionEvalModel, EvalSet, EvalStage, StageReport, RecordsLoss } from './actions.ts';
export { chunkError, zeroChunk, meanElement, scorePass } from './action-metrics.ts';
export type { ActionScore, PassScore } from './action-metrics.ts';
