// The world-language corpus: scenes, questions, conversations, the held-out VQA set and answer
// normalisation; every item is a pure function of a seed and an index.
export { DEFAULT_CORPUS_MIX, VQA_CATEGORIES, checkCorpusMix, corpusConversation, conversationMessages, corpusTexts, heldOutVqa, normaliseAnswer, renderScene, sceneWorld } from './corpus.ts';
export { answerMatches, listWellFormed } from './answers.ts';
export type { VqaCategory, VqaItem, CorpusConversation, CorpusKind, CorpusMix, QA, Scene, Placement } from './corpus.ts';
