// Typed command definitions: a command declares each flag once — type, default, bounds, help — and
// its run function receives the parsed values with matching TypeScript types, so `--help` (defaults
// and usage line are derived from the same declaration) cannot disagree with behaviour and no flag
// value needs a cast.
import { UsageError } from '../errors/index.ts';
import { parseArgs } from './args.ts';
import type { FlagSpec } from './args.ts';
import type { Command } from './command.ts';

interface FlagBase {
  help: string;
  /** Words for --help where the default is computed at run time (e.g. "2e-4 with LoRA, 5e-5 full"). */
  defaultHelp?: string;
  /** A required flag: missing, it is a usage error before the command runs. */
  required?: boolean;
}
export interface StringFlag extends FlagBase {
  type: 'string';
  default?: string;
  choices?: readonly string[];
  /** The placeholder in the usage line (default: the choices, or VALUE). */
  meta?: string;
}
export interface NumberFlag extends FlagBase {
  type: 'number';
  default?: number;
  /** Whole numbers only. */
  integer?: boolean;
  min?: number;
  max?: number;
  meta?: string;
}
export interface BooleanFlag extends FlagBase {
  type: 'boolean';
  default?: boolean;
}
export type FlagDef = StringFlag | NumberFlag | BooleanFlag;

type ValueOf<D extends FlagDef> = D extends { type: 'number' }
  ? number
  : D extends { type: 'boolean' }
    ? boolean
    : D extends { choices: readonly (infer C)[] }
      ? C
      : string;
type Present<D extends FlagDef> = D extends { required: true }
  ? true
  : D extends { type: 'boolean' }
    ? true
    : D extends { default: unknown }
      ? true
      : false;

/** The parsed flags of a declaration: a value for flags that are required, boolean or have a default,
 *  `undefined` possible for the others. */
export type FlagValues<F extends Record<string, FlagDef>> = {
  [K in keyof F]: Present<F[K]> extends true ? ValueOf<F[K]> : ValueOf<F[K]> | undefined;
};

export interface CommandDef<F extends Record<string, FlagDef>> {
  name: string;
  summary: string;
  /** Positional arguments for the usage line, e.g. "FILE". */
  positionals?: string;
  description?: string;
  /** Runs without the tensor engine (Command.noEngine). */
  noEngine?: boolean;
  flags: F;
  run(flags: FlagValues<F>, positionals: string[]): Promise<number> | number;
}

function flagSpec(name: string, d: FlagDef): FlagSpec {
  const def = d.defaultHelp ?? (d.default === undefined || d.default === false || d.default === '' ? undefined : d.default);
  return {
    name,
    type: d.type,
    help: d.required ? `${d.help} (required)` : d.help,
    ...(def !== undefined ? { default: def } : {}),
    ...(d.type === 'string' && d.choices ? { choices: d.choices } : {}),
  };
}

function usageOf<F extends Record<string, FlagDef>>(c: CommandDef<F>): string {
  const parts = Object.entries(c.flags).map(([name, d]) => {
    const meta =
      d.type === 'boolean'
        ? ''
        : ` ${d.meta ?? (d.type === 'string' && d.choices ? d.choices.join('|') : d.type === 'number' ? 'N' : 'VALUE')}`;
    return d.required ? `--${name}${meta}` : `[--${name}${meta}]`;
  });
  return [...(c.positionals ? [c.positionals] : []), ...parts].join(' ');
}

/** Checks parsed values against the declaration (required, whole numbers, bounds). */
export function checkFlags<F extends Record<string, FlagDef>>(flags: F, values: Record<string, unknown>): FlagValues<F> {
  const out: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(flags)) {
    let v = values[name];
    if (v === undefined) v = d.default ?? (d.type === 'boolean' ? false : undefined);
    if (d.required && (v === undefined || v === '')) throw new UsageError(`--${name} is required`, d.help);
    if (d.type === 'number' && typeof v === 'number') {
      const outside = (d.min !== undefined && v < d.min) || (d.max !== undefined && v > d.max);
      if (d.integer && d.min !== undefined && d.max !== undefined && (outside || !Number.isInteger(v)))
        throw new UsageError(`--${name} must be a whole number from ${d.min} to ${d.max}, got ${v}`);
      if (d.integer && !Number.isInteger(v)) throw new UsageError(`--${name} needs a whole number, got ${v}`);
      if (d.min !== undefined && v < d.min) throw new UsageError(`--${name} must be at least ${d.min}, got ${v}`);
      if (d.max !== undefined && v > d.max) throw new UsageError(`--${name} must be at most ${d.max}, got ${v}`);
    }
    out[name] = v;
  }
  return out as FlagValues<F>;
}

/** A registry command from a typed declaration. */
export function defineCommand<const F extends Record<string, FlagDef>>(c: CommandDef<F>): Command {
  // parseArgs fills defaults from the specs; pass the real defaults (not the help words) to it.
  const parseSpecs: FlagSpec[] = Object.entries(c.flags).map(([name, d]) => ({
    name,
    type: d.type,
    help: d.help,
    ...(d.type === 'string' && d.choices ? { choices: d.choices } : {}),
  }));
  return {
    name: c.name,
    summary: c.summary,
    usage: usageOf(c),
    ...(c.description ? { description: c.description } : {}),
    ...(c.noEngine ? { noEngine: true } : {}),
    flags: Object.entries(c.flags).map(([name, d]) => flagSpec(name, d)),
    run: (args) => {
      if (!c.positionals && args.positionals.length > 0)
        throw new UsageError(`unexpected argument "${args.positionals[0]}"`, `vlm2vla ${c.name} takes flags only (see --help)`);
      return c.run(checkFlags(c.flags, args.flags), args.positionals);
    },
    parse: (argv) => parseArgs(argv, parseSpecs),
  };
}
