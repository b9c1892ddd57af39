// Verifier prompt: before and after frames + subtask → yes or no.
import { need } from './prompt.ts';
import type { Prompt } from './prompt.ts';

export const verifyPrompt: Prompt = {
  stage: 'verify',
  version: 'verify-v1',
  images: 2,
  render: (v) => (
    need(v, ['subtask']),
    `The first image was taken before the robot acted and the second after. Subtask: ${v.subtask}\nIs the subtask complete? Answer yes or no.`
  ),
};
