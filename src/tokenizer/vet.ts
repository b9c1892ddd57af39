// Vetting of code that arrives inside model files (tokenizer regexes, Jinja chat templates): each is
// exercised once in a child process with a small heap and a timeout before the parent trusts it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../errors/index.ts';

const WORKER = fileURLToPath(new URL('./vet-worker.mjs', import.meta.url));
export const VET_HEAP_MB = 96;
/** Long enough for a real template on a slow or heavily loaded machine (~0.2 s seen idle; a child
 *  Node took over 5 s to start at load average 17), short enough for a test. */
export const VET_TIMEOUT_MS = 15_000;

interface VetResult {
  ok: boolean;
  error?: string;
  outputs?: string[];
}

/** Runs one job in the vetting child; `null` result means it died (heap, timeout, crash). */
export function runVetJob(job: unknown, timeoutMs = VET_TIMEOUT_MS): { result: VetResult | null; why: string } {
  const child = spawnSync(process.execPath, [`--max-old-space-size=${VET_HEAP_MB}`, WORKER], {
    input: JSON.stringify(job),
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.error)
    return {
      result: null,
      why: (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `did not finish within ${timeoutMs} ms` : child.error.message,
    };
  if (child.status !== 0) {
    const oom = /heap out of memory|Allocation failed/i.test(child.stderr);
    return { result: null, why: oom ? `exhausted a ${VET_HEAP_MB} MB heap` : `crashed (exit ${child.status ?? child.signal})` };
  }
  try {
    return { result: JSON.parse(child.stdout) as VetResult, why: '' };
  } catch {
    return { result: null, why: 'printed no result' };
  }
}

/** Every `{"Regex": "..."}` pattern anywhere inside a tokenizer.json. */
export function collectRegexes(json: unknown, out: string[] = []): string[] {
  if (Array.isArray(json)) for (const item of json) collectRegexes(item, out);
  else if (json !== null && typeof json === 'object') {
    for (const [key, value] of Object.entries(json)) {
      if (key === 'vocab' || key === 'merges') continue;
      if (key === 'Regex' && typeof value === 'string') out.push(value);
      else collectRegexes(value, out);
    }
  }
  return out;
}

/** Adversarial inputs for regexes: long runs that make backtracking patterns explode. */
const REGEX_PROBES = [
  'Hello world, 123 tokens!',
  'a'.repeat(20_000),
  ' '.repeat(20_000) + 'x',
  '1'.repeat(20_000),
  "'s".repeat(5_000) + '!',
  'a'.repeat(64) + '!',
  ' '.repeat(64) + '!',
  '1'.repeat(64) + 'x',
  ('ab ' + '\u00e9').repeat(3_000),
];

/** Refuses a tokenizer whose regexes do not compile or blow up on probes. */
export function vetRegexes(json: Record<string, unknown>, file: string): void {
  const patterns = collectRegexes(json);
  if (patterns.length === 0) return;
  for (const p of patterns) {
    try {
      new RegExp(p, 'u');
    } catch (cause) {
      throw new FormatError(
        'E_TOKENIZER_REGEX',
        `tokenizer regex ${JSON.stringify(p.slice(0, 80))} does not compile: ${(cause as Error).message}`,
        {
          file,
          field: 'pre_tokenizer',
          fix: 'this tokenizer uses regex syntax JavaScript cannot run; it is not supported',
          cause,
        },
      );
    }
  }
  const { result, why } = runVetJob({ kind: 'regex', patterns, probes: REGEX_PROBES });
  if (!result?.ok) {
    throw new FormatError(
      'E_TOKENIZER_REGEX',
      `tokenizer regexes ${why || result?.error} on probe inputs (possible catastrophic backtracking)`,
      {
        file,
        field: 'pre_tokenizer',
        fix: 'refusing to run this tokenizer; use a tokenizer.json from a trusted model repository',
      },
    );
  }
}
