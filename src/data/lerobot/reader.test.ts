// LeRobot v3 reader checks: each way a dataset can lose or corrupt data (missing file, counts,
// boundaries, timestamps, duplicate frames, indices, tasks, fps, values, sidecar, changed bytes)
// ends in a FormatError naming the file and field, never in a silent read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { LeRobotWriter, openLeRobot } from './index.ts';
import { Rng } from '../../util/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../../sim/index.ts';
import type { Episode } from '../episode.ts';
import { isVlmError } from '../../errors/index.ts';

function episodes(n: number): Episode[] {
  return Array.from({ length: n }, (_, i) => {
    const rng = new Rng(500 + i);
    return runExpert(sampleTask('pick', rng), rng, { episodeId: `rd-${i}`, render: (w) => renderEncoded(w, 8, 'png') }).episode;
  });
}

const root = mkdtempSync(join(tmpdir(), 'vlm2vla-lr-rd-'));
const eps = episodes(3);
const pristine = join(root, 'pristine');
{
  const w = LeRobotWriter.create(pristine, { episodesPerFile: 1 });
  for (const e of eps) w.add(e);
  w.close();
}
let copies = 0;
/** A fresh copy of the dataset; `foreign` drops vlm2vla's checksums so the semantic checks run. */
function copy(foreign = true): string {
  const dir = join(root, `c${copies++}`);
  cpSync(pristine, dir, { recursive: true });
  if (foreign) editInfo(dir, (info) => delete (info.vlm2vla as Record<string, unknown>).checksums);
  return dir;
}
function editInfo(dir: string, edit: (info: Record<string, unknown>) => void): void {
  const p = join(dir, 'meta', 'info.json');
  const info = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  edit(info);
  writeFileSync(p, JSON.stringify(info));
}
/** Rewrites a Parquet file row by row, keeping its schema. */
async function rewrite(path: string, edit: (rows: Record<string, unknown>[]) => Record<string, unknown>[]): Promise<void> {
  const bytes = readFileSync(path);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const meta = parquetMetadata(ab);
  const rows = edit((await parquetReadObjects({ file: ab, utf8: false })) as Record<string, unknown>[]);
  const top: string[] = [];
  let i = 1;
  const skip = (k: number): number => {
    let next = k + 1;
    for (let c = 0; c < (meta.schema[k]!.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < meta.schema.length) {
    top.push(meta.schema[i]!.name);
    i = skip(i);
  }
  const buffer = parquetWriteBuffer({
    columnData: top.map((name) => ({ name, data: rows.map((r) => r[name]) })),
    schema: meta.schema,
  } as unknown as Parameters<typeof parquetWriteBuffer>[0]);
  writeFileSync(path, new Uint8Array(buffer));
}

async function readAll(dir: string): Promise<Episode[]> {
  const out: Episode[] = [];
  for await (const e of openLeRobot(dir).episodes()) out.push(e);
  return out;
}
const data = (dir: string, k: number) => join(dir, 'data', 'chunk-000', `file-00${k}.parquet`);
async function rejects(dir: string, field: string | RegExp, message: RegExp): Promise<void> {
  await assert.rejects(readAll(dir), (e: unknown) => {
    assert.ok(isVlmError(e), `not a VlmError: ${String(e)}`);
    assert.equal(e.code, 'E_LEROBOT');
    if (typeof field === 'string') assert.equal(e.field, field);
    else assert.match(String(e.field), field);
    assert.match(e.message, message);
    return true;
  });
}

test('an untouched dataset reads back exactly, with and without its checksums', async () => {
  assert.deepEqual(await readAll(pristine), eps);
  assert.deepEqual(await readAll(copy()), eps);
});

test('a deleted data file is an error naming the file, not fewer episodes', async () => {
  const dir = copy();
  rmSync(data(dir, 1));
  await rejects(dir, 'data', /file-001\.parquet is missing/);
});

test('counts in meta/info.json must agree with meta/episodes', async () => {
  let dir = copy();
  editInfo(dir, (i) => (i.total_episodes = 5));
  await rejects(dir, 'episode 3', /episode 3 is missing from meta\/episodes/);
  dir = copy();
  editInfo(dir, (i) => (i.total_frames = 7));
  await rejects(dir, 'total_frames', /meta\/episodes lists/);
  dir = copy();
  editInfo(dir, (i) => (i.total_episodes = 2));
  await rejects(dir, 'episode_index', /past total_episodes 2/);
});

test('fps must be a positive number', () => {
  for (const fps of [0, -5, 'x', null, 1e9]) {
    const dir = copy();
    editInfo(dir, (i) => (i.fps = fps));
    assert.throws(
      () => openLeRobot(dir),
      (e: unknown) => isVlmError(e) && e.field === 'fps',
    );
  }
});

test('a data_path that leaves the dataset is refused', () => {
  const dir = copy();
  editInfo(dir, (i) => (i.data_path = '../../etc/file-{file_index:03d}.parquet'));
  assert.throws(
    () => openLeRobot(dir),
    (e: unknown) => isVlmError(e) && e.field === 'data_path',
  );
});

test('timestamps must advance by 1/fps: reversed or at another rate is an error', async () => {
  let dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.map((r, t) => ({ ...r, timestamp: (rows.length - 1 - t) / 5 })));
  await rejects(dir, 'timestamp', /must be 1\/5 s apart/);
  dir = copy();
  editInfo(dir, (i) => (i.fps = 10));
  await rejects(dir, 'timestamp', /1\/10 s apart/);
});

test('duplicate, missing and reordered frames are errors', async () => {
  let dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.map((r, t) => (t === 3 ? { ...rows[2]! } : r)));
  await rejects(dir, 'frame_index', /frame_index is 2/);
  dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.slice(0, -1));
  await rejects(dir, 'episode 0', /has \d+ frames here, meta\/episodes says/);
  dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.map((r) => ({ ...r, index: BigInt(r.index as bigint) + 1n })));
  await rejects(dir, 'index', /index is/);
});

test('an episode_index past total_episodes and a task_index with no task are errors', async () => {
  let dir = copy();
  await rewrite(data(dir, 2), (rows) => rows.map((r) => ({ ...r, episode_index: 9n })));
  await rejects(dir, 'episode_index', /episode_index 9, past total_episodes 3/);
  dir = copy();
  await rewrite(data(dir, 1), (rows) => rows.map((r) => ({ ...r, task_index: 42n })));
  await rejects(dir, 'task_index', /task_index 42 has no task/);
});

test('values far outside meta/stats.json and non-finite values are errors', async () => {
  let dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.map((r, t) => (t === 4 ? { ...r, 'observation.state': [-1.59e22, 0, 0, 0, 0, 0, 1] } : r)));
  await rejects(dir, 'observation.state[4][0]', /far outside the dataset's stats/);
  dir = copy();
  await rewrite(data(dir, 0), (rows) => rows.map((r, t) => (t === 1 ? { ...r, action: [NaN, 0, 0, 0, 0, 0, 1] } : r)));
  await rejects(dir, 'action[1]', /not 7 finite numbers/);
});

test('a garbage vlm2vla_episodes.jsonl is a typed error naming the line', async () => {
  let dir = copy();
  writeFileSync(join(dir, 'meta', 'vlm2vla_episodes.jsonl'), '{"episodeId":"a","source":"s"}\n\u0000\u00ff garbage\n');
  await rejects(dir, 'line 2', /line 2 is not JSON/);
  dir = copy();
  writeFileSync(join(dir, 'meta', 'vlm2vla_episodes.jsonl'), '{"episodeId":"a","source":"s"}\n');
  await rejects(dir, 'episodes', /holds 1 episode records, meta\/info.json says 3/);
});

test('with vlm2vla checksums, one changed byte anywhere in a Parquet file is caught', async () => {
  const dir = copy(false);
  const p = data(dir, 1);
  const b = readFileSync(p);
  b[b.length - 8 - 20]! ^= 0x04;
  writeFileSync(p, b);
  await rejects(dir, 'parquet', /the file changed after it was written/);
});

test('a changed byte inside a page names the column and page, with or without the file checksums', async () => {
  for (const foreign of [false, true]) {
    const dir = copy(foreign);
    const p = data(dir, 1);
    const b = readFileSync(p);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const chunk = parquetMetadata(ab).row_groups[0]!.columns.find((c) => c.meta_data!.path_in_schema[0] === 'action')!.meta_data!;
    b[Number(chunk.data_page_offset) + Number(chunk.total_compressed_size) - 3]! ^= 0x01;
    writeFileSync(p, b);
    await rejects(
      dir,
      /^row group 0 › action\.list\.element › page \d+$/,
      /file-001\.parquet: row group 0 column action\.list\.element, page \d+: page CRC mismatch/,
    );
  }
});
