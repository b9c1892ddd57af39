// Direction prompt: before and after frames → left, right or none (auxiliary training examples).
import type { Prompt } from './prompt.ts';

export const directionPrompt: Prompt = {
  stage: 'direction',
  version: 'direction-v1',
  images: 2,
  render: () =>
    'The first image was taken before the robot moved and the second after. Did the gripper move left, right, or neither? Answer left, right or none.',
};
