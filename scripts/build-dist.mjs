// Compiles src/ to JavaScript in dist/ (run by `npm ci` after the native addon, and by `npm run build`):
// the TypeScript compiler with relative `.ts` imports rewritten to `.js`, the tokenizer's vetting worker
// copied, a command manifest (dist/commands.json: each command's help metadata and the module that
// holds it, so `vlm2vla <command> --help` loads no command code), dist/start.json (the top-level help
// as the compiled CLI prints it, with {{version}} for the version: bin/vlm2vla.mjs answers `--help`
// from it without loading the CLI) and dist/stamp.json (the source tree it was built from,
// scripts/dist-stamp.mjs: bin/vlm2vla.mjs runs the sources instead while src/ differs from it).
// Without the TypeScript compiler (a production install) it keeps the dist/ the package shipped
// (`npm pack` builds it: prepack), or, without one, leaves the CLI to run the sources.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sourceStamp } from './dist-stamp.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const TMP = join(ROOT, 'dist.tmp');

async function build() {
  let tsc;
  try {
    tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  } catch {
    console.log(
      existsSync(join(DIST, 'stamp.json'))
        ? 'vlm2vla: using the compiled dist/ of the package'
        : 'vlm2vla: no TypeScript compiler and no dist/; the CLI runs the sources',
    );
    return 0;
  }
  const stamp = sourceStamp(ROOT);
  rmSync(TMP, { recursive: true, force: true });
  // Type errors do not stop the emit (tests and `npm run typecheck` report them); a missing output does.
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', TMP], { cwd: ROOT, encoding: 'utf8' });
  if (!existsSync(join(TMP, 'cli', 'main.js'))) {
    process.stderr.write(`vlm2vla: compiling src/ failed; the CLI runs the sources\n${r.stdout}${r.stderr}`);
    return 0;
  }
  mkdirSync(join(TMP, 'tokenizer'), { recursive: true });
  copyFileSync(join(ROOT, 'src', 'tokenizer', 'vet-worker.mjs'), join(TMP, 'tokenizer', 'vet-worker.mjs'));
  // The manifest: every registered command, in registry order, with the module and export that hold it.
  const { commands } = await import(pathToFileURL(join(TMP, 'cli', 'commands', 'index.js')).href);
  const where = new Map();
  for (const f of readdirSync(join(TMP, 'cli', 'commands'))) {
    if (!f.endsWith('.js') || f === 'index.js') continue;
    const mod = await import(pathToFileURL(join(TMP, 'cli', 'commands', f)).href);
    for (const [name, value] of Object.entries(mod))
      if (commands.includes(value)) where.set(value, { module: `cli/commands/${f}`, export: name });
  }
  const manifest = commands.map((c) => {
    const at = where.get(c);
    if (!at) throw new Error(`command ${c.name} is not exported by a module of src/cli/commands/`);
    return {
      name: c.name,
      summary: c.summary,
      usage: c.usage,
      description: c.description,
      flags: c.flags,
      ...(c.noEngine ? { noEngine: true } : {}),
      ...at,
    };
  });
  writeFileSync(join(TMP, 'commands.json'), `${JSON.stringify(manifest)}\n`);
  const { topHelp } = await import(pathToFileURL(join(TMP, 'cli', 'help.js')).href);
  const help = topHelp(manifest, '{{version}}');
  // Without start.json the compiled CLI answers --help itself (a little slower).
  if (help.split('{{version}}').length === 2) writeFileSync(join(TMP, 'start.json'), `${JSON.stringify({ help })}\n`);
  else console.warn('vlm2vla: a command summary holds "{{version}}"; dist/start.json is not written');
  writeFileSync(join(TMP, 'stamp.json'), `${JSON.stringify({ ...stamp, builtAt: new Date().toISOString() })}\n`);
  rmSync(DIST, { recursive: true, force: true });
  renameSync(TMP, DIST);
  console.log(`vlm2vla: compiled src/ to ${relative(process.cwd(), DIST) || 'dist'} (${manifest.length} commands)`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await build();
