// Tests for the CLI flag parser and command dispatch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.ts';
import { UsageError } from '../errors/index.ts';
import { main } from './main.ts';

const specs = [
  { name: 'out', type: 'string', help: 'output dir' },
  { name: 'episodes', type: 'number', help: 'count', default: 10 },
  { name: 'verbose', type: 'boolean', help: 'talk' },
  { name: 'style', type: 'string', help: 'style', choices: ['list', 'phrase'] },
] as const;

test('parses values, equals form, booleans, defaults and positionals', () => {
  const a = parseArgs(['in.txt', '--out', 'x', '--episodes=5', '--verbose'], specs);
  assert.deepEqual(a.positionals, ['in.txt']);
  assert.equal(a.flags.out, 'x');
  assert.equal(a.flags.episodes, 5);
  assert.equal(a.flags.verbose, true);
  assert.equal(parseArgs([], specs).flags.episodes, 10);
});

test('rejects unknown flags, missing values, bad numbers and bad choices with UsageError', () => {
  assert.throws(() => parseArgs(['--nope'], specs), UsageError);
  assert.throws(() => parseArgs(['--out'], specs), UsageError);
  assert.throws(() => parseArgs(['--episodes', 'abc'], specs), UsageError);
  assert.throws(() => parseArgs(['--episodes', ''], specs), UsageError);
  for (const odd of ['0x10', '1_000', 'Infinity', '1,5', ' 7']) assert.throws(() => parseArgs(['--episodes', odd], specs), UsageError, odd);
  assert.equal(parseArgs(['--episodes', '2e3'], specs).flags.episodes, 2000);
  assert.throws(() => parseArgs(['--style', 'tokens'], specs), UsageError);
});

test('unknown command exits non-zero; --version exits zero', async () => {
  const origErr = console.error;
  const origLog = console.log;
  console.error = () => {};
  console.log = () => {};
  try {
    assert.equal(await main(['definitely-not-a-command']), 2);
    assert.equal(await main(['--version']), 0);
    assert.equal(await main(['--help']), 0);
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
});
