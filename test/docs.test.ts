// The docs say only what is true about the command line: every `vlm2vla <command>` that README.md and
// docs/*.md show in code exists in the command registry, and no doc calls a registered command "not
// built yet". (Dated lab notes in docs/notes/ are history and are not checked.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../src/cli/commands/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];
const names = new Set(commands.map((c) => c.name));
const groups = new Set(commands.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

/** The code of a Markdown text: fenced blocks and inline code spans. */
function codeOf(md: string): string[] {
  const fenced = [...md.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  const inline = [...md.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...fenced, ...inline];
}

/** The command each `vlm2vla word [word]` in the code names, as the CLI would resolve it. */
function invocations(code: string): { said: string; command: string | null }[] {
  return [...code.matchAll(/(?:^|[\s(])vlm2vla ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/gm)].map((m) => {
    const [first, second] = [m[1]!, m[2]];
    const two = second ? `${first} ${second}` : null;
    // The longest registered name wins ("sim collect" before "sim"); a group word alone is no command.
    const command = two && names.has(two) ? two : names.has(first) ? first : null;
    return { said: two && groups.has(first) ? two : first, command };
  });
}

test('every vlm2vla command shown in README.md and docs/ is registered', () => {
  const missing: string[] = [];
  let seen = 0;
  for (const doc of DOCS) {
    for (const code of codeOf(readFileSync(join(ROOT, doc), 'utf8'))) {
      for (const { said, command } of invocations(code)) {
        seen++;
        if (command === null) missing.push(`${doc}: vlm2vla ${said}`);
      }
    }
  }
  assert.ok(seen > 20, `found only ${seen} command lines: the Markdown parsing is broken`);
  assert.deepEqual([...new Set(missing)], [], 'document only commands that exist (or register the command)');
});

const NOT_BUILT = /not (?:built|implemented|available) yet|not yet (?:built|implemented|available)|does not exist yet/gi;

/** The clauses that call something not built: from the clause start before the phrase to the end of
 *  the clause after it (clauses end at . ; or —; "Not built yet: a, b." lists a and b). */
function notBuiltClauses(md: string): string[] {
  const text = md.replace(/\s+/g, ' ');
  return [...text.matchAll(NOT_BUILT)].map((m) => {
    const before = text.slice(0, m.index);
    const start = Math.max(before.lastIndexOf('. '), before.lastIndexOf('; '), before.lastIndexOf('—')) + 1;
    const after = text.slice(m.index + m[0].length);
    const ends = ['. ', '; ', '—'].map((b) => after.indexOf(b)).filter((i) => i >= 0);
    return text.slice(start, m.index + m[0].length + (ends.length > 0 ? Math.min(...ends) : after.length)).trim();
  });
}

/** Registered commands a not-built clause names (the longest name where one extends another). */
function claimed(md: string): { clause: string; name: string }[] {
  return notBuiltClauses(md).flatMap((c) => {
    const said = [...c.matchAll(/vlm2vla ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)].map((m) =>
      m[2] && names.has(`${m[1]} ${m[2]}`) ? `${m[1]} ${m[2]}` : m[1]!,
    );
    return [...new Set(said)].filter((n) => names.has(n)).map((name) => ({ clause: c, name }));
  });
}

test('no doc says a registered command is not built yet', () => {
  const claims = DOCS.flatMap((doc) => claimed(readFileSync(join(ROOT, doc), 'utf8')).map((c) => `${doc}: "${c.clause}" names ${c.name}`));
  assert.deepEqual(claims, []);
});

test('the checks can fail: an unknown command and a stale claim are caught', () => {
  assert.deepEqual(
    invocations('npx vlm2vla frobnicate --x').map((i) => i.command),
    [null],
  );
  assert.deepEqual(
    invocations('vlm2vla sim collect --out d').map((i) => i.command),
    ['sim collect'],
  );
  assert.deepEqual(
    invocations('vlm2vla sim nonsense').map((i) => i.command),
    [null],
  );
  assert.deepEqual(
    invocations('vlm2vla train --model m').map((i) => i.command),
    ['train'],
  );
  assert.deepEqual(codeOf('a `vlm2vla demo` b\n```\nvlm2vla version\n```\n'), ['vlm2vla version\n', 'vlm2vla demo']);
  assert.deepEqual(
    claimed('Works: x. Not built yet: `vlm2vla annotate audit`, `vlm2vla train`.')
      .map((c) => c.name)
      .sort(),
    ['annotate audit', 'train'],
  );
  assert.deepEqual(
    claimed('`vlm2vla demo` is not built yet; `vlm2vla train` works.').map((c) => c.name),
    ['demo'],
  );
  assert.deepEqual(
    claimed('Not built yet: a fine-tuned VLA — so `vlm2vla demo` stops early.').map((c) => c.name),
    [],
  );
});
