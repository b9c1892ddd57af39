// CLI entry: dispatches `vlm2vla <command…> [flags]` to the registry, prints help, and turns errors into
// messages. Only command metadata is needed until a command runs: the registry loads a command's
// module (and with it the engine) then, so help and `version` start fast (bin/vlm2vla.mjs passes the
// compiled manifest; the sources' registry is the default).
import { parseArgs } from './args.ts';
import type { Command } from './command.ts';
import { commandHelp, groupList, topHelp } from './help.ts';
import type { CommandInfo } from './help.ts';
import { isVlmError } from '../errors/index.ts';
import { fsError } from '../util/fs-errors.ts';
import { packageVersion } from '../version.ts';

/** The commands: their metadata at once, their code on demand. */
export interface CommandRegistry {
  list: readonly CommandInfo[];
  load(name: string): Promise<Command>;
}

/** The registry of the sources (src/cli/commands/index.ts), imported when first needed. */
export async function sourceRegistry(): Promise<CommandRegistry> {
  const { commands } = await import('./commands/index.ts');
  return { list: commands, load: async (name) => commands.find((c) => c.name === name)! };
}

/** Longest command name that prefixes argv ("sim collect" before "sim"). */
function findCommand(commands: readonly CommandInfo[], argv: readonly string[]): { cmd: CommandInfo; rest: string[] } | undefined {
  let best: { cmd: CommandInfo; rest: string[] } | undefined;
  for (const cmd of commands) {
    const words = cmd.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.cmd.name.split(' ').length)) {
      best = { cmd, rest: argv.slice(words.length) };
    }
  }
  return best;
}

export async function main(
  argv: readonly string[],
  registry: CommandRegistry | (() => Promise<CommandRegistry>) = sourceRegistry,
): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    console.log(packageVersion());
    return 0;
  }
  const reg = typeof registry === 'function' ? await registry() : registry;
  const commands = reg.list;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(topHelp(commands, packageVersion()));
    return argv.length === 0 ? 1 : 0;
  }
  const found = findCommand(commands, argv);
  if (!found) {
    const group = commands.filter((c) => c.name.split(' ')[0] === argv[0]);
    if (group.length > 0) {
      const lines = groupList(group);
      if (argv[1] === '--help' || argv[1] === '-h') {
        console.log(`vlm2vla ${argv[0]} subcommands (each has --help):\n${lines}`);
        return 0;
      }
      console.error(`vlm2vla ${argv[0]}: unknown or missing subcommand "${argv[1] ?? ''}". Subcommands:\n${lines}`);
    } else {
      console.error(`vlm2vla: unknown command "${argv[0]}"\n`);
      console.error(topHelp(commands, packageVersion()));
    }
    return 2;
  }
  const { cmd: info, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(info));
    return 0;
  }
  const cmd = await reg.load(info.name);
  try {
    // The native kernels when the addon is built (VLM2VLA_BACKEND overrides), else the TypeScript ones.
    if (!cmd.noEngine) {
      const { initBackend } = await import('../tensor/index.ts');
      await initBackend();
    }
    return await cmd.run(cmd.parse ? cmd.parse(rest) : parseArgs(rest, cmd.flags));
  } catch (caught) {
    // A file-system fault anywhere (read-only, full disk, a file where a folder goes) is the user's
    // environment, not a bug: one typed paragraph naming the path and the fix.
    const e = fsError(caught) ?? caught;
    if (isVlmError(e)) {
      console.error(e.describe());
      if (e.code === 'E_USAGE') console.error(`\n${commandHelp(cmd)}`);
      return 2;
    }
    const err = e as Error;
    console.error(`vlm2vla ${cmd.name}: unexpected internal error: ${err?.message ?? String(e)}`);
    if (process.env.VLM2VLA_DEBUG) console.error(err?.stack);
    else console.error('set VLM2VLA_DEBUG=1 for the stack trace, and please report this as a bug');
    return 70;
  }
}
