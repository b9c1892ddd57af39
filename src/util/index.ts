// Shared utilities: seeded RNG, atomic files and journals, progress bars; line-chart.ts draws SVG line
// charts (the trainer's loss.svg, the report's figures), imported from its file.
export { Rng } from './rng.ts';
export { writeFileAtomic, fsyncDir, fsyncFile, Journal, trimTornTail, readJsonl } from './atomic.ts';
export { crashPoint } from './crash.ts';
export { Progress, formatDuration } from './progress.ts';
export type { ProgressOptions } from './progress.ts';
export { EnvironmentError, fsError, withFsErrors, checkOutputDir, checkOutputFile } from './fs-errors.ts';
export type { OutputCheck } from './fs-errors.ts';
export { parseDecimal } from './numbers.ts';
