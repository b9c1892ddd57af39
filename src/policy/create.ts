// A policy described as plain data (what `vlm2vla eval sim`, `act` and `serve` parse from their
// flags), so that worker processes can rebuild the same policy. API keys travel as the name of an
// environment variable, never as a value.
import { UsageError } from '../errors/index.ts';
import type { GrammarMode } from './backend.ts';
import { loadModelPolicy } from './load.ts';
import { ExpertPolicy, RandomPolicy } from './reference.ts';
import type { Policy } from './types.ts';

export interface PolicySpec {
  kind: 'expert' | 'random' | 'model';
  seed: number;
  model?: string;
  adapter?: string | null;
  baseUrl?: string | null;
  /** Environment variable that holds the remote server's API key. */
  apiKeyEnv?: string | null;
  grammar?: GrammarMode;
  greedy?: boolean;
  verifier?: string;
  /** `verifier: 'openai'` on its own endpoint (e.g. Gemini) while the policy runs elsewhere. */
  verifierBaseUrl?: string | null;
  verifierModel?: string;
  /** Environment variable holding the verifier endpoint's API key. */
  verifierApiKeyEnv?: string | null;
  actionStyle?: string;
  reasoning?: 'full' | 'none';
  outOfDistribution?: boolean;
  constrained?: boolean;
}

export const POLICY_KINDS = ['expert', 'random', 'model'] as const;

export async function createPolicy(spec: PolicySpec): Promise<Policy> {
  switch (spec.kind) {
    case 'expert':
      return new ExpertPolicy(spec.seed);
    case 'random':
      return new RandomPolicy(spec.seed);
    case 'model': {
      if (!spec.model) throw new UsageError('--policy model needs --model (a model folder, or the model name on --base-url)');
      const key = (name: string | null | undefined, flag: string) => {
        if (!name) return '';
        const v = process.env[name];
        if (!v) throw new UsageError(`the environment variable ${name} (${flag}) is not set`, `export ${name}=… first`);
        return v;
      };
      const apiKey = key(spec.apiKeyEnv, '--api-key-env');
      const verifierEndpoint = spec.verifierBaseUrl
        ? { baseUrl: spec.verifierBaseUrl, model: spec.verifierModel ?? '', apiKey: key(spec.verifierApiKeyEnv, '--verifier-api-key-env') }
        : null;
      return loadModelPolicy({ ...spec, model: spec.model, apiKey, verifierEndpoint });
    }
    default:
      throw new UsageError(`unknown policy ${JSON.stringify((spec as { kind: unknown }).kind)}`, `use one of ${POLICY_KINDS.join(', ')}`);
  }
}
