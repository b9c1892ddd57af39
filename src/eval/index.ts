// Evaluation: held-out VQA accuracy and retention.
export { evaluateVqa, loadVqaModel, scoreVqa, retention, vqaTable, vqaPrompt, answerStopIds, VQA_EVAL_SEED, VQA_EVAL_PER_CATEGORY } from './vqa.ts';
export type { VqaReport, VqaOptions, VqaModel, VqaPrediction, CategoryScore } from './vqa.ts';
