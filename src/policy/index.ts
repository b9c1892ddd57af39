// Policies: the Policy contract (types.ts), the hierarchical VLA controller, verifiers and the
// reference policies of the closed-loop harness.
export type {
  Observation,
  PrivilegedState,
  Policy,
  PolicyFactory,
  PolicyMetadata,
  PolicyResult,
  PolicyText,
  PolicyTiming,
} from './types.ts';
export { HierarchicalPolicy, HIERARCHICAL_DEFAULTS, PAPER_SAMPLING, GREEDY_SAMPLING, MAX_NEW_TOKENS } from './hierarchical.ts';
export type { HierarchicalOptions, StageSampling, CycleStats, Stage } from './hierarchical.ts';
export { EngineBackend, OpenAIBackend } from './backend.ts';
export type { ModelBackend, StageRequest, StageOutput, GrammarMode, OpenAIBackendOptions } from './backend.ts';
export { ModelVerifier, VERIFY_MAX_NEW_TOKENS, BudgetVerifier, OracleVerifier, subtaskDoneInSim, subtaskKind } from './verifiers.ts';
export type { Verifier, VerifyContext, VerifyDecision, SubtaskKind } from './verifiers.ts';
export { ExpertPolicy, RandomPolicy, ReplayPolicy } from './reference.ts';
export {
  SUBTASKS_GRAMMAR,
  PLAN_GRAMMAR,
  VERIFY_GRAMMAR,
  DIRECTION_GRAMMAR,
  parseSubtasks,
  parsePlan,
  parseVerify,
  parseDirection,
  toGbnf,
  toRegex,
  MAX_SUBTASKS,
  MAX_SUBTASK_CHARS,
} from './grammars.ts';
export { loadModelPolicy, buildModelPolicy, modelPolicyFactory, actingStyle, parseVerifier } from './load.ts';
export type { LoadPolicyOptions, ActingStyle } from './load.ts';
export { createPolicy, POLICY_KINDS } from './create.ts';
export type { PolicySpec } from './create.ts';
