// `vlm2vla experiment run`: the paper's comparison at small scale as one resumable command — the
// robot dataset, the arms trained from the base model with one token budget, held-out VQA and
// closed-loop success per suite, then results.json and RESULTS.md.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { runExperiment, resultsMarkdown } from '../../experiment/run.ts';
import { ARMS, EXPERIMENT_PRESETS, experimentPreset } from '../../experiment/presets.ts';
import type { ArmName } from '../../experiment/types.ts';
import { SUITES } from '../../sim/index.ts';
import type { Suite } from '../../sim/index.ts';

function list<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of items)
    if (!allowed.includes(s as T))
      throw new UsageError(`--${flag}: unknown ${JSON.stringify(s)}`, `use some of ${allowed.join(', ')} (comma-separated)`);
  if (items.length === 0) throw new UsageError(`--${flag} is empty`, `use some of ${allowed.join(', ')}`);
  return [...new Set(items)] as T[];
}

export const experimentRunCommand = defineCommand({
  name: 'experiment run',
  summary: 'the forgetting experiment: arms trained from the base model, VQA retention and closed-loop success',
  description:
    "Collects, annotates and builds one robot dataset with the project's own commands, trains every arm\n" +
    '(vlm2vla: LoRA, language actions, hierarchy; vlm2vla-nr: LoRA, action chunks only; openvla-style:\n' +
    'full fine-tuning on 256 action-bin tokens) from the base model with the same token budget, then\n' +
    'measures held-out VQA (retention against the base) and closed-loop success on the evaluation\n' +
    'suites. Every stage is journaled in OUT/experiment.jsonl: rerun the same command to resume.\n' +
    'Sizes: tiny (a test run, minutes), small (the committed comparison, ≤ 4 hours here).',
  flags: {
    size: { type: 'string', help: 'experiment size', default: 'tiny', choices: Object.keys(EXPERIMENT_PRESETS) },
    out: { type: 'string', help: 'results folder', required: true, meta: 'DIR' },
    base: { type: 'string', help: 'base model folder every arm starts from', default: 'models/base', meta: 'DIR' },
    arms: { type: 'string', help: `comma-separated subset of the arms (${Object.keys(ARMS).join(', ')})`, meta: 'LIST' },
    suites: { type: 'string', help: `comma-separated subset of the suites (${SUITES.join(', ')})`, meta: 'LIST' },
  },
  async run(f) {
    const preset = experimentPreset(f.size);
    preset.base = f.base;
    const r = await runExperiment({
      preset,
      out: f.out,
      ...(f.arms !== undefined ? { arms: list<ArmName>(f.arms, Object.keys(ARMS) as ArmName[], 'arms') } : {}),
      ...(f.suites !== undefined ? { suites: list<Suite>(f.suites, SUITES, 'suites') } : {}),
    });
    console.log(resultsMarkdown(r));
    console.log(`wrote ${f.out}/results.json and ${f.out}/RESULTS.md`);
    return 0;
  },
});
