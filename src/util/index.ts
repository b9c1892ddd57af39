// Shared utilities: seeded RNG, atomic files and journals, progress bars.
export { Rng } from './rng.ts';
export { writeFileAtomic, Journal, trimTornTail, readJsonl } from './atomic.ts';
export { Progress, formatDuration } from './progress.ts';
export type { ProgressOptions } from './progress.ts';
