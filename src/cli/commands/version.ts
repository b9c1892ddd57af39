// `vlm2vla version`: package version, Node version and platform.
import type { Command } from '../command.ts';
import { versionLine } from '../../version.ts';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version of vlm2vla and its runtime',
  flags: [],
  noEngine: true,
  run() {
    console.log(versionLine());
    return 0;
  },
};
