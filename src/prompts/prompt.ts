// The prompt contract: a stage, a version that changes whenever the text does, the number of
// images the user turn carries, and a render function of named variables.
export type PromptStage = 'subtasks' | 'plan' | 'chunk' | 'verify' | 'direction' | 'act';

export interface Prompt {
  stage: PromptStage;
  version: string;
  /** Images the user turn carries before the text. */
  images: number;
  render(vars: Record<string, string>): string;
}

export const CONVENTION = 'Units are centimetres; +x is forward, +y is left, +z is up; gripper 1 is open, 0 is closed.';

export function need(vars: Record<string, string>, names: string[]): void {
  for (const n of names) if (typeof vars[n] !== 'string') throw new Error(`prompt variable "${n}" is missing`);
}
