// What the measurement scripts share: a usage error that names the script and exits, and loading a
// model (config, weights, tokenizer, chat template) with its typed errors turned into such a message.
import { loadVqaModel } from '../src/eval/vqa.ts';
import type { VqaModel } from '../src/eval/vqa.ts';
import { isVlmError } from '../src/errors/index.ts';

/** A function that prints `script: message` to stderr and exits with status 1. */
export function failWith(script: string): (message: string) => never {
  return (message) => {
    console.error(`${script}: ${message}`);
    process.exit(1);
  };
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
