// Tests of typed command definitions: defaults, required flags, whole numbers and bounds are enforced
// from the one declaration, and --help shows what the command does (no empty defaults).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVlmError } from '../errors/index.ts';
import { formatFlags } from './args.ts';
import { defineCommand } from './define.ts';

const seen: unknown[] = [];
const cmd = defineCommand({
  name: 'probe',
  summary: 'a test command',
  flags: {
    out: { type: 'string', required: true, meta: 'DIR', help: 'output folder' },
    steps: { type: 'number', integer: true, min: 1, default: 5, help: 'steps' },
    lr: { type: 'number', min: 0, help: 'learning rate', defaultHelp: 'by mode' },
    style: { type: 'string', default: 'list', choices: ['list', 'phrase'], help: 'style' },
    name: { type: 'string', default: '', help: 'a name' },
    full: { type: 'boolean', help: 'full' },
    port: { type: 'number', integer: true, min: 0, max: 65535, default: 8000, help: 'port' },
  },
  run(f) {
    seen.push(f);
    return 0;
  },
});

const run = (argv: string[]) => cmd.run(cmd.parse!(argv));

test('typed flags: defaults filled, values typed, required and bounds checked before run', async () => {
  seen.length = 0;
  assert.equal(await run(['--out', 'x']), 0);
  assert.deepEqual(seen[0], { out: 'x', steps: 5, lr: undefined, style: 'list', name: '', full: false, port: 8000 });
  await run(['--out', 'x', '--steps', '7', '--lr', '0.5', '--full', '--style', 'phrase']);
  assert.deepEqual(seen[1], { out: 'x', steps: 7, lr: 0.5, style: 'phrase', name: '', full: true, port: 8000 });
  const usage = (argv: string[], re: RegExp) =>
    assert.throws(
      () => run(argv),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && re.test(e.message),
      argv.join(' '),
    );
  usage([], /--out is required/);
  usage(['--out', 'x', '--steps', '1.5'], /whole number/);
  usage(['--out', 'x', '--steps', '0'], /at least 1/);
  usage(['--out', 'x', '--lr', '-1'], /at least 0/);
  usage(['--out', 'x', '--style', 'rot'], /one of list, phrase/);
  usage(['--out', 'x', 'stray'], /unexpected argument "stray"/);
  usage(['--out', 'x', '--port', '70000'], /--port must be a whole number from 0 to 65535, got 70000/);
  assert.equal(seen.length, 2);
});

test('help and usage come from the declaration', () => {
  assert.equal(cmd.usage, '--out DIR [--steps N] [--lr N] [--style list|phrase] [--name VALUE] [--full] [--port N]');
  const help = formatFlags(cmd.flags);
  assert.match(help, /--steps <n>\s+steps \(default: 5\)/);
  assert.match(help, /--lr <n>\s+learning rate \(default: by mode\)/);
  assert.match(help, /--out <value>\s+output folder \(required\)/);
  assert.doesNotMatch(help, /\(default: \)/);
});
