// Versioned prompts, one per stage (DESIGN.md §3): the text a user turn carries at training and at
// run time. A prompt changes only with a new version; datasets and runs record the versions used.

export type PromptStage = 'subtasks' | 'plan' | 'chunk' | 'verify' | 'direction';

export interface Prompt {
  stage: PromptStage;
  version: string;
  /** Images the user turn carries before the text. */
  images: number;
  render(vars: Record<string, string>): string;
}

const CONVENTION = 'Units are centimetres; +x is forward, +y is left, +z is up; gripper 1 is open, 0 is closed.';

function need(vars: Record<string, string>, names: string[]): void {
  for (const n of names) if (typeof vars[n] !== 'string') throw new Error(`prompt variable "${n}" is missing`);
}

const PROMPTS: Record<PromptStage, Prompt> = {
  subtasks: {
    stage: 'subtasks',
    version: 'subtasks-v1',
    images: 1,
    render: (v) => (need(v, ['task']), `Task: ${v.task}\nList the subtasks the robot must complete, in order, as a JSON list of strings.`),
  },
  plan: {
    stage: 'plan',
    version: 'plan-v1',
    images: 1,
    render: (v) => (need(v, ['task', 'subtask']), `Task: ${v.task}\nCurrent subtask: ${v.subtask}\nDescribe how the gripper should move next.`),
  },
  chunk: {
    stage: 'chunk',
    version: 'chunk-v1',
    images: 1,
    render: (v) => (
      need(v, ['task', 'subtask', 'plan', 'format']),
      `Task: ${v.task}\nCurrent subtask: ${v.subtask}\nMotion plan: ${v.plan}\nGive the next actions ${v.format}. ${CONVENTION}`
    ),
  },
  verify: {
    stage: 'verify',
    version: 'verify-v1',
    images: 2,
    render: (v) => (need(v, ['subtask']), `The first image was taken before the robot acted and the second after. Subtask: ${v.subtask}\nIs the subtask complete? Answer yes or no.`),
  },
  direction: {
    stage: 'direction',
    version: 'direction-v1',
    images: 2,
    render: () => 'The first image was taken before the robot moved and the second after. Did the gripper move left, right, or neither? Answer left, right or none.',
  },
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
