// The registry of CLI commands. Each module adds one line here.
import type { Command } from '../command.ts';
import { versionCommand } from './version.ts';
import { tokenizerEncodeCommand, tokenizerTrainCommand } from './tokenizer.ts';

export const commands: readonly Command[] = [
  versionCommand,
  tokenizerEncodeCommand,
  tokenizerTrainCommand,
];
