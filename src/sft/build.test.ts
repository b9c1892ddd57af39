// Tests of the SFT builder: example counts per stage from the annotations, a split by episode,
// answers that parse back to the annotated actions, and Parquet equal to the JSONL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { buildSft, DEFAULT_EXAMPLES } from './index.ts';
import type { ChatRecord } from './index.ts';
import { RldsWriter, openRlds } from '../data/rlds/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import type { Episode } from '../data/episode.ts';
import { encodePng } from '../data/image.ts';
import { rulesAnnotator } from '../annotate/index.ts';
import type { AnnotationRecord } from '../annotate/index.ts';
import { getCodec } from '../actions/index.ts';
import { Rng } from '../util/index.ts';
import { isVlmError } from '../errors/index.ts';

function episode(id: number, rng: Rng): Episode {
  const image = (t: number) => encodePng({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill((id * 16 + t) % 256) });
  const actions: number[][] = [];
  const phase = (n: number, dx: number, dz: number, g: number) => {
    for (let i = 0; i < n; i++)
      actions.push([(dx + rng.normal() * 0.2) / 100, rng.normal() * 0.01, (dz + rng.normal() * 0.2) / 100, 0, 0, 0, g]);
  };
  phase(rng.int(2, 6), 2, -1.5, 1);
  phase(1, 0, 0, 0);
  phase(rng.int(2, 4), 0, 2, 0);
  phase(rng.int(2, 8), 2.5, 0, 0);
  phase(1, 0, -1, 1);
  return {
    instruction: 'put the carrot in the pot',
    steps: actions.map((a, t) => ({
      images: { image_0: image(t) },
      state: new Float32Array(7),
      action: Float32Array.from(a),
      isFirst: t === 0,
      isLast: t === actions.length - 1,
      isTerminal: false,
      reward: 0,
      discount: 1,
    })),
    metadata: { source: 'test', episodeId: `ep-${id}`, semantics: BRIDGE_SEMANTICS },
  };
}

test('build: counts per stage follow the annotations, split by episode, answers parse, Parquet equals JSONL', async () => {
  const rng = new Rng(7);
  const episodes = Array.from({ length: 20 }, (_, i) => episode(i, rng));
  const data = mkdtempSync(join(tmpdir(), 'vlm2vla-build-data-'));
  const w = await RldsWriter.create(data, { datasetName: 'build_test' });
  for (const ep of episodes) await w.add(ep);
  await w.close();
  const annotations: AnnotationRecord[] = [];
  for (const [i, ep] of episodes.entries()) if (i !== 3) annotations.push(await rulesAnnotator.annotate(ep, i));
  const out = mkdtempSync(join(tmpdir(), 'vlm2vla-build-out-'));
  const info = await buildSft(openRlds(data).episodes(), annotations, {
    ...DEFAULT_EXAMPLES,
    outDir: out,
    format: 'parquet',
    valFraction: 0.25,
    seed: 1,
    maxChunkElements: 2,
  });

  // Expected counts, computed from the annotations.
  const expected: Record<string, number> = { subtasks: 0, plan: 0, chunk: 0, direction: 0, verify: 0 };
  for (const a of annotations) {
    expected.subtasks!++;
    for (const s of a.segments) {
      const cycles = Math.ceil(s.chunk.length / 2);
      expected.plan! += cycles;
      expected.chunk! += cycles;
      expected.direction! += cycles;
      expected.verify! += s.end - s.start >= 2 ? 2 : 1;
    }
  }
  const total = (split: 'train' | 'val', stage: string) => info.examples[split][stage] ?? 0;
  for (const stage of Object.keys(expected)) assert.equal(total('train', stage) + total('val', stage), expected[stage], stage);
  assert.equal(info.episodes.withoutAnnotation, 1);
  assert.equal(info.episodes.train + info.episodes.val, 19);
  assert.ok(info.episodes.val > 0 && info.episodes.train > 0);

  const read = (split: string) =>
    readFileSync(join(out, `${split}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ChatRecord);
  const train = read('train');
  const val = read('val');
  const trainIds = new Set(train.map((r) => r.meta.episodeId));
  for (const r of val) assert.ok(!trainIds.has(r.meta.episodeId), `${r.meta.episodeId} is in both splits`);

  const codec = getCodec('list');
  for (const r of [...train, ...val]) {
    assert.equal(r.messages[0]!.content.filter((c) => c.type === 'image').length, r.images.length);
    const answer = (r.messages[1]!.content[0] as { text: string }).text;
    if (r.meta.stage === 'chunk') assert.ok(codec.decode(answer).ok, answer);
    if (r.meta.stage === 'subtasks') assert.deepEqual(JSON.parse(answer), ['pick up the carrot', 'put the carrot in the pot']);
    if (r.meta.stage === 'verify') assert.ok(answer === 'yes' || answer === 'no');
  }

  for (const [split, records] of [
    ['train', train],
    ['val', val],
  ] as const) {
    const rows = (await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out, `${split}.parquet`))).buffer, utf8: false })) as {
      messages: unknown;
      images: { bytes: Uint8Array; path: Uint8Array | string }[];
    }[];
    assert.equal(rows.length, records.length);
    rows.forEach((row, i) => {
      const rec = records[i]!;
      const text = (v: unknown) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v);
      const messages = (row.messages as { role: unknown; content: { type: unknown; text: unknown }[] }[]).map((m) => ({
        role: text(m.role),
        content: m.content.map((c) => (text(c.type) === 'image' ? { type: 'image' } : { type: 'text', text: text(c.text) })),
      }));
      assert.deepEqual(messages, rec.messages);
      assert.deepEqual(
        row.images.map((im) => text(im.path)),
        rec.images,
      );
      row.images.forEach((im, j) => assert.deepEqual(Buffer.from(im.bytes), readFileSync(join(out, rec.images[j]!))));
    });
  }
  await assert.rejects(
    buildSft(openRlds(data).episodes(), annotations, { ...DEFAULT_EXAMPLES, outDir: out, format: 'jsonl', valFraction: 0.1, seed: 1 }),
    (e: unknown) => isVlmError(e) && e.code === 'E_BUILD_EXISTS',
  );
});
