// No-reasoning prompt (the paper's -NR ablation): frame + task → the action chunk directly, with no
// subtasks or motion plan.
import { need, CONVENTION } from './prompt.ts';
import type { Prompt } from './prompt.ts';

export const actPrompt: Prompt = {
  stage: 'act',
  version: 'act-v1',
  images: 1,
  render: (v) => (need(v, ['task', 'format']), `Task: ${v.task}\nGive the next actions ${v.format}. ${CONVENTION}`),
};
