// Policies: the Policy contract (types.ts), the hierarchical VLA controller, verifiers and the
// reference policies of the closed-loop harness.
export type { Observation, PrivilegedState, Policy, PolicyMetadata, PolicyResult, PolicyText, PolicyTiming } from './types.ts';
