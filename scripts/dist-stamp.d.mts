// Types of scripts/dist-stamp.mjs (a plain module: bin/vlm2vla.mjs loads it without TypeScript).
export interface SourceStamp {
  /** Newest mtime (ms) of a source file when the build began. */
  newestSource: number;
  /** Per folder of src/ ('' is src/ itself, then 'cli', 'cli/commands', …). */
  folders: Record<string, { mtimeMs: number; files: string[]; dirs: string[] }>;
}
export function sourceStamp(root: string): SourceStamp;
export function sourcesChanged(root: string, stamp: unknown): boolean;
