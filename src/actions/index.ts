// Actions as language: chunking, codecs (list, phrase, rot, tokens) with strict decoders and
// grammars, motion plans, and the safety envelope.
import './codecs/list.ts';
import './codecs/phrase.ts';
import './codecs/tokens.ts';
import './codecs/at.ts';

export { chunkTrajectory, sumElements, DEFAULT_CHUNKING } from './chunk.ts';
export type { ChunkOptions } from './chunk.ts';
export { getCodec, listCodecs, registerCodec, codecPromptHint, MAX_ELEMENTS, MAX_ACTION_TEXT } from './codec.ts';
export type { ActionCodec, CodecOptions, TokensCodecOptions } from './codec.ts';
export { Grammar, lit, set, seq, alt, rep, opt } from './grammar.ts';
export type { GrammarState, Node as GrammarNode } from './grammar.ts';
export { ActionParseError, fixed1 } from './types.ts';
export type { ActionElement, ChunkElement, ParseResult } from './types.ts';
export { motionPlan, describeDisplacement, planDirections, toGripperFrame, DEFAULT_MOTION } from './motion.ts';
export type { MotionThresholds, PlanPhase, Sign } from './motion.ts';
export {
  SafetyEnvelope,
  UnsafeActionError,
  StoppedError,
  BRIDGE_LIMITS,
  DEFAULT_MAX_ELEMENT_CM,
  elementLimitFromData,
} from './envelope.ts';
export type { EnvelopeLimits } from './envelope.ts';
export { makeTokensCodec, BINS, ACTION_MARKERS, tokenBinRanges } from './codecs/tokens.ts';
export {
  leastUsedTokens,
  markerMap,
  actionIdsToText,
  splitMarkers,
  stripMarkers,
  saveActionTokens,
  loadActionTokens,
  ACTION_TOKENS_FILE,
} from './action-tokens.ts';
export type { ActionTokens } from './action-tokens.ts';
export { DIGIT_MARKERS } from './codecs/at.ts';
