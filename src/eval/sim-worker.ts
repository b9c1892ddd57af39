// A worker process of `vlm2vla eval sim --workers N`: rebuilds the policy from its spec and runs its
// share of the episodes into its own journal, printing each finished episode as a JSON line.
import { createEvalPolicy } from './policies.ts';
import type { EvalPolicySpec } from './policies.ts';
import { runShard } from './closed-loop.ts';
import type { RunManifest } from './closed-loop.ts';
import { initBackend } from '../tensor/index.ts';

const job = JSON.parse(process.argv[2]!) as {
  out: string;
  worker: number;
  keys: string[];
  video: boolean;
  manifest: RunManifest;
  spec: EvalPolicySpec;
};
await initBackend();
const policy = await createEvalPolicy(job.spec);
try {
  await runShard(policy, job.manifest, job.out, job.worker, job.keys, job.video, (r) => process.stdout.write(`${JSON.stringify(r)}\n`));
} finally {
  await policy.close?.();
}
