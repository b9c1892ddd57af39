// The package version, read once from package.json, and the line `vlm2vla version` prints.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = pkg.version;
  }
  return cached;
}

/** What `vlm2vla version` prints: the package, Node and platform. */
export function versionLine(): string {
  return `vlm2vla ${packageVersion()} (node ${process.version}, ${process.platform}-${process.arch})`;
}
