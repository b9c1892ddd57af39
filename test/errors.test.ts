// The error codes are one table (src/errors/codes.ts): every `E_…` code written in the source is in it,
// every code in it is still raised somewhere, and docs/errors.md lists exactly the same codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, isErrorCode } from '../src/errors/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** Code literals ('E_…', "E_…" or `E_…`) per file, outside the table itself. */
function codesInSource(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of sources(join(ROOT, 'src'))) {
    if (file.endsWith(join('errors', 'codes.ts'))) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](E_[A-Z0-9_]+)['"`]/g))
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), file.slice(ROOT.length)]);
  }
  return out;
}

test('every error code raised in src/ is in ERROR_CODES, and every code there is still raised', () => {
  const used = codesInSource();
  const unknown = [...used.keys()].filter((c) => !isErrorCode(c));
  assert.deepEqual(
    unknown,
    [],
    `add ${unknown.map((c) => `${c} (${used.get(c)!.join(', ')})`).join('; ')} to src/errors/codes.ts and docs/errors.md`,
  );
  const stale = Object.keys(ERROR_CODES).filter((c) => !used.has(c));
  assert.deepEqual(stale, [], `${stale.join(', ')} no longer appear in src/: remove them from src/errors/codes.ts and docs/errors.md`);
});

test('docs/errors.md lists exactly the codes of ERROR_CODES', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const listed = [...doc.matchAll(/^\| `(E_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...listed].sort(), Object.keys(ERROR_CODES).sort());
  assert.equal(new Set(listed).size, listed.length, 'a code is listed twice');
});
