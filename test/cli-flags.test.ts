// Every command declares its flags once, typed (src/cli/define.ts), so --help cannot disagree with
// what the command does and no flag value is cast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commands } from '../src/cli/commands/index.ts';

/** Commands that still read untyped flags (none today; a new one must be typed). */
const UNTYPED = new Set<string>([]);

test('every command declares typed flags (defineCommand), except the listed ones', (t) => {
  const untyped = commands.filter((c) => !c.parse).map((c) => c.name);
  assert.deepEqual(
    untyped.filter((n) => !UNTYPED.has(n)),
    [],
    'declare the command with defineCommand (src/cli/define.ts)',
  );
  for (const n of [...UNTYPED].filter((x) => !untyped.includes(x))) t.diagnostic(`${n} is typed now: delete it from UNTYPED`);
});

test('no help line shows an empty default', () => {
  for (const c of commands) for (const f of c.flags) assert.notEqual(f.default, '', `${c.name} --${f.name}`);
});
