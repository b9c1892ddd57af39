// Reading an SFT dataset folder written by `vlm2vla build`: the one reader of build_info.json and of
// the `train.jsonl` / `val.jsonl` records, each validated at the boundary (JSON, the record's shape,
// as many image paths as image markers, images inside the folder), used by the trainer and the CLI.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError } from '../errors/index.ts';
import type { BuildInfo, ChatRecord } from './build.ts';

export type SftSplit = 'train' | 'val';

/** One validated record and where it came from (`file:line`, for error messages). */
export interface SftRecord {
  record: ChatRecord;
  where: string;
  /** Image markers in its messages (= its image paths). */
  images: number;
}

export interface SftDataset {
  dir: string;
  /** build_info.json, or null for a folder without one (records only). */
  info: BuildInfo | null;
  /** The action style the dataset was built with ('list' when build_info.json does not say). */
  actionStyle: string;
  /** Style `tokens`: the bin ranges (cm) of dx, dy, dz. */
  tokenBins: { low: [number, number, number]; high: [number, number, number] } | null;
  /** Whether the split's file exists (a dataset may have no validation split). */
  has(split: SftSplit): boolean;
  /** The split's records in file order, validated. */
  records(split: SftSplit): SftRecord[];
  /** The absolute path of an image a record names, checked to lie inside the folder and exist. */
  imagePath(rel: string, where: string): string;
}

const REBUILD = 'rebuild the dataset with `vlm2vla build`';

function readBuildInfo(file: string): BuildInfo | null {
  if (!existsSync(file)) return null;
  let info: unknown;
  try {
    info = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new FormatError('E_SFT_RECORD', `${file} is not valid JSON: ${(cause as Error).message}`, { file, fix: REBUILD, cause });
  }
  if (!info || typeof info !== 'object' || Array.isArray(info))
    throw new FormatError('E_SFT_RECORD', `${file} is not a JSON object`, { file, fix: REBUILD });
  const options = (info as { options?: unknown }).options;
  if (options !== undefined && (!options || typeof options !== 'object' || Array.isArray(options)))
    throw new FormatError('E_SFT_RECORD', `${file}: options must be an object`, { file, field: 'options', fix: REBUILD });
  return info as BuildInfo;
}

function tokenBins(info: BuildInfo | null, file: string): SftDataset['tokenBins'] {
  if (info?.options?.actionStyle !== 'tokens') return null;
  const t = info.options.tokens as { low?: unknown; high?: unknown } | undefined;
  const triple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!t || !triple(t.low) || !triple(t.high))
    throw new FormatError('E_SFT_RECORD', `${file}: options.tokens (the bin ranges of the tokens action style) is missing or malformed`, {
      file,
      field: 'options.tokens',
      fix: 'rebuild the dataset with `vlm2vla build --action-style tokens`',
    });
  return { low: t.low as [number, number, number], high: t.high as [number, number, number] };
}

function checkRecord(rec: unknown, where: string, file: string): SftRecord {
  const r = rec as Partial<ChatRecord> | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.messages) || !Array.isArray(r.images))
    throw new FormatError('E_SFT_RECORD', `${where}: a record needs "messages" and "images" arrays`, {
      file,
      field: 'messages',
      fix: REBUILD,
    });
  for (const [k, m] of r.messages.entries()) {
    if (
      !m ||
      typeof m !== 'object' ||
      (m.role !== 'user' && m.role !== 'assistant' && (m.role as string) !== 'system') ||
      !(Array.isArray(m.content) || typeof m.content === 'string')
    )
      throw new FormatError(
        'E_SFT_RECORD',
        `${where}: messages[${k}] needs a role (user, assistant or system) and a content (text, or an array of parts)`,
        { file, field: `messages[${k}]`, fix: REBUILD },
      );
    if (typeof m.content === 'string') continue;
    for (const p of m.content) {
      if (!p || (p.type !== 'image' && !(p.type === 'text' && typeof p.text === 'string')))
        throw new FormatError(
          'E_SFT_RECORD',
          `${where}: messages[${k}].content holds a part that is neither {type: "image"} nor {type: "text", text}`,
          { file, field: `messages[${k}].content`, fix: REBUILD },
        );
    }
  }
  if (!r.images.every((p) => typeof p === 'string'))
    throw new FormatError('E_SFT_RECORD', `${where}: images must be relative paths (strings)`, { file, field: 'images', fix: REBUILD });
  const markers = r.messages.reduce((a, m) => a + (Array.isArray(m.content) ? m.content.filter((p) => p.type === 'image').length : 0), 0);
  if (markers !== r.images.length)
    throw new FormatError('E_SFT_RECORD', `${where}: ${markers} image markers in the messages but ${r.images.length} image paths`, {
      file,
      field: 'images',
      fix: REBUILD,
    });
  return { record: r as ChatRecord, where, images: markers };
}

/** Opens an SFT dataset folder: reads and checks build_info.json at once; records are read per split. */
export function openSftDataset(dir: string): SftDataset {
  if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`, 'point --data at a folder written by `vlm2vla build`');
  const infoFile = join(dir, 'build_info.json');
  const info = readBuildInfo(infoFile);
  const bins = tokenBins(info, infoFile);
  const fileOf = (split: SftSplit) => join(dir, `${split}.jsonl`);
  return {
    dir,
    info,
    actionStyle: info?.options?.actionStyle ?? 'list',
    tokenBins: bins,
    has: (split) => existsSync(fileOf(split)),
    records(split) {
      const file = fileOf(split);
      if (!existsSync(file)) throw new UsageError(`${file} does not exist`, 'point --data at a folder written by `vlm2vla build`');
      const out: SftRecord[] = [];
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.trim() === '') return;
          const where = `${file}:${i + 1}`;
          let rec: unknown;
          try {
            rec = JSON.parse(line);
          } catch (cause) {
            throw new FormatError('E_SFT_RECORD', `${where}: not valid JSON (${(cause as Error).message})`, { file, fix: REBUILD, cause });
          }
          out.push(checkRecord(rec, where, file));
        });
      return out;
    },
    imagePath(rel, where) {
      const path = join(dir, rel);
      if (rel.includes('..') || rel.startsWith('/') || !existsSync(path))
        throw new FormatError('E_SFT_RECORD', `${where}: image ${rel} does not exist in ${dir}`, {
          file: where.replace(/:\d+$/, ''),
          field: 'images',
          fix: 'copy the whole dataset folder, images included',
        });
      return path;
    },
  };
}

/** The text of every message part of a split (e.g. to count which tokens a dataset uses). */
export function recordTexts(records: readonly SftRecord[]): string[] {
  return records.flatMap((r) =>
    r.record.messages.flatMap((m) =>
      typeof m.content === 'string' ? [m.content as string] : m.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])),
    ),
  );
}
