// The world-language corpus: scenes, questions, conversations, the held-out VQA set, answer
// normalisation and the scoring of answers to the held-out set; every item is a pure function of a
// seed and an index.
export {
  DEFAULT_CORPUS_MIX,
  checkCorpusMix,
  corpusConversation,
  conversationMessages,
  corpusTexts,
  heldOutVqa,
  normaliseAnswer,
  renderScene,
  sceneWorld,
} from './corpus.ts';
export { VQA_CATEGORIES } from './conversation.ts';
export { answerMatches, listWellFormed } from './answers.ts';
export { scoreVqa, retention, vqaTable, VQA_EVAL_SEED, VQA_EVAL_PER_CATEGORY } from './vqa-score.ts';
export type { VqaReport, VqaPrediction, CategoryScore } from './vqa-score.ts';
export type { VqaItem, CorpusMix } from './corpus.ts';
export type { VqaCategory, CorpusConversation, CorpusKind, QA, Scene, Placement } from './conversation.ts';
