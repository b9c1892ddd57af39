// Decoding: the generation loop (synchronous, or giving the event loop turns), samplers, stop strings and
// grammar-constrained token selection.
export { TokenTrie, allowedTokens, tokenSurfaceTexts, GrammarConstraint } from './constrained.ts';
export type { CharGrammar } from './constrained.ts';
export { sampleToken, argmax, StopMatcher, checkSampling, GREEDY } from './sampling.ts';
export type { SamplingConfig } from './sampling.ts';
export { generate, generateYielding } from './generate.ts';
export type { GenerateRequest, GenerateOptions, Generation, YieldOptions } from './generate.ts';
