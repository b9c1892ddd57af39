// A short pilot of the base recipe (the base preset's model, tokenizer, corpus mix and objective, with
// fewer vision, warm-up and language steps): does the corpus's language of numbers, lists and motions
// teach a from-scratch model to write well-formed lists within minutes? Prints the held-out VQA table
// (with the well-formed lists of the `lists` and `json` categories) and the CPU time it took. Used for
// docs/notes/2026-12-03.md.
// Run: node --import tsx experiments/probes/list-pilot.ts --out /tmp/list-pilot [--steps 600] [--vision-steps 300] [--warmup-steps 100] [--per-category 50] [--seed 0] [--resume]
import { existsSync } from 'node:fs';
import { PRETRAIN_PRESETS, pretrain } from '../../src/pretrain/pretrain.ts';
import type { PretrainPreset } from '../../src/pretrain/pretrain.ts';
import { vqaTable } from '../../src/corpus/vqa-score.ts';
import { evaluateVqaFolder } from '../../src/eval/vqa.ts';
import { initBackend } from '../../src/tensor/index.ts';
import { failWith, parseArgsOrFail, wholeNumberOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('list-pilot');
const { values } = parseArgsOrFail(
  {
    options: {
      out: { type: 'string' },
      steps: { type: 'string', default: '600' },
      'vision-steps': { type: 'string', default: '300' },
      'warmup-steps': { type: 'string', default: '100' },
      'per-category': { type: 'string', default: '50' },
      seed: { type: 'string', default: '0' },
      resume: { type: 'boolean', default: false },
    },
  },
  fail,
);
if (!values.out) fail('--out DIR is required (the pilot model; its checkpoints go to DIR.run)');
if (existsSync(`${values.out}.run`) && !values.resume) fail(`${values.out}.run exists: choose another --out, or --resume`);
const steps = wholeNumberOrFail(values.steps, '--steps', 1, 100_000, fail);
const visionSteps = wholeNumberOrFail(values['vision-steps'], '--vision-steps', 1, 100_000, fail);
const warmupSteps = wholeNumberOrFail(values['warmup-steps'], '--warmup-steps', 0, steps, fail);
const perCategory = wholeNumberOrFail(values['per-category'], '--per-category', 1, 1000, fail);
const seed = wholeNumberOrFail(values.seed, '--seed', 0, 2 ** 31, fail);

const base = PRETRAIN_PRESETS.base!;
const preset: PretrainPreset = {
  ...base,
  name: 'list-pilot',
  summary: `the base recipe shortened: vision ${visionSteps}, warm-up ${warmupSteps}, ${steps} language steps`,
  vision: { ...base.vision!, steps: visionSteps },
  ...(warmupSteps > 0 ? { warmup: { ...base.warmup!, steps: warmupSteps } } : { warmup: undefined }),
  steps,
  vqaPerCategory: perCategory,
};
await initBackend();
const cpu = process.cpuUsage();
const started = performance.now();
const command = process.argv.slice(1).join(' ');
const r = await pretrain({
  preset,
  out: values.out,
  vqaEvaluator: evaluateVqaFolder,
  seed,
  resume: values.resume,
  command: `node --import tsx ${command}`,
});
const used = process.cpuUsage(cpu);
console.log(
  `\n${values.out}: ${(r.parameters / 1e6).toFixed(2)}M parameters, ${r.steps} language steps, final loss ${r.finalLoss.toFixed(4)}`,
);
console.log(
  `time: ${((performance.now() - started) / 60_000).toFixed(1)} min wall, ${((used.user + used.system) / 60e6).toFixed(1)} min CPU (all threads; ${(r.trainSeconds / 60).toFixed(1)} min of optimizer steps)\n`,
);
console.log(vqaTable(r.vqa));
