// Builds the native kernels with node-gyp during `npm ci`; on failure the pure-TypeScript kernels serve.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);
if (process.env.VLM2VLA_SKIP_NATIVE === '1') {
  console.log('vlm2vla: VLM2VLA_SKIP_NATIVE=1, not building native kernels (TypeScript kernels will be used).');
  process.exit(0);
}
const npmExec = process.env.npm_execpath;
const gypCandidates = [
  npmExec ? join(dirname(npmExec), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : '',
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
const cmd = gypCandidates.length > 0 ? process.execPath : 'node-gyp';
const args = gypCandidates.length > 0 ? [gypCandidates[0], 'rebuild'] : ['rebuild'];
// Build against the machine's own Node headers (no download): npm passes npm_config_nodedir when it
// runs this script; run by hand, fall back to the headers of a system Node install.
const nodedir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node.h') ? '/usr' : undefined);
if (nodedir) args.push(`--nodedir=${nodedir}`);
const jobs = process.env.JOBS ?? 'max';
const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, JOBS: jobs } });
if (result.status !== 0) {
  console.warn('\nvlm2vla: WARNING: the native kernels did not build; falling back to the (much slower) TypeScript kernels.');
  console.warn('vlm2vla: run `npm run build:native` to see the compiler error, or set VLM2VLA_BACKEND=ts to silence this.');
}
