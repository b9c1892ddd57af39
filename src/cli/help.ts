// Help texts of the CLI: the command list and one command's usage and flags. Built only from command
// metadata (no command module is loaded), so `vlm2vla --help` and `vlm2vla <command> --help` answer
// at start-up speed from the compiled command manifest.
import { formatFlags } from './args.ts';
import type { Command } from './command.ts';

/** What help needs of a command: everything but its code. */
export type CommandInfo = Pick<Command, 'name' | 'summary' | 'usage' | 'description' | 'flags'>;

export function topHelp(commands: readonly CommandInfo[], version: string): string {
  const w = Math.max(...commands.map((c) => c.name.length)) + 2;
  const list = commands.map((c) => `  ${c.name.padEnd(w)}${c.summary}`).join('\n');
  return [
    `vlm2vla ${version} — turn a vision-language model into a robot policy, actions as language.`,
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

export function commandHelp(cmd: CommandInfo): string {
  const parts = [`usage: vlm2vla ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ''}`, '', cmd.summary];
  if (cmd.description) parts.push('', cmd.description);
  if (cmd.flags.length > 0) parts.push('', 'flags:', formatFlags(cmd.flags));
  return parts.join('\n');
}

/** The subcommands of a group ("sim collect", "sim play"), one per line. */
export function groupList(group: readonly CommandInfo[]): string {
  const width = Math.max(...group.map((c) => c.name.length));
  return group.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
}
