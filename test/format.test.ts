// The house format: every TypeScript and JavaScript source of the repository (src, test, bench,
// scripts, experiments, bin) is as Prettier writes it with .prettierrc.json, so no review has to
// argue about layout. `npm run format` rewrites them; this test names the files that differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIRS = ['src', 'test', 'bench', 'scripts', 'experiments', 'bin'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(path);
    return /\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.d.mts') ? [path] : [];
  });
}

test('every source file is formatted as .prettierrc.json says (npm run format)', async () => {
  const files = DIRS.flatMap((d) => sources(join(ROOT, d)));
  assert.ok(files.length > 200, `only ${files.length} source files found`);
  const options = (await prettier.resolveConfig(join(ROOT, 'src', 'index.ts'))) ?? {};
  const differ: string[] = [];
  for (const file of files) {
    if (!(await prettier.check(readFileSync(file, 'utf8'), { ...options, filepath: file }))) differ.push(relative(ROOT, file));
  }
  assert.deepEqual(differ, [], `not formatted (run npm run format): ${differ.join(', ')}`);
});
