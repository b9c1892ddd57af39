// Decoding: samplers, stop strings and grammar-constrained token selection (the generation loop joins later).
export { TokenTrie, allowedTokens, tokenSurfaceTexts, GrammarConstraint } from './constrained.ts';
export type { CharGrammar } from './constrained.ts';
export { sampleToken, argmax, StopMatcher, checkSampling, GREEDY } from './sampling.ts';
export type { SamplingConfig } from './sampling.ts';
export { generate } from './generate.ts';
export type { GenerateRequest, GenerateOptions, Generation } from './generate.ts';
