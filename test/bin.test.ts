// bin/vlm2vla.mjs over a compiled dist/: `version`, `--version` and the top-level help are answered
// from dist/ without the CLI's modules and print what the CLI prints from the sources; other commands
// run the compiled CLI; a source tree that changed since the build (a source edited in place, added or
// removed; not a new test file) sends the command to the sources. Works in a copy of the package with
// its own build (src/ copied, so other edits of the work tree do not make its dist/ stale).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceStamp, sourcesChanged } from '../scripts/dist-stamp.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
let root = '';

before(() => {
  root = mkdtempSync(join(tmpdir(), 'vlm2vla-bin-'));
  for (const f of [
    'bin/vlm2vla.mjs',
    'scripts/build-dist.mjs',
    'scripts/dist-stamp.mjs',
    'package.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ]) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    cpSync(join(REPO, f), join(root, f));
  }
  cpSync(join(REPO, 'src'), join(root, 'src'), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-dist.mjs')], { cwd: root, encoding: 'utf8' });
  assert.match(built.stdout, /compiled src\/ to dist/, built.stdout + built.stderr);
});

after(() => rmSync(root, { recursive: true, force: true }));

/** Runs the copy's bin: from dist/ when it is current, or (sources) always from src/ through tsx. */
function cli(args: readonly string[], sources = false) {
  const env = { ...process.env };
  delete env.VLM2VLA_DIST;
  delete env.VLM2VLA_SOURCES;
  if (sources) env.VLM2VLA_SOURCES = '1';
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vlm2vla.mjs'), ...args], { cwd: root, encoding: 'utf8', env });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test('version, --version and the top-level help: without the CLI modules, as the CLI prints them', () => {
  // What the sources print (-V, -h and help print what --version and --help print there: src/cli/main.ts).
  const version = cli(['version'], true);
  const short = cli(['--version'], true);
  const help = cli(['--help'], true);
  const bare = cli([], true);
  assert.match(version.out, /^vlm2vla \S+ \(node v/);
  assert.equal(bare.status, 1, 'no arguments: the help and exit status 1');
  assert.equal(bare.out, help.out);
  const cases: [string[], typeof help][] = [
    [['version'], version],
    [['--version'], short],
    [['-V'], short],
    [['--help'], help],
    [['-h'], help],
    [['help'], help],
    [[], bare],
  ];
  // Without dist/cli/ a path that loads the CLI fails: these answers do not.
  renameSync(join(root, 'dist', 'cli'), join(root, 'dist', 'cli.away'));
  try {
    for (const [args, expected] of cases) assert.deepEqual(cli(args), expected, `vlm2vla ${args.join(' ')}`);
  } finally {
    renameSync(join(root, 'dist', 'cli.away'), join(root, 'dist', 'cli'));
  }
});

test('other commands run the compiled CLI, and print what the sources print', () => {
  for (const args of [['data', '--help'], ['nope']]) assert.deepEqual(cli(args), cli(args, true), `vlm2vla ${args.join(' ')}`);
});

test('a source edited in place, added or removed sends the CLI to the sources; a new test file does not', () => {
  const start = join(root, 'dist', 'start.json');
  const stampFile = join(root, 'dist', 'stamp.json');
  const restamp = () => writeFileSync(stampFile, JSON.stringify(sourceStamp(root)));
  const stamp = () => JSON.parse(readFileSync(stampFile, 'utf8')) as unknown;
  // A marker in the compiled help tells which side answered.
  const { help } = JSON.parse(readFileSync(start, 'utf8')) as { help: string };
  writeFileSync(start, JSON.stringify({ help: `${help}\n(from dist)` }));
  const fromDist = () => cli(['--help']).out.includes('(from dist)');
  assert.ok(fromDist());
  assert.equal(sourcesChanged(root, stamp()), false);

  // Edited in place: the file's mtime moves, its folder's does not.
  const edited = join(root, 'src', 'cli', 'help.ts');
  const later = new Date(Date.now() + 60_000);
  writeFileSync(edited, readFileSync(edited));
  utimesSync(edited, later, later);
  assert.equal(sourcesChanged(root, stamp()), true);
  assert.ok(!fromDist(), 'an edited source: the sources answer');
  restamp();
  assert.ok(fromDist());

  const added = join(root, 'src', 'cli', 'added.ts');
  writeFileSync(join(root, 'src', 'cli', 'added.test.ts'), '');
  assert.equal(sourcesChanged(root, stamp()), false, 'a new test file is not a source');
  writeFileSync(added, 'export {};\n');
  assert.equal(sourcesChanged(root, stamp()), true, 'a new source');
  assert.ok(!fromDist(), 'a new source: the sources answer');
  unlinkSync(added);
  unlinkSync(join(root, 'src', 'cli', 'added.test.ts'));
  assert.equal(sourcesChanged(root, stamp()), false, 'the tree as built again');

  const moved = join(root, 'src', 'cli', 'args.ts');
  renameSync(moved, `${moved}.away`);
  assert.equal(sourcesChanged(root, stamp()), true, 'a removed source');
  renameSync(`${moved}.away`, moved);
  mkdirSync(join(root, 'src', 'cli', 'new-folder'));
  assert.equal(sourcesChanged(root, stamp()), true, 'a new folder');
  rmSync(join(root, 'src', 'cli', 'new-folder'), { recursive: true });
  assert.equal(sourcesChanged(root, stamp()), false);
  assert.equal(sourcesChanged(root, { newestSource: Date.now() }), true, 'a stamp of the old format');
  assert.equal(sourcesChanged(root, null), true, 'no stamp');
});
