// `vlm2vla version`: package version, Node version and platform.
import { defineCommand } from '../define.ts';
import { versionLine } from '../../version.ts';

export const versionCommand = defineCommand({
  name: 'version',
  summary: 'print the version of vlm2vla and its runtime',
  noEngine: true,
  flags: {},
  run() {
    console.log(versionLine());
    return 0;
  },
});
