// Checkpoints split over several safetensors files, with `model.safetensors.index.json`:
//   {"metadata": {"total_size": <bytes>}, "weight_map": {"<tensor name>": "<shard file name>", …}}
// Shards open lazily on first use. A single `model.safetensors` reads through the same interface.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FormatError } from '../errors/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import { SafetensorsFile, encodeSafetensors } from './safetensors.ts';
import type { TensorInfo, TensorToWrite } from './safetensors.ts';
import type { AnyTypedArray } from './dtype.ts';

export const INDEX_FILE = 'model.safetensors.index.json';

export class Checkpoint {
  readonly #shards = new Map<string, SafetensorsFile>();

  private constructor(
    readonly dir: string,
    /** tensor name → shard file name */
    readonly weightMap: ReadonlyMap<string, string>,
  ) {}

  /** Opens `dir/model.safetensors.index.json` or `dir/<file>` (default model.safetensors). */
  static open(dir: string, file = 'model.safetensors'): Checkpoint {
    const indexPath = join(dir, INDEX_FILE);
    if (!existsSync(indexPath)) {
      const single = SafetensorsFile.open(join(dir, file));
      const ck = new Checkpoint(dir, new Map([...single.tensors.keys()].map((n) => [n, file])));
      ck.#shards.set(file, single);
      return ck;
    }
    const fail = (field: string, message: string): never => {
      throw new FormatError('E_SAFETENSORS_INDEX', `${indexPath}: ${message}`, {
        file: indexPath,
        field,
        fix: 'restore the index from the model repository',
      });
    };
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (cause) {
      fail('', `not valid JSON: ${(cause as Error).message}`);
    }
    const map = (json as { weight_map?: unknown } | null)?.weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) fail('weight_map', 'has no weight_map object');
    const weightMap = new Map<string, string>();
    for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
      if (typeof shard !== 'string' || shard === '' || basename(shard) !== shard)
        fail(`weight_map.${name}`, `shard of "${name}" is ${JSON.stringify(shard)}, expected a file name in the same folder`);
      weightMap.set(name, shard as string);
    }
    for (const shard of new Set(weightMap.values())) {
      if (!existsSync(join(dir, shard))) fail(`weight_map`, `shard ${shard} is missing from ${dir}`);
    }
    return new Checkpoint(dir, weightMap);
  }

  #shard(file: string): SafetensorsFile {
    let s = this.#shards.get(file);
    if (!s) {
      s = SafetensorsFile.open(join(this.dir, file));
      for (const name of s.tensors.keys()) {
        const owner = this.weightMap.get(name);
        if (owner !== file) {
          throw new FormatError(
            'E_SAFETENSORS_INDEX',
            `tensor "${name}" is in ${file} but the index ${owner ? `puts it in ${owner}` : 'does not list it'}`,
            { file: join(this.dir, file), field: name, fix: 'the index and the shards disagree; re-download the checkpoint' },
          );
        }
      }
      this.#shards.set(file, s);
    }
    return s;
  }

  names(): string[] {
    return [...this.weightMap.keys()];
  }

  info(name: string): TensorInfo {
    const file = this.weightMap.get(name);
    if (!file)
      throw new FormatError('E_SAFETENSORS_MISSING', `the checkpoint in ${this.dir} has no tensor "${name}"`, {
        file: this.dir,
        field: name,
        fix: 'check the tensor name',
      });
    const s = this.#shard(file);
    if (!s.tensors.has(name))
      throw new FormatError('E_SAFETENSORS_INDEX', `the index puts "${name}" in ${file}, which does not hold it`, {
        file: join(this.dir, file),
        field: name,
        fix: 're-download the checkpoint',
      });
    return s.info(name);
  }

  /** Shapes of every tensor (opens every shard's header). */
  shapes(): Map<string, number[]> {
    return new Map(this.names().map((n) => [n, this.info(n).shape]));
  }

  read(name: string): AnyTypedArray {
    this.info(name);
    return this.#shard(this.weightMap.get(name)!).readTensor(name);
  }

  close(): void {
    for (const s of this.#shards.values()) s.close();
    this.#shards.clear();
  }
}

/** Writes tensors as shards of at most maxShardBytes (a tensor is never split) plus the index; a
 *  checkpoint that fits in one shard is written as plain model.safetensors. */
export function writeCheckpoint(
  dir: string,
  tensors: ReadonlyMap<string, TensorToWrite>,
  maxShardBytes = 2 * 1024 ** 3,
  metadata: Record<string, string> = {},
): string[] {
  const groups: [string, TensorToWrite][][] = [[]];
  let size = 0;
  let total = 0;
  for (const entry of tensors) {
    const bytes = entry[1].data.byteLength;
    if (size > 0 && size + bytes > maxShardBytes) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1]!.push(entry);
    size += bytes;
    total += bytes;
  }
  if (groups.length === 1) {
    writeFileAtomic(join(dir, 'model.safetensors'), encodeSafetensors(new Map(groups[0]), { format: 'pt', ...metadata }));
    return ['model.safetensors'];
  }
  const names = groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  groups.forEach((g, i) => {
    writeFileAtomic(join(dir, names[i]!), encodeSafetensors(new Map(g), { format: 'pt', ...metadata }));
    for (const [name] of g) weightMap[name] = names[i]!;
  });
  writeFileAtomic(join(dir, INDEX_FILE), `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`);
  return names;
}
