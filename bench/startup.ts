// Start-up time of the CLI: `vlm2vla --help` and `vlm2vla version` against `node -e 0` measured in the
// same run (interleaved, so a busy machine slows all alike), from the compiled dist/ (VLM2VLA_DIST=1:
// as an installed package runs, without comparing dist/ with src/ — that check is timed on its own
// below, since a shared work tree changes under the run) and from the sources through tsx.
// Targets (issue #25): --help ≤ 150 ms, version ≤ 100 ms.
// Run: node --import tsx bench/startup.ts [--runs 15]      (compiles dist/ first when it is stale)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sourcesChanged } from '../scripts/dist-stamp.mjs';
import { readFileSync, existsSync } from 'node:fs';
import { printMachineLoad, verdict as mark } from './machine.ts';

const load = printMachineLoad();

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/vlm2vla.mjs', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 3)) {
  console.error('startup: --runs must be a whole number >= 3');
  process.exit(1);
}

const stamp = () => (existsSync(`${ROOT}dist/stamp.json`) ? (JSON.parse(readFileSync(`${ROOT}dist/stamp.json`, 'utf8')) as unknown) : null);
const fresh = () => !sourcesChanged(ROOT, stamp());
if (!fresh()) {
  console.log('src/ changed since dist/ was built: compiling');
  spawnSync(process.execPath, [`${ROOT}scripts/build-dist.mjs`], { stdio: 'inherit' });
}

interface Case {
  name: string;
  args: string[];
  env?: Record<string, string>;
  target?: number;
}
const CASES: Case[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'vlm2vla --help', args: [BIN, '--help'], env: { VLM2VLA_DIST: '1' }, target: 150 },
  { name: 'vlm2vla version', args: [BIN, 'version'], env: { VLM2VLA_DIST: '1' }, target: 100 },
  { name: 'vlm2vla --help (sources)', args: [BIN, '--help'], env: { VLM2VLA_SOURCES: '1' } },
  { name: 'vlm2vla version (sources)', args: [BIN, 'version'], env: { VLM2VLA_SOURCES: '1' } },
];

const times = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
for (let r = 0; r < runs; r++) {
  for (const c of CASES) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, c.args, { encoding: 'utf8', env: { ...process.env, ...c.env } });
    const ms = performance.now() - t0;
    if (p.status !== 0) throw new Error(`${c.name} exited with ${p.status}: ${p.stderr}`);
    times.get(c.name)!.push(ms);
  }
}
const scan: number[] = [];
const built = stamp();
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  sourcesChanged(ROOT, built);
  scan.push(performance.now() - t0);
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const base = quantile(times.get('node -e 0')!, 0.5);
console.log(`${runs} runs each, interleaved; medians and 90th percentiles in ms`);
console.log('| case | median | p90 | over node -e 0 | target |');
console.log('|---|---|---|---|---|');
for (const c of CASES) {
  const xs = times.get(c.name)!;
  const med = quantile(xs, 0.5);
  const verdict = c.target === undefined ? '' : `${c.target} ms: ${mark(med <= c.target, load)}`;
  console.log(
    `| ${c.name} | ${med.toFixed(0)} | ${quantile(xs, 0.9).toFixed(0)} | ${c.name === 'node -e 0' ? '' : `+${(med - base).toFixed(0)}`} | ${verdict} |`,
  );
}
console.log(`comparing dist/ with src/ (a checkout, not an installed package) adds a median ${quantile(scan, 0.5).toFixed(1)} ms`);
