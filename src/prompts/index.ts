// Versioned prompts, one file per stage (DESIGN.md §3): the text a user turn carries at training and
// at run time. A prompt changes only with a new version; datasets and runs record the versions used.
import { subtasksPrompt } from './subtasks.ts';
import { planPrompt } from './plan.ts';
import { chunkPrompt } from './chunk.ts';
import { verifyPrompt } from './verify.ts';
import { directionPrompt } from './direction.ts';
import { actPrompt } from './act.ts';
import type { Prompt, PromptStage } from './prompt.ts';
import { codecPromptHint, listCodecs } from '../actions/index.ts';

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

/** How each action style is described inside the chunk prompt, by style: derived from the codec
 *  registry (each codec carries its hint, `codecPromptHint`); kept for callers that index by name. */
export const CHUNK_FORMATS: Record<string, string> = Object.fromEntries(listCodecs().map((style) => [style, codecPromptHint(style)]));
