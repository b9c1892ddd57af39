// The registry of CLI commands. Each module adds one line here.
import type { Command } from '../command.ts';
import { versionCommand } from './version.ts';

export const commands: readonly Command[] = [
  versionCommand,
];
