// The shape of a CLI command: a name, one-line summary, flags, and a run function returning an exit code.
import type { FlagSpec, ParsedArgs } from './args.ts';

export interface Command {
  /** Space-separated path, e.g. "sim collect". */
  name: string;
  summary: string;
  /** Usage line after the command name, e.g. "[--episodes N] --out DIR". */
  usage?: string;
  /** Longer help text shown by `vlm2vla <command> --help`. */
  description?: string;
  flags: readonly FlagSpec[];
  /** Runs without the tensor engine (no kernel backend is started), e.g. `version`. */
  noEngine?: boolean;
  /** Parses argv (default: parseArgs over `flags`); typed commands (define.ts) bring their own. */
  parse?(argv: readonly string[]): ParsedArgs;
  run(args: ParsedArgs): Promise<number> | number;
}
