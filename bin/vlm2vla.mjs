#!/usr/bin/env node
// The vlm2vla command: runs the compiled CLI in dist/ (built by `npm ci` or `npm run build`), loading
// a command's code only when it runs; while dist/ is missing or older than src/ (or with
// VLM2VLA_SOURCES=1) it runs the TypeScript sources through tsx instead. An installed package (under
// node_modules/) or VLM2VLA_DIST=1 trusts dist/ without comparing it with src/.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

/** The compiled command manifest, or null when dist/ cannot be trusted to match src/. */
function compiled() {
  if (process.env.VLM2VLA_SOURCES === '1' || !existsSync(join(DIST, 'stamp.json'))) return null;
  try {
    const { newestSource } = JSON.parse(readFileSync(join(DIST, 'stamp.json'), 'utf8'));
    const src = join(ROOT, 'src');
    const trusted = process.env.VLM2VLA_DIST === '1' || /[\\/]node_modules[\\/]/.test(ROOT);
    if (!trusted && existsSync(src)) {
      for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
        if (e.isFile() && /\.(ts|mjs|json)$/.test(e.name) && !e.name.endsWith('.test.ts') && statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs > newestSource) return null;
      }
    }
    return JSON.parse(readFileSync(join(DIST, 'commands.json'), 'utf8'));
  } catch {
    return null;
  }
}

const argv = process.argv.slice(2);
const manifest = compiled();
if (manifest) {
  const { main } = await import(pathToFileURL(join(DIST, 'cli', 'main.js')).href);
  const load = async (name) => {
    const entry = manifest.find((c) => c.name === name);
    return (await import(pathToFileURL(join(DIST, entry.module)).href))[entry.export];
  };
  process.exitCode = await main(argv, { list: manifest, load });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(argv);
}
