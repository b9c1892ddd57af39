// Versioned prompts, one file per stage (DESIGN.md §3): the text a user turn carries at training and
// at run time. A prompt changes only with a new version; datasets and runs record the versions used.
import { subtasksPrompt } from './subtasks.ts';
import { planPrompt } from './plan.ts';
import { chunkPrompt } from './chunk.ts';
import { verifyPrompt } from './verify.ts';
import { directionPrompt } from './direction.ts';
import { actPrompt } from './act.ts';
import type { Prompt, PromptStage } from './prompt.ts';

export type { Prompt, PromptStage } from './prompt.ts';

const PROMPTS: Record<PromptStage, Prompt> = {
  subtasks: subtasksPrompt,
  plan: planPrompt,
  chunk: chunkPrompt,
  verify: verifyPrompt,
  direction: directionPrompt,
  act: actPrompt,
};

export function getPrompt(stage: PromptStage): Prompt {
  return PROMPTS[stage];
}

export function promptVersions(): Record<PromptStage, string> {
  return Object.fromEntries(Object.values(PROMPTS).map((p) => [p.stage, p.version])) as Record<PromptStage, string>;
}

/** How each action style is described inside the chunk prompt. */
export const CHUNK_FORMATS: Record<string, string> = {
  list: 'as a list of [dx, dy, dz, gripper]',
  rot: 'as a list of [dx, dy, dz, droll, dpitch, dyaw, gripper] with rotations in degrees',
  phrase: 'as phrases such as "move forward 4.2 cm, open gripper", one group per step, separated by semicolons',
  tokens: 'as action tokens',
};
