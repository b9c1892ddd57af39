// Tests of the RLDS reader and writer: CRC vectors, the real Bridge debug shard, exact round trips,
// and typed errors for corrupt, truncated and incomplete records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, readdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, openRlds, RldsWriter, readTfRecords, TfRecordWriter, decodeExample, encodeExample, episodeToExample } from './index.ts';
import { BRIDGE_SEMANTICS } from '../episode.ts';
import type { EncodedImage, Episode } from '../episode.ts';
import { encodeJpeg, encodePng } from '../image.ts';
import { Rng } from '../../util/index.ts';
import { isVlmError } from '../../errors/index.ts';

const BRIDGE = join(import.meta.dirname, '../../../../shared/data/bridge_debug/1.0.0');

async function collect(dir: string): Promise<Episode[]> {
  const out: Episode[] = [];
  for await (const ep of openRlds(dir).episodes()) out.push(ep);
  return out;
}

async function expectError(promise: Promise<unknown>, code: string, match: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isVlmError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, match);
    return true;
  });
}

test('CRC-32C matches the published check values', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
});

test(
  'the real Bridge V2 debug shard reads as 25 episodes of 10 steps',
  { skip: !existsSync(BRIDGE) && `the Bridge debug shard is not at ${BRIDGE}` },
  async () => {
    const ds = openRlds(BRIDGE);
    assert.equal(ds.count, 25);
    assert.equal(ds.info.writtenByVlm2vla, false);
    const episodes = await collect(BRIDGE);
    assert.equal(episodes.length, 25);
    const instructions = new Set(episodes.map((e) => e.instruction));
    for (const i of [
      'put carrot on plate',
      'flip pot upright which is in sink',
      'turn lever vertical to front',
      'put cup from counter or drying rack into sink',
    ])
      assert.ok(instructions.has(i), i);
    for (const ep of episodes) {
      assert.equal(ep.steps.length, 10);
      assert.ok(ep.steps[0]!.isFirst);
      for (const s of ep.steps) {
        assert.equal(s.action.length, 7);
        assert.equal(s.state.length, 7);
        assert.deepEqual(Object.keys(s.images).sort(), ['image_0', 'image_1', 'image_2', 'image_3']);
        const img = s.images.image_0!;
        assert.equal(img.format, 'jpeg');
        assert.equal(img.width, 64);
        assert.equal(img.height, 64);
        assert.ok(Math.abs(s.action[0]!) < 0.1, 'Bridge deltas are a few centimetres per step');
      }
      assert.match(ep.metadata.filePath ?? '', /\/out\.npy$/);
    }
  },
);

function syntheticEpisodes(n: number, seed: number): Episode[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, e) => {
    const T = rng.int(1, 6);
    const frame = (format: 'jpeg' | 'png') => {
      const rgb = new Uint8Array(16 * 12 * 3);
      for (let i = 0; i < rgb.length; i++) rgb[i] = rng.int(0, 255);
      return format === 'jpeg' ? encodeJpeg({ width: 16, height: 12, rgb }) : encodePng({ width: 16, height: 12, rgb });
    };
    const vec = () => Float32Array.from({ length: 7 }, () => rng.normal() * 0.05);
    return {
      instruction: `put the item ${e} in the bowl — ß 🍎`,
      steps: Array.from({ length: T }, (_, t) => ({
        images: (e % 2 === 0 ? { image_0: frame('jpeg') } : { image_0: frame('png'), image_2: frame('jpeg') }) as Record<
          string,
          EncodedImage
        >,
        state: vec(),
        action: vec(),
        isFirst: t === 0,
        isLast: t === T - 1,
        isTerminal: t === T - 1,
        reward: t === T - 1 ? 1 : 0,
        discount: 1,
      })),
      metadata: { source: 'sim', episodeId: `sim-${seed}-${e}`, semantics: BRIDGE_SEMANTICS, extra: { seed } },
      ...(e % 3 === 0
        ? {
            groundTruth: {
              objectPoses: [[{ id: 'apple', x: 0.3, y: 0, z: 0.02, yaw: 0, support: null }]],
              subtasks: [{ text: 'pick up the apple', start: 0, end: T }],
              task: { family: 'pick', object: 'apple' },
              success: true,
            },
          }
        : {}),
    };
  });
}

test('write → read is exact: image bytes, float32 values, flags, metadata and ground truth', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-rlds-'));
  const episodes = syntheticEpisodes(7, 4);
  const w = await RldsWriter.create(dir, { datasetName: 'vlm2vla_test', episodesPerShard: 3 });
  for (const ep of episodes) await w.add(ep);
  await w.close();
  const shards = readdirSync(dir)
    .filter((f) => f.includes('.tfrecord-'))
    .sort();
  assert.deepEqual(shards, [
    'vlm2vla_test-train.tfrecord-00000-of-00003',
    'vlm2vla_test-train.tfrecord-00001-of-00003',
    'vlm2vla_test-train.tfrecord-00002-of-00003',
  ]);
  assert.ok(!existsSync(join(dir, '.partial')));
  // features.json declares the frames as written (16 wide, 12 high, JPEG for the first episode).
  const features = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8'));
  const img = features.featuresDict.features.steps.sequence.feature.featuresDict.features.observation.featuresDict.features.image_0.image;
  assert.deepEqual([img.shape.dimensions, img.encodingFormat], [['12', '16', '3'], 'jpeg']);
  const ds = openRlds(dir);
  assert.equal(ds.count, 7);
  assert.ok(ds.info.stats && ds.info.stats.action.count === episodes.reduce((a, e) => a + e.steps.length, 0));
  const back = await collect(dir);
  assert.deepEqual(back, episodes);
  await expectError(RldsWriter.create(dir, { datasetName: 'vlm2vla_test' }), 'E_RLDS_EXISTS', /already holds a dataset/);
});

test('corrupt, truncated and incomplete shards give typed errors naming the file and record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-rlds-bad-'));
  const w = await RldsWriter.create(dir, { datasetName: 'bad', episodesPerShard: 10 });
  for (const ep of syntheticEpisodes(5, 9)) await w.add(ep);
  await w.close();
  const shard = join(dir, 'bad-train.tfrecord-00000-of-00001');
  const good = readFileSync(shard);
  const offsets: number[] = [];
  for await (const r of readTfRecords(shard)) offsets.push(r.offset);

  // A flipped byte inside record 3's data.
  const flipped = Buffer.from(good);
  flipped[offsets[3]! + 40] ^= 0x10;
  writeFileSync(shard, flipped);
  await expectError(collect(dir), 'E_TFRECORD_CRC', /tfrecord-00000-of-00001: record 3 at byte \d+: the CRC of the data/);
  // A flipped byte in record 2's length field.
  const badLen = Buffer.from(good);
  badLen[offsets[2]!] ^= 0x01;
  writeFileSync(shard, badLen);
  await expectError(collect(dir), 'E_TFRECORD_CRC', /record 2 .*length field/);
  // Truncated in the middle of record 4.
  writeFileSync(shard, good.subarray(0, offsets[4]! + 20));
  await expectError(collect(dir), 'E_TFRECORD_TRUNCATED', /record 4 .*ends inside the record data/);
  writeFileSync(shard, good.subarray(0, offsets[4]! + 5));
  await expectError(collect(dir), 'E_TFRECORD_TRUNCATED', /record 4 .*record header/);
  // An absurd length with a valid length CRC: refused before allocating.
  const huge = new TfRecordWriter(shard);
  huge.close();
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(1n << 40n, 0);
  const { maskedCrc32c } = await import('./crc32c.ts');
  header.writeUInt32LE(maskedCrc32c(header.subarray(0, 8)), 8);
  writeFileSync(shard, header);
  await expectError(collect(dir), 'E_TFRECORD_TOO_LARGE', /record 0 .*more than the limit/);

  // Records that decode but miss a feature, or hold NaN.
  const ep = syntheticEpisodes(1, 1)[0]!;
  const write = (mutate: (f: ReturnType<typeof episodeToExample>) => void) => {
    const f = episodeToExample(ep, 0);
    mutate(f);
    const out = new TfRecordWriter(shard);
    out.write(encodeExample(f));
    out.close();
  };
  write((f) => f.delete('steps/action'));
  await expectError(collect(dir), 'E_RLDS_RECORD', /record 0: steps\/action: required feature is missing/);
  write((f) => f.set('steps/observation/state', { kind: 'float', value: new Float32Array(3) }));
  await expectError(collect(dir), 'E_RLDS_RECORD', /steps\/observation\/state: has 3 values/);
  write((f) => {
    const a = f.get('steps/action')!;
    if (a.kind === 'float') a.value[2] = Number.NaN;
  });
  await expectError(collect(dir), 'E_RLDS_RECORD', /steps\/action: value 2 is NaN/);
  write((f) => f.set('steps/observation/image_0', { kind: 'bytes', value: ep.steps.map(() => new Uint8Array([1, 2, 3, 4])) }));
  await expectError(collect(dir), 'E_IMAGE', /steps\/observation\/image_0\[0\]: not a JPEG or PNG/);
  const garbage = new TfRecordWriter(shard);
  garbage.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
  garbage.close();
  await expectError(collect(dir), 'E_RLDS_RECORD', /record 0 is not a tf.train.Example/);
  assert.equal(decodeExample(encodeExample(new Map())).size, 0);
  copyFileSync(join(dir, 'dataset_info.json'), join(dir, 'dataset_info.json.bak'));
  writeFileSync(join(dir, 'dataset_info.json'), '{"name": 5}');
  assert.throws(
    () => openRlds(dir),
    (e: unknown) => isVlmError(e) && e.code === 'E_RLDS_DATASET' && e.field === 'name',
  );
});

test('an int64 beyond 2^53 (episode_id 2^53 + 1) is refused, not rounded', () => {
  const varint = (v: bigint) => {
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  };
  const len = (field: number, body: number[]) => [(field << 3) | 2, ...varint(BigInt(body.length)), ...body];
  const name = [...new TextEncoder().encode('episode_metadata/episode_id')];
  const example = (id: bigint) => Uint8Array.from(len(1, len(1, [...len(1, name), ...len(2, len(3, len(1, varint(id))))])));
  assert.deepEqual(decodeExample(example(2n ** 53n - 1n)).get('episode_metadata/episode_id')?.value, [2 ** 53 - 1]);
  assert.throws(() => decodeExample(example(2n ** 53n + 1n)), /9007199254740993.*cannot be read exactly/);
});

test('shard episode counts are checked against dataset_info.json: a 0-byte shard or wrong shardLengths is an error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-rlds-count-'));
  const w = await RldsWriter.create(dir, { datasetName: 'counted', episodesPerShard: 3 });
  for (const ep of syntheticEpisodes(5, 4)) await w.add(ep);
  await w.close();
  assert.equal((await collect(dir)).length, 5);
  const infoPath = join(dir, 'dataset_info.json');
  const info = readFileSync(infoPath, 'utf8');
  const edited = (lengths: unknown) => {
    const i = JSON.parse(info);
    i.splits[0].shardLengths = lengths;
    writeFileSync(infoPath, JSON.stringify(i));
  };
  edited(['3', '7']);
  await expectError(collect(dir), 'E_RLDS_DATASET', /tfrecord-00001-of-00002 holds 2 episodes, dataset_info.json says 7/);
  edited(['5']);
  assert.throws(
    () => openRlds(dir),
    (e: unknown) => isVlmError(e) && e.code === 'E_RLDS_DATASET' && e.field === 'splits.shardLengths',
  );
  edited(['3', '-2']);
  assert.throws(
    () => openRlds(dir),
    (e: unknown) => isVlmError(e) && e.field === 'splits.shardLengths',
  );
  writeFileSync(infoPath, info);
  writeFileSync(join(dir, 'counted-train.tfrecord-00000-of-00002'), new Uint8Array(0));
  await expectError(collect(dir), 'E_RLDS_DATASET', /tfrecord-00000-of-00002 holds 0 episodes, dataset_info.json says 3/);
});
