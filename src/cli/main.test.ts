// Tests of the CLI entry with a registry of metadata and lazily loaded commands (as bin/vlm2vla.mjs
// passes the compiled manifest): help needs no command code; running a command loads only that one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.ts';
import { quietly } from './testing.ts';
import type { Command } from './command.ts';
import { commandHelp, topHelp } from './help.ts';
import { packageVersion } from '../version.ts';

function registry() {
  const loaded: string[] = [];
  const ran: string[] = [];
  const make = (name: string, noEngine = true): Command => ({
    name,
    summary: `does ${name}`,
    flags: [{ name: 'n', type: 'number', help: 'a number', default: 1 }],
    noEngine,
    run: (a) => (ran.push(`${name} ${a.flags.n}`), 0),
  });
  const all = [make('alpha'), make('group one'), make('group two')];
  const list = all.map(({ run: _run, ...info }) => info);
  return { loaded, ran, reg: { list, load: async (name: string) => (loaded.push(name), all.find((c) => c.name === name)!) } };
}

test('help, command help and group help come from metadata alone', async () => {
  const { loaded, reg } = registry();
  const top = await quietly(() => main(['--help'], reg));
  assert.equal(top.value, 0);
  assert.equal(top.out, topHelp(reg.list, packageVersion()));
  const one = await quietly(() => main(['group', 'two', '--help'], reg));
  assert.equal(one.out, commandHelp(reg.list[2]!));
  assert.match((await quietly(() => main(['group', '--help'], reg))).out, /group one\s+does group one\n\s+group two/);
  assert.equal((await quietly(() => main(['group', 'three'], reg))).value, 2);
  assert.equal((await quietly(() => main(['nope'], reg))).value, 2);
  assert.deepEqual(loaded, []);
});

test('running a command loads that command only', async () => {
  const { loaded, ran, reg } = registry();
  assert.equal((await quietly(() => main(['group', 'one', '--n', '5'], reg))).value, 0);
  assert.deepEqual(loaded, ['group one']);
  assert.deepEqual(ran, ['group one 5']);
  const bad = await quietly(() => main(['alpha', '--n', 'x'], reg));
  assert.equal(bad.value, 2);
  assert.match(bad.err, /--n needs a (decimal )?number/);
});
