// CLI entry: dispatches `vlm2vla <command…> [flags]` to the registry, prints help, and turns errors into messages.
import { formatFlags, parseArgs } from './args.ts';
import type { Command } from './command.ts';
import { commands } from './commands/index.ts';
import { isVlmError } from '../errors/index.ts';
import { packageVersion } from '../version.ts';
import { initBackend } from '../tensor/index.ts';

function topHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length)) + 2;
  const list = commands.map((c) => `  ${c.name.padEnd(w)}${c.summary}`).join('\n');
  return [
    `vlm2vla ${packageVersion()} — turn a vision-language model into a robot policy, actions as language.`,
    '',
    'usage: vlm2vla <command> [flags]      (vlm2vla <command> --help for its flags)',
    '',
    'commands:',
    list,
    '',
    'environment: VLM2VLA_BACKEND=native|ts selects the kernels; VLM2VLA_THREADS sets the worker count;',
    '  VLM2VLA_SPIN_US how long idle workers spin before sleeping (0 on a busy shared machine). See README.md.',
  ].join('\n');
}

function commandHelp(cmd: Command): string {
  const parts = [`usage: vlm2vla ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ''}`, '', cmd.summary];
  if (cmd.description) parts.push('', cmd.description);
  if (cmd.flags.length > 0) parts.push('', 'flags:', formatFlags(cmd.flags));
  return parts.join('\n');
}

/** Longest command name that prefixes argv ("sim collect" before "sim"). */
function findCommand(argv: readonly string[]): { cmd: Command; rest: string[] } | undefined {
  let best: { cmd: Command; rest: string[] } | undefined;
  for (const cmd of commands) {
    const words = cmd.name.split(' ');
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.cmd.name.split(' ').length)) {
      best = { cmd, rest: argv.slice(words.length) };
    }
  }
  return best;
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(topHelp());
    return argv.length === 0 ? 1 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    console.log(packageVersion());
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = commands.filter((c) => c.name.split(' ')[0] === argv[0]);
    if (group.length > 0) {
      const asked = argv[1] === '--help' || argv[1] === '-h';
      const width = Math.max(...group.map((c) => c.name.length));
      const lines = group.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
      if (asked) {
        console.log(`vlm2vla ${argv[0]} subcommands (each has --help):\n${lines}`);
        return 0;
      }
      console.error(`vlm2vla ${argv[0]}: unknown or missing subcommand "${argv[1] ?? ''}". Subcommands:\n${lines}`);
    } else {
      console.error(`vlm2vla: unknown command "${argv[0]}"\n`);
      console.error(topHelp());
    }
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(cmd));
    return 0;
  }
  try {
    // The native kernels when the addon is built (VLM2VLA_BACKEND overrides), else the TypeScript ones.
    await initBackend();
    return await cmd.run(cmd.parse ? cmd.parse(rest) : parseArgs(rest, cmd.flags));
  } catch (e) {
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
