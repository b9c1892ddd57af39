// What the research probes share: a usage error that names the script and exits, parsing the flags
// (with --help listing them) and checking a whole-number flag, and loading a model (config, weights, tokenizer, chat template) with its typed
// errors turned into such a message.
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { loadVqaModel } from '../../src/eval/vqa.ts';
import type { VqaModel } from '../../src/eval/vqa.ts';
import { isVlmError } from '../../src/errors/index.ts';
import type { Gemma3Config } from '../../src/models/index.ts';

/** A function that prints `script: message` to stderr and exits with status 1. */
export function failWith(script: string): (message: string) => never {
  return (message) => {
    console.error(`${script}: ${message}`);
    process.exit(1);
  };
}

/** parseArgs over the command line, with an unknown or malformed flag turned into a usage error;
 *  `--help` prints the flags with their defaults and exits 0. */
export function parseArgsOrFail<T extends ParseArgsConfig>(config: T, fail: (message: string) => never): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    const flags = Object.entries(config.options ?? {}).map(
      ([name, o]) =>
        `  --${name}${o.type === 'string' ? ' VALUE' : ''}${o.default !== undefined ? ` (default: ${String(o.default)})` : ''}`,
    );
    console.log(`usage: node --import tsx ${relative(process.cwd(), process.argv[1] ?? '')} [flags]\nflags:\n${flags.join('\n')}`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (e) {
    return fail(
      `${(e as Error).message.split('\n')[0]} (flags: ${Object.keys(config.options ?? {})
        .map((o) => `--${o}`)
        .join(', ')})`,
    );
  }
}

/** The flag's value as a whole number in [min, max], or exit through `fail` naming the flag. */
export function wholeNumberOrFail(
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
  fail: (message: string) => never,
): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= min && n <= max))
    fail(max === Infinity ? `${flag} must be a whole number >= ${min}` : `${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The model in `dir` for answering questions, or exit through `fail` with what is wrong with it. */
export function loadModelOrFail(dir: string, fail: (message: string) => never): VqaModel {
  try {
    return loadVqaModel(dir);
  } catch (e) {
    if (isVlmError(e)) fail(e.message);
    throw e;
  }
}

/** As loadModelOrFail, for a vision-language model: a text-only one is also a usage error. Returns
 *  the model with its (vision-language) config. */
export function loadVisionModelOrFail(dir: string, fail: (message: string) => never): { m: VqaModel; cfg: Gemma3Config } {
  const m = loadModelOrFail(dir, fail);
  const cfg = m.model.cfg;
  if (cfg.modelType !== 'gemma3') return fail(`${dir} is a text-only model; this needs image tokens`);
  return { m, cfg };
}
