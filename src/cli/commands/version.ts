// `vlm2vla version`: package version, Node version, and which kernel backend is active.
import type { Command } from '../command.ts';
import { packageVersion } from '../../version.ts';

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version of vlm2vla and its runtime',
  flags: [],
  run() {
    console.log(`vlm2vla ${packageVersion()} (node ${process.version}, ${process.platform}-${process.arch})`);
    return 0;
  },
};
