// The experiment's results as written to RESULTS_DIR/results.json (schema `vlm2vla.experiment/1`):
// every number of the forgetting-and-generalisation comparison — the preset, the base model's VQA,
// and per arm its training, its VQA and retention per category, and its closed-loop success per suite
// — plus where the per-episode traces and the loss curves are, so the report can show them.
import type { VqaCategory } from '../corpus/index.ts';

export const EXPERIMENT_SCHEMA = 'vlm2vla.experiment/1';

export type ArmName = 'vlm2vla' | 'vlm2vla-nr' | 'vlm2vla-at' | 'openvla-style';

export interface CategoryAccuracy {
  correct: number;
  total: number;
  accuracy: number;
}

export interface VqaSummary {
  overall: number;
  categories: Partial<Record<VqaCategory, CategoryAccuracy>>;
}

export interface SuiteSummary {
  episodes: number;
  successes: number;
  /** 0–1. */
  success_rate: number;
  /** 95% Wilson interval of the success rate. */
  interval: [number, number];
  malformed_per_cycle: number;
  cycle_ms_p50: number | null;
  /** Folder (relative to the results folder) holding this suite's eval sim run: traces/, videos/. */
  run: string;
}

export interface ArmResult {
  name: ArmName;
  /** One line saying what the arm is (data, training, inference). */
  description: string;
  training: {
    mode: 'lora' | 'full';
    steps: number;
    /** Sequence tokens seen (the budget every arm shares). */
    tokens: number;
    seconds: number;
    final_loss: number;
    final_val_loss: number | null;
    /** metrics.jsonl of the training run, relative to the results folder (loss per step). */
    metrics: string;
    /** Share of the vocabulary the arm's action tokens take (discrete-token arms), else null. */
    vocabulary_share: number | null;
  };
  vqa: VqaSummary;
  /** Accuracy / base accuracy per category and overall (null where the base scored 0). */
  retention: Partial<Record<VqaCategory | 'overall', number | null>>;
  sim: Record<string, SuiteSummary>;
}

export interface ExperimentResults {
  schema: typeof EXPERIMENT_SCHEMA;
  experiment: string;
  size: string;
  /** The preset as run (plain data). */
  preset: unknown;
  git_commit: string | null;
  machine: { cpus: number; model: string; memory_gib: number; node: string };
  started: string;
  finished: string;
  base: { model: string; vqa: VqaSummary };
  arms: ArmResult[];
}
