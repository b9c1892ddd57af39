// Decoding: grammar-constrained token selection (the generation loop and samplers join later).
export { TokenTrie, allowedTokens, tokenSurfaceTexts, GrammarConstraint } from './constrained.ts';
export type { CharGrammar } from './constrained.ts';
