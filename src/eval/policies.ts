// The policies an evaluation can run, as plain data: the library's (expert, random, a model on the
// engine or an OpenAI-compatible server; policy/create.ts) and a policy served by `vlm2vla serve`
// or any openpi-protocol server, reached with RemotePolicy.
import { UsageError } from '../errors/index.ts';
import { createPolicy } from '../policy/create.ts';
import type { PolicySpec } from '../policy/create.ts';
import type { Policy } from '../policy/types.ts';
import { RemotePolicy } from '../serve/client.ts';

export interface RemotePolicySpec {
  kind: 'remote';
  seed: number;
  /** ws://host:port of an openpi-protocol policy server. */
  server: string;
  /** Environment variable holding the server's API key. */
  apiKeyEnv?: string | null;
}

export type EvalPolicySpec = PolicySpec | RemotePolicySpec;

export async function createEvalPolicy(spec: EvalPolicySpec): Promise<Policy> {
  if (spec.kind !== 'remote') return createPolicy(spec);
  if (!/^wss?:\/\//.test(spec.server))
    throw new UsageError(`--server must be a ws:// or wss:// URL, got ${JSON.stringify(spec.server)}`, 'e.g. --server ws://127.0.0.1:8000');
  let apiKey: string | undefined;
  if (spec.apiKeyEnv) {
    apiKey = process.env[spec.apiKeyEnv];
    if (!apiKey)
      throw new UsageError(`the environment variable ${spec.apiKeyEnv} (--api-key-env) is not set`, `export ${spec.apiKeyEnv}=… first`);
  }
  return RemotePolicy.connect(spec.server, apiKey ? { apiKey } : {});
}
