// A small, strict flag parser: `--name value`, `--name=value`, boolean `--flag`, and positionals.
import { UsageError } from '../errors/index.ts';
import { parseDecimal } from '../util/numbers.ts';

export interface FlagSpec {
  /** Flag name without dashes. */
  name: string;
  type: 'string' | 'number' | 'boolean';
  help: string;
  default?: string | number | boolean;
  /** Allowed values for string flags. */
  choices?: readonly string[];
}

export interface ParsedArgs {
  flags: Record<string, string | number | boolean | undefined>;
  positionals: string[];
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const flags: ParsedArgs['flags'] = {};
  for (const s of specs) if (s.default !== undefined) flags[s.name] = s.default;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (!spec) {
      const known = specs.map((s) => `--${s.name}`).join(', ');
      throw new UsageError(`unknown flag --${name}`, known ? `known flags: ${known}` : 'this command takes no flags');
    }
    let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (spec.type === 'boolean') {
      if (raw === undefined || raw === 'true') flags[name] = true;
      else if (raw === 'false') flags[name] = false;
      else throw new UsageError(`--${name} takes no value or true/false, got "${raw}"`);
      continue;
    }
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`--${name} needs a value`, spec.help);
    }
    if (spec.type === 'number') {
      const n = parseDecimal(raw);
      if (n === null)
        throw new UsageError(
          `--${name} needs a decimal number, got "${raw}"`,
          'write numbers in plain decimal, e.g. 16, 0.5 or 2e-4 (no hex, underscores or commas)',
        );
      flags[name] = n;
    } else {
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}; got "${raw}"`);
      }
      flags[name] = raw;
    }
  }
  return { flags, positionals };
}

export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `  --${s.name}${s.type === 'boolean' ? '' : ` <${s.type === 'number' ? 'n' : s.choices ? s.choices.join('|') : 'value'}>`}`;
    const def = s.default !== undefined && s.default !== false && s.default !== '' ? ` (default: ${String(s.default)})` : '';
    return { left, right: `${s.help}${def}` };
  });
  const w = Math.max(0, ...rows.map((r) => r.left.length)) + 2;
  return rows.map((r) => r.left.padEnd(w) + r.right).join('\n');
}
