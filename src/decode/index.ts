// Decoding: samplers, stop strings and grammar-constrained token selection (the generation loop joins later).
export { TokenTrie, allowedTokens, tokenSurfaceTexts, GrammarConstraint } from './constrained.ts';
export type { CharGrammar } from './constrained.ts';
export { sampleToken, argmax, StopMatcher, checkSampling, GREEDY } from './sampling.ts';
export type { SamplingConfig } from './sampling.ts';
