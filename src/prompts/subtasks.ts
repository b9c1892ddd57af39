// Stage 1 prompt: first frame + task → the subtasks as a JSON list of strings.
import { need } from './prompt.ts';
import type { Prompt } from './prompt.ts';

export const subtasksPrompt: Prompt = {
  stage: 'subtasks',
  version: 'subtasks-v1',
  images: 1,
  render: (v) => (need(v, ['task']), `Task: ${v.task}\nList the subtasks the robot must complete, in order, as a JSON list of strings.`),
};
