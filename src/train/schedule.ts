// Learning-rate schedules: linear warm-up, then constant, linear decay or cosine decay to a floor.
import { ConfigError } from '../errors/index.ts';

export interface ScheduleConfig {
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Final lr as a fraction of the peak (decaying schedules). */
  minLrRatio?: number;
}

const SCHEDULES: Record<ScheduleConfig['kind'], (progress: number) => number> = {
  constant: () => 1,
  linear: (p) => 1 - p,
  cosine: (p) => 0.5 * (1 + Math.cos(Math.PI * p)),
};

export function checkSchedule(cfg: ScheduleConfig): void {
  const fail = (field: string, msg: string) => {
    throw new ConfigError('E_SCHEDULE', msg, { field, fix: 'fix the training configuration' });
  };
  if (!(cfg.kind in SCHEDULES)) fail('kind', `unknown schedule ${JSON.stringify(cfg.kind)}; use constant, linear or cosine`);
  if (!(Number.isFinite(cfg.lr) && cfg.lr > 0)) fail('lr', `lr must be a positive number, got ${cfg.lr}`);
  if (!(Number.isInteger(cfg.totalSteps) && cfg.totalSteps > 0))
    fail('totalSteps', `totalSteps must be a positive integer, got ${cfg.totalSteps}`);
  if (!(Number.isInteger(cfg.warmupSteps) && cfg.warmupSteps >= 0 && cfg.warmupSteps <= cfg.totalSteps))
    fail('warmupSteps', `warmupSteps must be an integer in [0, totalSteps], got ${cfg.warmupSteps}`);
  const floor = cfg.minLrRatio ?? 0;
  if (!(floor >= 0 && floor <= 1)) fail('minLrRatio', `minLrRatio must be in [0, 1], got ${floor}`);
}

/** The learning rate for optimizer step `step` (0-based). */
export function lrAt(step: number, cfg: ScheduleConfig): number {
  if (cfg.warmupSteps > 0 && step < cfg.warmupSteps) return (cfg.lr * (step + 1)) / cfg.warmupSteps;
  const span = Math.max(1, cfg.totalSteps - cfg.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - cfg.warmupSteps) / span));
  const floor = cfg.minLrRatio ?? 0;
  return cfg.lr * (floor + (1 - floor) * SCHEDULES[cfg.kind](progress));
}
