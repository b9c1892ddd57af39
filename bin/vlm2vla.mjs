#!/usr/bin/env node
// The vlm2vla command: runs the compiled CLI in dist/ (built by `npm ci` or `npm run build`), loading
// a command's code only when it runs; while dist/ is missing or src/ changed since it was built (or
// with VLM2VLA_SOURCES=1) it runs the TypeScript sources through tsx instead. An installed package (under
// node_modules/) or VLM2VLA_DIST=1 trusts dist/ without comparing it with src/; a checkout compares
// with dist/stamp.json (scripts/dist-stamp.mjs: a stat per folder and per source, no listing).
//
// `vlm2vla version`, `--version` and the top-level help are answered from dist/ without the CLI's
// modules: the version line by dist/version.js, the help from dist/start.json (the text the compiled
// CLI prints, rendered at build time with {{version}} where the version goes).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

/** Whether dist/ can be trusted to match src/. */
async function distCurrent() {
  if (process.env.VLM2VLA_SOURCES === '1' || !existsSync(join(DIST, 'stamp.json'))) return false;
  if (process.env.VLM2VLA_DIST === '1' || /[\\/]node_modules[\\/]/.test(ROOT) || !existsSync(join(ROOT, 'src'))) return true;
  try {
    const { sourcesChanged } = await import('../scripts/dist-stamp.mjs');
    return !sourcesChanged(ROOT, JSON.parse(readFileSync(join(DIST, 'stamp.json'), 'utf8')));
  } catch {
    return false;
  }
}

/** The exit code of what needs no command code (answered as src/cli/main.ts answers it), or null. */
async function quickAnswer(argv) {
  const first = argv[0];
  const help = argv.length === 0 || first === '--help' || first === '-h' || first === 'help';
  if (!help && first !== '--version' && first !== '-V' && !(argv.length === 1 && first === 'version')) return null;
  let text;
  try {
    const { packageVersion, versionLine } = await import(pathToFileURL(join(DIST, 'version.js')).href);
    if (first === '--version' || first === '-V') text = packageVersion();
    else if (first === 'version') text = versionLine();
    else text = JSON.parse(readFileSync(join(DIST, 'start.json'), 'utf8')).help.replace('{{version}}', () => packageVersion());
  } catch {
    return null; // a dist/ from before start.json: the compiled CLI answers
  }
  console.log(text);
  return argv.length === 0 ? 1 : 0;
}

/** The compiled command manifest, or null when it cannot be read. */
function manifest() {
  try {
    return JSON.parse(readFileSync(join(DIST, 'commands.json'), 'utf8'));
  } catch {
    return null;
  }
}

async function runCompiled(argv, list) {
  const { main } = await import(pathToFileURL(join(DIST, 'cli', 'main.js')).href);
  const load = async (name) => {
    const entry = list.find((c) => c.name === name);
    return (await import(pathToFileURL(join(DIST, entry.module)).href))[entry.export];
  };
  return main(argv, { list, load });
}

async function runSources(argv) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  return main(argv);
}

const argv = process.argv.slice(2);
const current = await distCurrent();
const quick = current ? await quickAnswer(argv) : null;
if (quick !== null) process.exitCode = quick;
else {
  const list = current ? manifest() : null;
  process.exitCode = list ? await runCompiled(argv, list) : await runSources(argv);
}
