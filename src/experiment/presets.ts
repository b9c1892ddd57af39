// Named experiment presets as plain typed data. `forgetting` is the paper's comparison at small
// scale (DESIGN.md §5, PAPER.md §6): one robot dataset collected, annotated and built by the
// project's own commands; arms trained from the same base model with the same token budget; each
// measured on held-out VQA (retention against the base) and in closed loop on the four suites.
import { UsageError } from '../errors/index.ts';
import type { Suite, TaskFamily } from '../sim/index.ts';
import type { ArmName } from './types.ts';

export interface ArmSpec {
  name: ArmName;
  description: string;
  /** How the arm's SFT dataset is built. */
  build: { actionStyle: 'list' | 'tokens' | 'at'; reasoning: 'full' | 'none' };
  /** LoRA (the paper's r 16, alpha 32 on every decoder projection) or every weight. */
  mode: 'lora' | 'full';
  lr: number;
  /** Discrete-token arms: count the least-used tokens on the base model's pretraining corpus. */
  binsFromCorpus: boolean;
}

export const ARMS: Record<ArmName, ArmSpec> = {
  vlm2vla: {
    name: 'vlm2vla',
    description: 'LoRA; actions as language; subtasks, motion plans and action chunks; hierarchical inference',
    build: { actionStyle: 'list', reasoning: 'full' },
    mode: 'lora',
    lr: 2e-4,
    binsFromCorpus: false,
  },
  'vlm2vla-nr': {
    name: 'vlm2vla-nr',
    description: 'LoRA; actions as language; action chunks only, from frame and task (no subtasks or plans)',
    build: { actionStyle: 'list', reasoning: 'none' },
    mode: 'lora',
    lr: 2e-4,
    binsFromCorpus: false,
  },
  'vlm2vla-at': {
    name: 'vlm2vla-at',
    description:
      "LoRA; the same data and hierarchy, with every digit of the action numbers written as one of the base model's 10 least-used tokens (counted on its pretraining corpus; the paper's ablation)",
    build: { actionStyle: 'at', reasoning: 'full' },
    mode: 'lora',
    lr: 2e-4,
    binsFromCorpus: true,
  },
  'openvla-style': {
    name: 'openvla-style',
    description:
      "full fine-tuning; action chunks only; each value one of 256 bins on the base model's 256 least-used tokens (counted on its pretraining corpus)",
    build: { actionStyle: 'tokens', reasoning: 'none' },
    mode: 'full',
    lr: 5e-5,
    binsFromCorpus: true,
  },
};

/** Arms this version of the runner can run. */
export const RUNNABLE_ARMS: readonly ArmName[] = ['vlm2vla', 'vlm2vla-nr', 'vlm2vla-at', 'openvla-style'];

export interface ExperimentPreset {
  experiment: 'forgetting';
  size: string;
  /** The base model every arm starts from. */
  base: string;
  seed: number;
  data: { tasks: TaskFamily[]; episodes: number; imageSize: number; valFraction: number };
  arms: ArmName[];
  training: {
    /** Sequence tokens every arm trains on. */
    tokenBudget: number;
    batchSize: number;
    /** Conversations of the pretraining corpus the discrete-token bins are counted on. */
    corpusConversations: number;
    checkpointEvery: number;
  };
  vqa: { perCategory: number };
  sim: {
    suites: Suite[];
    families: TaskFamily[];
    episodes: number;
    maxSteps: number;
    maxCycles: number;
    greedy: boolean;
    verifier: string;
    workers: number;
  };
}

export const EXPERIMENT_PRESETS: Record<string, ExperimentPreset> = {
  // A test run: every stage, every file, in minutes on 2 cores.
  tiny: {
    experiment: 'forgetting',
    size: 'tiny',
    base: 'models/base',
    seed: 0,
    data: { tasks: ['pick'], episodes: 6, imageSize: 128, valFraction: 0.2 },
    arms: [...RUNNABLE_ARMS],
    training: { tokenBudget: 6_000, batchSize: 2, corpusConversations: 200, checkpointEvery: 5 },
    vqa: { perCategory: 2 },
    sim: {
      suites: ['in-distribution', 'multilingual', 'unseen-objects', 'semantic'],
      families: ['pick'],
      episodes: 1,
      maxSteps: 40,
      maxCycles: 3,
      greedy: true,
      verifier: 'model',
      workers: 1,
    },
  },
  // The committed comparison (≤ 4 hours on this 2-core machine in total).
  small: {
    experiment: 'forgetting',
    size: 'small',
    base: 'models/base',
    seed: 0,
    data: { tasks: ['pick', 'pick-place'], episodes: 200, imageSize: 128, valFraction: 0.1 },
    arms: [...RUNNABLE_ARMS],
    training: { tokenBudget: 1_500_000, batchSize: 8, corpusConversations: 5_000, checkpointEvery: 50 },
    vqa: { perCategory: 100 },
    sim: {
      suites: ['in-distribution', 'multilingual', 'unseen-objects', 'semantic'],
      families: ['pick', 'pick-place'],
      episodes: 50,
      maxSteps: 160,
      maxCycles: 60,
      greedy: true,
      verifier: 'model',
      workers: 2,
    },
  },
};

export function experimentPreset(size: string): ExperimentPreset {
  const p = EXPERIMENT_PRESETS[size];
  if (!p)
    throw new UsageError(`unknown experiment size ${JSON.stringify(size)}`, `use one of ${Object.keys(EXPERIMENT_PRESETS).join(', ')}`);
  return structuredClone(p);
}
