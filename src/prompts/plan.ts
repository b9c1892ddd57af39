// Stage 2 prompt: frame + task + current subtask → a coarse motion plan.
import { need } from './prompt.ts';
import type { Prompt } from './prompt.ts';

export const planPrompt: Prompt = {
  stage: 'plan',
  version: 'plan-v1',
  images: 1,
  render: (v) => (
    need(v, ['task', 'subtask']),
    `Task: ${v.task}\nCurrent subtask: ${v.subtask}\nDescribe how the gripper should move next.`
  ),
};
