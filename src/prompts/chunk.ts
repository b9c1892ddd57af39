// Stage 3 prompt: frame + task + subtask + motion plan → the action chunk in the chosen style.
import { need, CONVENTION } from './prompt.ts';
import type { Prompt } from './prompt.ts';

export const chunkPrompt: Prompt = {
  stage: 'chunk',
  version: 'chunk-v1',
  images: 1,
  render: (v) => (
    need(v, ['task', 'subtask', 'plan', 'format']),
    `Task: ${v.task}\nCurrent subtask: ${v.subtask}\nMotion plan: ${v.plan}\nGive the next actions ${v.format}. ${CONVENTION}`
  ),
};
