// Shared utilities: seeded RNG, atomic files and journals, progress bars.
export { Rng } from './rng.ts';
export { writeFileAtomic, fsyncDir, fsyncFile, Journal, trimTornTail, readJsonl } from './atomic.ts';
export { crashPoint } from './crash.ts';
export { Progress, formatDuration } from './progress.ts';
export type { ProgressOptions } from './progress.ts';
export { EnvironmentError, fsError, withFsErrors, checkOutputDir, checkOutputFile } from './fs-errors.ts';
export type { OutputCheck } from './fs-errors.ts';
export { parseDecimal } from './numbers.ts';
