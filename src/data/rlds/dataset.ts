// RLDS datasets on disk in TFDS's layout: `<name>-<split>.tfrecord-XXXXX-of-YYYYY` shards,
// `dataset_info.json`, `features.json`; vlm2vla adds `stats.json` (action/state statistics) and
// `vlm2vla_episodes.jsonl` (per record: exact episode metadata and sim ground truth).
// Reading streams one episode at a time; writing is invisible until close() renames into place.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../errors/index.ts';
import { writeFileAtomic, fsyncDir } from '../../util/index.ts';
import { BRIDGE_SEMANTICS } from '../episode.ts';
import type { ActionSemantics, Episode, EpisodeMetadata, GroundTruth } from '../episode.ts';
import { StatsAccumulator } from '../stats.ts';
import { assertFiniteEpisode } from '../finite.ts';
import type { FeatureStats } from '../stats.ts';
import { decodeExample, encodeExample } from './example.ts';
import { readTfRecords, TfRecordWriter } from './tfrecord.ts';
import { exampleToEpisode, episodeToExample } from './schema.ts';
import { bridgeFeaturesJson } from './features-json.ts';

export const WRITER_MODULE = 'vlm2vla.data.rlds';
const SHARD = /^(.+)-(\w+)\.tfrecord-(\d{5})-of-(\d{5})$/;

export interface RldsInfo {
  name: string;
  version: string;
  split: string;
  shards: string[];
  /** Episodes per shard from dataset_info.json (may be absent). */
  shardLengths: number[] | null;
  writtenByVlm2vla: boolean;
  semantics: ActionSemantics;
  stats: { action: FeatureStats; state: FeatureStats } | null;
}

interface SidecarRecord {
  episodeId: string;
  source: string;
  filePath?: string;
  extra?: Record<string, unknown>;
  groundTruth?: GroundTruth;
}

export interface RldsDataset {
  dir: string;
  info: RldsInfo;
  /** Number of episodes when dataset_info.json says so. */
  count: number | null;
  episodes(): AsyncGenerator<Episode>;
}

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FormatError('E_RLDS_DATASET', `${path} is missing`, { file: path, fix: `an RLDS folder needs ${what}`, cause });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (cause) {
    throw new FormatError('E_RLDS_DATASET', `${path} is not a JSON object`, { file: path, fix: 'restore the file', cause });
  }
}

export function openRlds(dir: string, split = 'train'): RldsDataset {
  if (!existsSync(dir))
    throw new FormatError('E_RLDS_DATASET', `${dir} does not exist`, {
      file: dir,
      fix: 'give the folder holding dataset_info.json and the .tfrecord shards',
    });
  const infoPath = join(dir, 'dataset_info.json');
  const info = readJson(infoPath, 'dataset_info.json');
  const name = typeof info.name === 'string' ? info.name : null;
  if (!name)
    throw new FormatError('E_RLDS_DATASET', `${infoPath} has no "name"`, {
      file: infoPath,
      field: 'name',
      fix: 'restore dataset_info.json',
    });
  const shards = readdirSync(dir)
    .filter((f) => {
      const m = SHARD.exec(f);
      return m !== null && m[1] === name && m[2] === split;
    })
    .sort();
  if (shards.length === 0)
    throw new FormatError('E_RLDS_DATASET', `${dir} has no ${name}-${split}.tfrecord-* shards`, {
      file: dir,
      fix: 'check the folder and the split name',
    });
  const total = Number(SHARD.exec(shards[0]!)![4]);
  if (shards.length !== total) {
    throw new FormatError('E_RLDS_DATASET', `${dir} has ${shards.length} of ${total} shards of split ${split}`, {
      file: dir,
      field: 'shards',
      fix: 'a shard is missing; re-copy the dataset',
    });
  }
  const splits = Array.isArray(info.splits) ? (info.splits as { name?: unknown; shardLengths?: unknown }[]) : [];
  const lengths = splits.find((s) => s.name === split)?.shardLengths;
  const shardLengths = Array.isArray(lengths)
    ? lengths.map((l) =>
        typeof l === 'string' && /^\d{1,15}$/.test(l)
          ? Number(l)
          : typeof l === 'number' && Number.isSafeInteger(l) && l >= 0
            ? l
            : Number.NaN,
      )
    : null;
  if (shardLengths && (shardLengths.length !== shards.length || shardLengths.some((l) => Number.isNaN(l)))) {
    throw new FormatError(
      'E_RLDS_DATASET',
      `${infoPath}: shardLengths of split ${split} is ${JSON.stringify(lengths)}, expected one episode count per shard (${shards.length})`,
      { file: infoPath, field: 'splits.shardLengths', fix: 'restore dataset_info.json' },
    );
  }
  const ours = info.moduleName === WRITER_MODULE;
  let semantics = BRIDGE_SEMANTICS;
  let stats: RldsInfo['stats'] = null;
  if (ours) {
    const extra = readJson(join(dir, 'stats.json'), 'stats.json written by vlm2vla');
    semantics = extra.semantics as ActionSemantics;
    stats = { action: extra.action as FeatureStats, state: extra.state as FeatureStats };
  }
  const rinfo: RldsInfo = {
    name,
    version: String(info.version ?? ''),
    split,
    shards,
    shardLengths,
    writtenByVlm2vla: ours,
    semantics,
    stats,
  };
  return {
    dir,
    info: rinfo,
    count: shardLengths ? shardLengths.reduce((a, b) => a + b, 0) : null,
    async *episodes() {
      const sidecar = ours ? readSidecar(join(dir, 'vlm2vla_episodes.jsonl')) : null;
      let n = 0;
      for (const [s, shard] of shards.entries()) {
        const file = join(dir, shard);
        let inShard = 0;
        for await (const rec of readTfRecords(file)) {
          inShard++;
          let features;
          try {
            features = decodeExample(rec.data);
          } catch (cause) {
            throw new FormatError('E_RLDS_RECORD', `${file}: record ${rec.index} is not a tf.train.Example: ${(cause as Error).message}`, {
              file,
              field: `record ${rec.index}`,
              fix: 'the shard is corrupt',
              cause,
            });
          }
          const ep = exampleToEpisode(features, {
            file,
            index: rec.index,
            semantics,
            source: ours ? 'vlm2vla' : 'bridge',
            trustImageFlags: ours,
          });
          const side = sidecar?.[n];
          if (side) {
            const metadata: EpisodeMetadata = {
              source: side.source,
              episodeId: side.episodeId,
              semantics,
              ...(side.filePath !== undefined ? { filePath: side.filePath } : {}),
              ...(side.extra !== undefined ? { extra: side.extra } : {}),
            };
            ep.metadata = metadata;
            if (side.groundTruth) ep.groundTruth = side.groundTruth;
          }
          n++;
          yield ep;
        }
        const promised = shardLengths?.[s];
        if (promised !== undefined && inShard !== promised) {
          throw new FormatError('E_RLDS_DATASET', `${file} holds ${inShard} episodes, dataset_info.json says ${promised}`, {
            file,
            field: 'splits.shardLengths',
            fix: 'the shard is truncated or was replaced; re-copy the dataset',
          });
        }
      }
    },
  };
}

function readSidecar(path: string): SidecarRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as SidecarRecord;
      } catch (cause) {
        throw new FormatError('E_RLDS_DATASET', `${path}:${i + 1} is not JSON`, {
          file: path,
          field: `line ${i + 1}`,
          fix: 'restore the file',
          cause,
        });
      }
    });
}

export interface RldsWriterOptions {
  datasetName: string;
  semantics?: ActionSemantics;
  episodesPerShard?: number;
  split?: string;
  version?: string;
}

/** Writes episodes as Bridge-schema RLDS. Shards go to a hidden temp folder; close() names them
 *  `-of-N`, writes the JSON files, and renames everything into `dir` (which must not hold a dataset). */
export class RldsWriter {
  #shard: TfRecordWriter | null = null;
  #shardFiles: string[] = [];
  #shardLengths: number[] = [];
  #sidecar: string[] = [];
  #count = 0;
  #frame: { width: number; height: number; format: 'jpeg' | 'png' } | null = null;
  readonly #tmp: string;
  readonly #action: StatsAccumulator;
  readonly #state: StatsAccumulator;
  readonly #opts: Required<RldsWriterOptions>;

  private constructor(
    readonly dir: string,
    opts: RldsWriterOptions,
  ) {
    this.#opts = { semantics: BRIDGE_SEMANTICS, episodesPerShard: 100, split: 'train', version: '1.0.0', ...opts };
    if (!/^[a-z0-9_]+$/.test(this.#opts.datasetName))
      throw new FormatError('E_RLDS_DATASET', `dataset name ${JSON.stringify(opts.datasetName)} must be lowercase letters, digits and _`, {
        field: 'datasetName',
        fix: 'e.g. vlm2vla_sim',
      });
    this.#tmp = join(dir, '.partial');
    rmSync(this.#tmp, { recursive: true, force: true });
    mkdirSync(this.#tmp, { recursive: true });
    this.#action = new StatsAccumulator(this.#opts.semantics.actionDims.length);
    this.#state = new StatsAccumulator(this.#opts.semantics.stateDims.length);
  }

  static async create(dir: string, opts: RldsWriterOptions): Promise<RldsWriter> {
    if (existsSync(join(dir, 'dataset_info.json'))) {
      throw new FormatError('E_RLDS_EXISTS', `${dir} already holds a dataset`, {
        file: dir,
        fix: 'choose an empty output folder or delete the old dataset',
      });
    }
    return new RldsWriter(dir, opts);
  }

  async add(ep: Episode): Promise<void> {
    const s = ep.metadata.semantics;
    const want = this.#opts.semantics;
    if (s.frame !== want.frame || s.actionDims.join() !== want.actionDims.join() || s.controlHz !== want.controlHz) {
      throw new FormatError(
        'E_SEMANTICS',
        `episode ${ep.metadata.episodeId} has action semantics ${s.frame}/${s.controlHz} Hz, the dataset ${want.frame}/${want.controlHz} Hz`,
        { field: 'metadata.semantics', fix: 'write episodes of one robot and frame into one dataset' },
      );
    }
    if (ep.steps.length === 0)
      throw new FormatError('E_RLDS_RECORD', `episode ${ep.metadata.episodeId} has no steps`, {
        field: 'steps',
        fix: 'drop empty episodes',
      });
    assertFiniteEpisode(ep, this.dir);
    const first = Object.values(ep.steps[0]!.images)[0];
    if (first && !this.#frame) this.#frame = { width: first.width, height: first.height, format: first.format };
    if (!this.#shard || this.#shard.count >= this.#opts.episodesPerShard) this.#nextShard();
    this.#shard!.write(encodeExample(episodeToExample(ep, this.#count)));
    for (const step of ep.steps) {
      this.#action.add(step.action);
      this.#state.add(step.state);
    }
    const m = ep.metadata;
    this.#sidecar.push(
      JSON.stringify({
        episodeId: m.episodeId,
        source: m.source,
        ...(m.filePath !== undefined ? { filePath: m.filePath } : {}),
        ...(m.extra !== undefined ? { extra: m.extra } : {}),
        ...(ep.groundTruth ? { groundTruth: ep.groundTruth } : {}),
      }),
    );
    this.#count++;
  }

  #nextShard(): void {
    if (this.#shard) {
      this.#shard.close();
      this.#shardLengths.push(this.#shard.count);
    }
    const file = join(this.#tmp, `shard-${String(this.#shardFiles.length).padStart(5, '0')}`);
    this.#shardFiles.push(file);
    this.#shard = new TfRecordWriter(file);
  }

  get count(): number {
    return this.#count;
  }

  async close(): Promise<void> {
    if (!this.#shard) this.#nextShard();
    this.#shard!.close();
    this.#shardLengths.push(this.#shard!.count);
    const { datasetName: name, split, version } = this.#opts;
    const total = this.#shardFiles.length;
    const finalNames = this.#shardFiles.map(
      (_, i) => `${name}-${split}.tfrecord-${String(i).padStart(5, '0')}-of-${String(total).padStart(5, '0')}`,
    );
    writeFileAtomic(join(this.#tmp, 'vlm2vla_episodes.jsonl'), this.#sidecar.map((l) => `${l}\n`).join(''));
    writeFileAtomic(
      join(this.#tmp, 'stats.json'),
      `${JSON.stringify({ semantics: this.#opts.semantics, action: this.#action.result(), state: this.#state.result() }, null, 1)}\n`,
    );
    writeFileAtomic(join(this.#tmp, 'features.json'), `${JSON.stringify(bridgeFeaturesJson(this.#frame ?? undefined), null, 2)}\n`);
    const info = {
      name,
      version,
      moduleName: WRITER_MODULE,
      fileFormat: 'tfrecord',
      description: `Robot episodes in the Bridge V2 RLDS schema, written by vlm2vla.`,
      releaseNotes: { [version]: 'Written by vlm2vla.' },
      splits: [
        {
          name: split,
          filepathTemplate: '{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}',
          shardLengths: this.#shardLengths.map(String),
          numBytes: '0',
        },
      ],
    };
    this.#shardFiles.forEach((f, i) => renameSync(f, join(this.dir, finalNames[i]!)));
    for (const f of ['vlm2vla_episodes.jsonl', 'stats.json', 'features.json']) renameSync(join(this.#tmp, f), join(this.dir, f));
    // dataset_info.json last: a folder without it is not a dataset, so a crash above leaves nothing readable.
    writeFileAtomic(join(this.dir, 'dataset_info.json'), `${JSON.stringify(info, null, 2)}\n`);
    rmSync(this.#tmp, { recursive: true, force: true });
    fsyncDir(this.dir);
  }
}
