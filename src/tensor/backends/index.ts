// Backend selection: VLM2VLA_BACKEND=ts|native chooses; by default the native addon when it loads,
// else the TypeScript reference. Chosen once per process; setBackend overrides (tests, benchmarks).
// native.ts is always importable: it loads the addon (build/Release/vlm2vla_native.node) only when
// asked, and answers null when it is not built.
import type { Backend } from '../backend.ts';
import { tsBackend } from './ts.ts';
import { loadNativeBackend } from './native.ts';
import { ConfigError } from '../../errors/index.ts';

let current: Backend | null = null;
let native: Backend | null | undefined;

/** The native backend if its addon is built and loads, else null (never throws). */
export async function loadNative(): Promise<Backend | null> {
  if (native !== undefined) return native;
  try {
    native = loadNativeBackend();
  } catch {
    native = null;
  }
  return native;
}

/** Picks the process-wide backend (call once at start-up; getBackend() uses the result). */
export async function initBackend(): Promise<Backend> {
  const want = process.env.VLM2VLA_BACKEND;
  if (want !== undefined && want !== '' && want !== 'ts' && want !== 'native') {
    throw new ConfigError('E_BACKEND', `VLM2VLA_BACKEND is "${want}"`, { field: 'VLM2VLA_BACKEND', fix: 'use ts or native' });
  }
  if (want === 'ts') return (current = tsBackend);
  const n = await loadNative();
  if (n) return (current = n);
  if (want === 'native')
    process.stderr.write(
      'warning: VLM2VLA_BACKEND=native but the native addon is not built; using the TypeScript kernels (run `npm run build:native`)\n',
    );
  return (current = tsBackend);
}

/** The backend in use: the one chosen by initBackend(), or the TypeScript reference before that. */
export function getBackend(): Backend {
  return current ?? tsBackend;
}

export function setBackend(b: Backend): void {
  current = b;
}

export { tsBackend };
