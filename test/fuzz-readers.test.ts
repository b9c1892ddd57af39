// Seeded, time-bounded fuzzing of the readers with structure-aware mutants (bit flips, interesting
// bytes, truncations, duplicated and inserted runs, biased to each format's header/footer/payload,
// and records re-framed with valid CRCs so the decoder behind the checksum is reached). Every mutant
// must end in a typed VlmError or a read that holds only finite values; an untyped exception, an
// unhandled rejection or a non-finite value accepted fails the suite. Each read's peak memory is
// measured too (below, `memoryProbe`) and must stay within 2 × its input + 16 MiB.
// VLM2VLA_FUZZ_N sets mutants per reader (default 200; the slow suite uses 2000);
// VLM2VLA_FUZZ_TABLE=1 prints the markdown table that docs/reliability.md holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Rng } from '../src/util/index.ts';
import { isVlmError } from '../src/errors/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../src/sim/index.ts';
import type { Episode } from '../src/data/episode.ts';
import { LeRobotWriter, openLeRobot } from '../src/data/lerobot/index.ts';
import { RldsWriter, openRlds, readTfRecords, TfRecordWriter } from '../src/data/rlds/index.ts';
import { readParquetGuarded } from '../src/data/parquet-guard.ts';
import { SafetensorsFile, encodeSafetensors, encodeGguf, parseGguf, ggufTensorValues, encodeTensorData } from '../src/formats/index.ts';
import type { GgufValue } from '../src/formats/index.ts';
import { getCodec } from '../src/actions/index.ts';
import { rulesAnnotator, readAnnotations, ANNOTATIONS_FILE } from '../src/annotate/index.ts';
import { buildSft, openSftDataset, DEFAULT_EXAMPLES } from '../src/sft/index.ts';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { parseGemma3Config } from '../src/models/gemma3/config.ts';
import { readModelConfigJson } from '../src/models/gemma3/files.ts';
import { Gemma3Model } from '../src/models/gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../src/models/gemma3/testing.ts';
import { addAdapter, saveAdapter, loadAdapter, adapterParameters, decoderTargets } from '../src/models/lora/adapter.ts';
import { PAPER_LORA } from '../src/models/lora/peft.ts';

const N = Number(process.env.VLM2VLA_FUZZ_N ?? 200);
/** Per reader; a run that reaches it stops early and must still have tried 200 mutants. */
const TIME_BUDGET_MS = Number(process.env.VLM2VLA_FUZZ_MS ?? 60_000);
const root = mkdtempSync(join(tmpdir(), 'vlm2vla-fuzz-'));

interface Row {
  reader: string;
  mutants: number;
  typed: number;
  ok: number;
  okChanged: number;
  crashes: string[];
  codes: Map<string, number>;
  /** Largest peak-RSS growth of one read, with that read's input size in bytes and its mutant. */
  worstMemory: { growth: number; input: number; label: string } | undefined;
  /** Reads whose peak memory went past MEMORY_BOUND. */
  overMemory: string[];
}
const table: Row[] = [];

/** T1.2's bound on one read's peak memory: twice its input plus a fixed 16 MiB, which covers what
 *  any read costs whatever its size (compiled code, a young-generation semispace, the reader's
 *  tables); for the KB-sized inputs here it is the allowance that binds, for large files the 2×. */
const MEMORY_ALLOWANCE = 16 * 1024 * 1024;
const memoryBound = (input: number) => 2 * input + MEMORY_ALLOWANCE;

/** Peak resident memory of a stretch of code, from Linux's high-water mark: writing 5 to
 *  /proc/self/clear_refs resets VmHWM to the current RSS, so VmHWM afterwards is the stretch's peak
 *  (ArrayBuffers and native allocations included, not only the JS heap). A minor GC first empties
 *  the young generation, so garbage of the previous read does not count; a read that grew by more
 *  than 2 × input + 1 MiB is measured again after a full GC, and the smaller figure counts (the
 *  old generation growing under earlier reads' garbage is not this read's). Undefined off Linux. */
const memoryProbe = (() => {
  const statusBytes = (key: string) =>
    Number(readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1]) * 1024;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    if (!Number.isFinite(statusBytes('VmHWM'))) return undefined;
  } catch {
    return undefined;
  }
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
  return {
    /** Resets the high-water mark; returns the resident size the stretch starts from. */
    start(full = false): number {
      gc({ type: full ? 'major' : 'minor' });
      writeFileSync('/proc/self/clear_refs', '5');
      return statusBytes('VmRSS');
    },
    peak: () => statusBytes('VmHWM'),
  };
})();

type Mutator = (b: Uint8Array, rng: Rng, region: [number, number]) => Uint8Array;
const pick = (rng: Rng, [lo, hi]: [number, number]) => rng.int(lo, Math.max(lo, hi - 1));
const MUTATORS: [string, Mutator][] = [
  [
    'bit flip',
    (b, rng, r) => {
      const c = Uint8Array.from(b);
      c[pick(rng, r)]! ^= 1 << rng.int(0, 7);
      return c;
    },
  ],
  [
    'two bit flips',
    (b, rng, r) => {
      const c = Uint8Array.from(b);
      for (let k = 0; k < 2; k++) c[pick(rng, r)]! ^= 1 << rng.int(0, 7);
      return c;
    },
  ],
  [
    'interesting byte',
    (b, rng, r) => {
      const c = Uint8Array.from(b);
      c[pick(rng, r)] = [0, 0xff, 0x7f, 0x80, 0x01, 0xfe][rng.int(0, 5)]!;
      return c;
    },
  ],
  ['truncate', (b, rng, r) => b.slice(0, pick(rng, r))],
  [
    'duplicate a run',
    (b, rng, r) => {
      const at = pick(rng, r);
      const n = rng.int(1, 16);
      return Uint8Array.from([...b.subarray(0, at + n), ...b.subarray(at, at + n), ...b.subarray(at + n)]);
    },
  ],
  [
    'insert random bytes',
    (b, rng, r) => {
      const at = pick(rng, r);
      const n = rng.int(1, 8);
      return Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: n }, () => rng.int(0, 255)), ...b.subarray(at)]);
    },
  ],
  [
    'zero a run',
    (b, rng, r) => {
      const c = Uint8Array.from(b);
      const at = pick(rng, r);
      c.fill(0, at, at + rng.int(1, 12));
      return c;
    },
  ],
];

/** Runs `count` mutants through `read`; `read` returns a comparable summary of what it read.
 *  `inputBytes` is how many bytes one read consumes (the mutant alone, unless the read takes a
 *  whole folder of which the mutant is one file). */
async function fuzz(
  reader: string,
  seed: number,
  count: number,
  mutant: (rng: Rng, k: number) => { bytes: Uint8Array; label: string },
  read: (bytes: Uint8Array) => Promise<string> | string,
  original: string,
  inputBytes = (b: Uint8Array) => b.length,
): Promise<Row> {
  const rng = new Rng(seed);
  const row: Row = {
    reader,
    mutants: 0,
    typed: 0,
    ok: 0,
    okChanged: 0,
    crashes: [],
    codes: new Map(),
    worstMemory: undefined,
    overMemory: [],
  };
  const leaked: unknown[] = [];
  const onLeak = (e: unknown) => leaked.push(e);
  process.on('unhandledRejection', onLeak);
  const started = performance.now();
  try {
    for (let k = 0; k < count && performance.now() - started < TIME_BUDGET_MS; k++) {
      const { bytes, label } = mutant(rng, k);
      row.mutants++;
      const base = memoryProbe?.start();
      try {
        const summary = await read(bytes);
        row.ok++;
        if (summary !== original) row.okChanged++;
      } catch (e) {
        if (isVlmError(e)) {
          row.typed++;
          row.codes.set(e.code, (row.codes.get(e.code) ?? 0) + 1);
        } else row.crashes.push(`mutant ${k} (${label}): ${String(e)}`);
      }
      if (memoryProbe && base !== undefined) {
        let growth = Math.max(0, memoryProbe.peak() - base);
        const input = inputBytes(bytes);
        if (growth > 2 * input + 1024 * 1024) {
          const again = memoryProbe.start(true);
          try {
            await read(bytes);
          } catch {
            // classified above; this run only measures
          }
          growth = Math.min(growth, Math.max(0, memoryProbe.peak() - again));
        }
        if (row.worstMemory === undefined || growth > row.worstMemory.growth)
          row.worstMemory = { growth, input, label: `mutant ${k} (${label})` };
        if (growth > memoryBound(input)) row.overMemory.push(`mutant ${k} (${label}): ${mib(growth)} for ${mib(input)} of input`);
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', onLeak);
  }
  for (const e of leaked) row.crashes.push(`unhandled rejection: ${String(e)}`);
  table.push(row);
  return row;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

function check(row: Row): void {
  assert.deepEqual(row.crashes, [], `${row.reader}: untyped failures`);
  assert.deepEqual(row.overMemory, [], `${row.reader}: reads past 2 × input + ${mib(MEMORY_ALLOWANCE)}`);
  assert.ok(row.mutants >= Math.min(N, 200), `${row.reader}: only ${row.mutants} mutants within ${TIME_BUDGET_MS} ms`);
  assert.equal(row.typed + row.ok, row.mutants);
}

/** Summary of episodes that also fails the read on any non-finite value (a silent accept). */
function summarize(eps: Episode[]): string {
  const parts: string[] = [];
  for (const e of eps) {
    for (const s of e.steps) {
      for (const v of [...s.state, ...s.action, s.reward, s.discount])
        if (!Number.isFinite(v)) throw new Error(`non-finite value ${v} accepted in episode ${e.metadata.episodeId}`);
    }
    parts.push(`${e.instruction}|${e.steps.length}|${e.steps.map((s) => [...s.action].join(',')).join(';')}`);
  }
  return parts.join('\n');
}

function episodes(n: number): Episode[] {
  return Array.from({ length: n }, (_, i) => {
    const rng = new Rng(900 + i);
    return runExpert(sampleTask('pick', rng), rng, { episodeId: `fz-${i}`, render: (w) => renderEncoded(w, 8, 'png') }).episode;
  });
}
const EPISODES = episodes(2);

async function readAllLeRobot(dir: string): Promise<string> {
  const out: Episode[] = [];
  for await (const e of openLeRobot(dir).episodes()) out.push(e);
  return summarize(out);
}

/** Rewrites every Parquet file of a dataset through plain hyparquet-writer, as another writer would
 *  leave it: the same rows and schema, no page CRCs. */
async function withoutPageCrcs(dir: string): Promise<void> {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : f.endsWith('.parquet') ? [join(d, f)] : []));
  for (const path of walk(dir)) {
    const b = readFileSync(path);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const { schema } = parquetMetadata(ab);
    const rows = (await parquetReadObjects({ file: ab, utf8: false })) as Record<string, unknown>[];
    const top: string[] = [];
    const skip = (k: number): number => {
      let next = k + 1;
      for (let c = 0; c < (schema[k]!.num_children ?? 0); c++) next = skip(next);
      return next;
    };
    for (let i = 1; i < schema.length; i = skip(i)) top.push(schema[i]!.name);
    const columnData = top.map((name) => ({ name, data: rows.map((r) => r[name]) }));
    writeFileSync(path, new Uint8Array(parquetWriteBuffer({ columnData, schema } as unknown as Parameters<typeof parquetWriteBuffer>[0])));
  }
}

/** Fuzzes a LeRobot dataset written by vlm2vla with its whole-file checksums removed from
 *  meta/info.json (they find every changed byte), so the page CRCs, structural and semantic checks
 *  are what is tested; `foreign` also drops the page CRCs, as a dataset from another writer. */
async function fuzzLeRobot(reader: string, seed: number, name: string, foreign: boolean): Promise<void> {
  const pristine = join(root, name);
  const w = LeRobotWriter.create(pristine);
  for (const e of EPISODES) w.add(e);
  w.close();
  const infoPath = join(pristine, 'meta', 'info.json');
  const info = JSON.parse(readFileSync(infoPath, 'utf8'));
  delete info.vlm2vla.checksums;
  writeFileSync(infoPath, JSON.stringify(info, null, 2));
  if (foreign) await withoutPageCrcs(pristine);
  const original = await readAllLeRobot(pristine);
  const targets: [string, number, (len: number) => [number, number]][] = [
    ['data/chunk-000/file-000.parquet', 0.5, (len) => [len - 2048, len - 8]],
    ['data/chunk-000/file-000.parquet', 0.2, (len) => [4, len]],
    ['meta/episodes/chunk-000/file-000.parquet', 0.1, (len) => [4, len]],
    ['meta/tasks.parquet', 0.05, (len) => [4, len]],
    ['meta/info.json', 0.1, (len) => [0, len]],
    ['meta/stats.json', 0.025, (len) => [0, len]],
    ['meta/vlm2vla_episodes.jsonl', 0.025, (len) => [0, len]],
  ];
  const files = new Map(targets.map(([rel]) => [rel, readFileSync(join(pristine, rel))]));
  const walk = (d: string): number =>
    readdirSync(d).reduce((sum, f) => sum + (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : statSync(join(d, f)).size), 0);
  const datasetBytes = walk(pristine);
  const work = join(root, `${name}-mutant`);
  let current = '';
  const row = await fuzz(
    reader,
    seed,
    N,
    (rng) => {
      let u = rng.next();
      let t = targets[0]!;
      for (const x of targets)
        if ((u -= x[1]) < 0) {
          t = x;
          break;
        }
      const bytes = files.get(t[0])!;
      const [label, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      current = t[0];
      const region = t[2](bytes.length).map((v) => Math.max(0, Math.min(bytes.length, v))) as [number, number];
      return { bytes: m(bytes, rng, region), label: `${label} in ${t[0]}` };
    },
    async (bytes) => {
      rmSync(work, { recursive: true, force: true });
      cpSync(pristine, work, { recursive: true });
      writeFileSync(join(work, current), bytes);
      return readAllLeRobot(work);
    },
    original,
    (bytes) => datasetBytes - files.get(current)!.length + bytes.length,
  );
  check(row);
}

test(
  'fuzz: LeRobot v3 from another writer (data and meta Parquet files, info.json, stats.json, sidecar)',
  { timeout: 600_000 },
  async () => {
    await fuzzLeRobot('LeRobot v3 dataset, another writer (no checksums, no page CRCs)', 241, 'lerobot', true);
  },
);

test('fuzz: LeRobot v3 as vlm2vla writes it, without its file checksums (page CRCs)', { timeout: 600_000 }, async () => {
  await fuzzLeRobot('LeRobot v3 dataset, vlm2vla page CRCs (file checksums removed)', 252, 'lerobot-crc', false);
});

test(
  'fuzz: Parquet guard on a footer-heavy file (the mutants that leaked rejections and hung hyparquet)',
  { timeout: 600_000 },
  async () => {
    const bytes = readFileSync(join(root, 'lerobot', 'data', 'chunk-000', 'file-000.parquet'));
    const path = join(root, 'guard.parquet');
    const summary = async (b: Uint8Array) => {
      writeFileSync(path, b);
      const { rows } = await readParquetGuarded(path);
      return JSON.stringify(
        rows.map((r) => [r.episode_index, r.frame_index, r.action]),
        (_, v) => (typeof v === 'bigint' ? Number(v) : v),
      );
    };
    const original = await summary(bytes);
    const len = bytes.length;
    const row = await fuzz(
      'Parquet (hyparquet behind the guard)',
      242,
      N,
      (rng) => {
        const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
        const footer = rng.next() < 0.7;
        return {
          bytes: m(bytes, rng, footer ? [Math.max(4, len - 1500), len - 8] : [4, len]),
          label: `${name} in the ${footer ? 'footer' : 'body'}`,
        };
      },
      summary,
      original,
    );
    check(row);
  },
);

test('fuzz: RLDS TFRecord shards (raw bytes, and tf.Example payloads re-framed with valid CRCs)', { timeout: 600_000 }, async () => {
  const dir = join(root, 'rlds');
  const w = await RldsWriter.create(dir, { datasetName: 'fuzz', episodesPerShard: 10 });
  for (const e of EPISODES) await w.add(e);
  await w.close();
  const shard = join(dir, 'fuzz-train.tfrecord-00000-of-00001');
  const bytes = readFileSync(shard);
  const records: Uint8Array[] = [];
  for await (const r of readTfRecords(shard)) records.push(Uint8Array.from(r.data));
  const read = async (b: Uint8Array) => {
    writeFileSync(shard, b);
    const out: Episode[] = [];
    for await (const e of openRlds(dir).episodes()) out.push(e);
    return summarize(out);
  };
  const original = await read(bytes);
  const row = await fuzz(
    'RLDS (TFRecord + tf.Example)',
    243,
    N,
    (rng) => {
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      if (rng.next() < 0.4) return { bytes: m(bytes, rng, [0, bytes.length]), label: `${name} in the shard` };
      // Structure-aware: mutate one record's payload, then write it with correct CRCs.
      const k = rng.int(0, records.length - 1);
      const tmp = join(root, 'reframed.tfrecord');
      const out = new TfRecordWriter(tmp);
      records.forEach((r, i) => out.write(i === k ? m(r, rng, [0, r.length]) : r));
      out.close();
      return { bytes: readFileSync(tmp), label: `${name} in record ${k}'s payload (valid CRCs)` };
    },
    read,
    original,
  );
  check(row);
});

test('fuzz: safetensors (header-biased)', { timeout: 600_000 }, async () => {
  const bytes = encodeSafetensors(
    {
      'model.embed.weight': { dtype: 'F32', shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
      'model.norm.weight': { dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0x4000, 0x4040]) },
      'lm_head.bias': { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -2n]) },
    },
    { format: 'pt' },
  );
  const path = join(root, 'model.safetensors');
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const read = (b: Uint8Array) => {
    writeFileSync(path, b);
    const f = SafetensorsFile.open(path);
    try {
      return [...f.tensors.keys()]
        .sort()
        .map((name) => `${name}:${Array.from(f.readTensor(name) as ArrayLike<number | bigint>).join(',')}`)
        .join('|');
    } finally {
      f.close();
    }
  };
  const original = read(bytes);
  const row = await fuzz(
    'safetensors',
    244,
    N,
    (rng) => {
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      const header = rng.next() < 0.85;
      return {
        bytes: m(bytes, rng, header ? [0, headerEnd] : [headerEnd, bytes.length]),
        label: `${name} in the ${header ? 'header' : 'data'}`,
      };
    },
    read,
    original,
  );
  check(row);
});

test('fuzz: GGUF (header and tensor-info biased)', { timeout: 600_000 }, async () => {
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'gemma3' }],
    ['general.alignment', { type: 'u32', value: 32 }],
    ['gemma3.block_count', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['<pad>', '<bos>', 'a', 'b'] }],
  ]);
  const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
  const bytes = encodeGguf(metadata, [
    { name: 'token_embd.weight', type: 'F32', shape: [4, 16], data: encodeTensorData('F32', values) },
    { name: 'blk.0.attn_q.weight', type: 'Q8_0', shape: [2, 32], data: encodeTensorData('Q8_0', values) },
  ]);
  const read = (b: Uint8Array) => {
    const f = parseGguf(b, 'fuzz.gguf');
    return f.tensors.map((t) => `${t.name}:${Array.from(ggufTensorValues(f, b, t.name)).join(',')}`).join('|');
  };
  const original = read(bytes);
  const row = await fuzz(
    'GGUF',
    245,
    N,
    (rng) => {
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      const head = rng.next() < 0.8;
      return {
        bytes: m(bytes, rng, head ? [0, Math.min(bytes.length, 400)] : [0, bytes.length]),
        label: `${name} in the ${head ? 'header' : 'file'}`,
      };
    },
    read,
    original,
  );
  check(row);
});

test('fuzz: action text, every codec (mutated canonical chunks); the decoder never throws', { timeout: 600_000 }, async () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const styles = ['list', 'phrase', 'rot'];
  const chunk = [
    { dx: 4.2, dy: 0, dz: -1.5, droll: 0, dpitch: 0, dyaw: 10, gripper: 1 as const },
    { dx: 0, dy: -2.5, dz: 3, droll: 5, dpitch: 0, dyaw: 0, gripper: 0 as const },
  ];
  let style = 'list';
  const read = (b: Uint8Array) => {
    const r = getCodec(style).decode(dec.decode(b));
    if (!r.ok) throw r.error;
    for (const e of r.value)
      for (const v of [e.dx, e.dy, e.dz, e.droll, e.dpitch, e.dyaw, e.gripper])
        if (!Number.isFinite(v)) throw new Error(`non-finite ${v} accepted`);
    return JSON.stringify(r.value);
  };
  const row = await fuzz(
    'action text (list, phrase, rot)',
    246,
    N,
    (rng) => {
      style = styles[rng.int(0, styles.length - 1)]!;
      const bytes = enc.encode(getCodec(style).encode(chunk));
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      return { bytes: m(bytes, rng, [0, bytes.length]), label: `${name} in ${style}` };
    },
    read,
    '',
  );
  row.okChanged = row.ok;
  check(row);
});

test('fuzz: annotation JSONL and SFT JSONL (line-level and byte-level mutants)', { timeout: 600_000 }, async () => {
  const annDir = join(root, 'ann');
  const annPath = join(annDir, ANNOTATIONS_FILE);
  const records = await Promise.all(EPISODES.map((e, i) => rulesAnnotator.annotate(e, i)));
  const annBytes = new TextEncoder().encode(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const readAnn = (b: Uint8Array) => {
    rmSync(annDir, { recursive: true, force: true });
    mkdirSync(annDir, { recursive: true });
    writeFileSync(annPath, b);
    return JSON.stringify(readAnnotations(annPath));
  };
  const annRow = await fuzz(
    'annotation JSONL',
    247,
    N,
    (rng) => {
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      return { bytes: m(annBytes, rng, [0, annBytes.length]), label: name };
    },
    readAnn,
    readAnn(annBytes),
  );
  check(annRow);

  const sftDir = join(root, 'sft');
  await buildSft(
    (async function* () {
      yield* EPISODES;
    })(),
    records,
    { ...DEFAULT_EXAMPLES, outDir: sftDir, format: 'jsonl', valFraction: 0, seed: 0 },
  );
  const trainPath = join(sftDir, 'train.jsonl');
  const sftBytes = readFileSync(trainPath);
  const readSft = (b: Uint8Array) => {
    writeFileSync(trainPath, b);
    return JSON.stringify(
      openSftDataset(sftDir)
        .records('train')
        .map((r) => r.record),
    );
  };
  const sftRow = await fuzz(
    'SFT JSONL',
    248,
    N,
    (rng) => {
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      return { bytes: m(sftBytes, rng, [0, sftBytes.length]), label: name };
    },
    readSft,
    readSft(sftBytes),
  );
  check(sftRow);
});

test(
  'fuzz: tokenizer.json and config.json of the embedded model (byte-level mutants)',
  { timeout: 600_000, skip: !existsSync('models/base/tokenizer.json') && 'models/base is not present' },
  async () => {
    const tokDir = join(root, 'tok');
    mkdirSync(tokDir, { recursive: true });
    cpSync('models/base/tokenizer_config.json', join(tokDir, 'tokenizer_config.json'));
    const tokBytes = readFileSync('models/base/tokenizer.json');
    const text = 'put the red apple in the bowl, then move 4.2 cm left [[1.0, -2.5, 0.0, 1]]';
    const readTok = (b: Uint8Array) => {
      writeFileSync(join(tokDir, 'tokenizer.json'), b);
      const tok = Tokenizer.fromDir(tokDir);
      const ids = tok.encode(text);
      return `${ids.join(',')}|${tok.decode(ids)}`;
    };
    const tokRow = await fuzz(
      'tokenizer.json',
      249,
      N,
      (rng) => {
        const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
        return { bytes: m(tokBytes, rng, [0, tokBytes.length]), label: name };
      },
      readTok,
      readTok(tokBytes),
    );
    check(tokRow);

    const cfgBytes = readFileSync('models/base/config.json');
    const cfgDir = join(root, 'cfg');
    mkdirSync(cfgDir, { recursive: true });
    const readCfg = (b: Uint8Array) => {
      writeFileSync(join(cfgDir, 'config.json'), b);
      return JSON.stringify(parseGemma3Config(readModelConfigJson(cfgDir), join(cfgDir, 'config.json')));
    };
    const cfgRow = await fuzz(
      'model config.json',
      250,
      N,
      (rng) => {
        const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
        return { bytes: m(cfgBytes, rng, [0, cfgBytes.length]), label: name };
      },
      readCfg,
      readCfg(cfgBytes),
    );
    check(cfgRow);
  },
);

test('fuzz: PEFT adapter folders (adapter_config.json and the adapter safetensors header)', { timeout: 600_000 }, async () => {
  const cfg = tinyGemma3Config();
  const host = new Gemma3Model(cfg, randomParams(cfg, 4));
  addAdapter(host, 'saved', { ...PAPER_LORA, r: 2, alpha: 4, targetModules: decoderTargets('gemma3') }, 1);
  const dir = join(root, 'adapter');
  saveAdapter(host, 'saved', dir);
  const files = ['adapter_config.json', 'adapter_model.safetensors'].map((f) => [f, readFileSync(join(dir, f))] as const);
  let n = 0;
  let current: string = files[0]![0];
  const read = (b: Uint8Array) => {
    writeFileSync(join(dir, current), b);
    const fresh = new Gemma3Model(cfg, randomParams(cfg, 4));
    const name = `fz${n++}`;
    const config = loadAdapter(fresh, dir, name);
    const sum = adapterParameters(fresh, name).map((t) => t.data.reduce((a, v) => a + v, 0));
    if (!sum.every(Number.isFinite)) throw new Error('non-finite adapter weights accepted');
    for (const [f, bytes] of files) writeFileSync(join(dir, f), bytes);
    return `${config.r}|${config.alpha}|${sum.map((v) => v.toFixed(4)).join(',')}`;
  };
  const original = read(files[0]![1]);
  const row = await fuzz(
    'PEFT adapter',
    251,
    N,
    (rng) => {
      const [file, bytes] = files[rng.int(0, 1)]!;
      current = file;
      for (const [f, b] of files) writeFileSync(join(dir, f), b);
      const [name, m] = MUTATORS[rng.int(0, MUTATORS.length - 1)]!;
      const headerEnd = file.endsWith('.safetensors')
        ? Math.min(bytes.length, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)))
        : bytes.length;
      return { bytes: m(bytes, rng, [0, headerEnd]), label: `${name} in ${file}` };
    },
    read,
    original,
    (b) => files.reduce((sum, [f, bytes]) => sum + (f === current ? b.length : bytes.length), 0),
  );
  check(row);
});

test('fuzz table', { skip: !process.env.VLM2VLA_FUZZ_TABLE && 'set VLM2VLA_FUZZ_TABLE=1 to print the table' }, () => {
  const lines = [
    '| reader | mutants | typed errors | read correctly (unchanged / changed but finite) | untyped crashes, leaks, non-finite accepts | worst peak memory of one read (its input) | error codes seen |',
    '|---|---|---|---|---|---|---|',
  ];
  const kib = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : mib(n));
  for (const r of table) {
    const codes = [...r.codes]
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    const memory = r.worstMemory === undefined ? 'not measured' : `${kib(r.worstMemory.growth)} (${kib(r.worstMemory.input)})`;
    lines.push(
      `| ${r.reader} | ${r.mutants} | ${r.typed} | ${r.ok} (${r.ok - r.okChanged} / ${r.okChanged}) | ${r.crashes.length} | ${memory} | ${codes} |`,
    );
  }
  const worst = table.map((r) => `${r.reader}: ${r.worstMemory?.label ?? '-'}`).join('\n');
  console.log(
    `\nmutants per reader: ${N} (seeded; VLM2VLA_FUZZ_N)\n${lines.join('\n')}\n\nthe read of largest peak memory, per reader:\n${worst}`,
  );
});
