// Tests of the rules annotator (instruction grammar, segmentation, real Bridge episodes) and of the
// journaled job (resume, SIGKILL at a crash point, damaged files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, appendFileSync, writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseInstruction,
  segmentTrajectory,
  rulesAnnotator,
  validateAnnotation,
  runAnnotationJob,
  readAnnotations,
  ANNOTATIONS_FILE,
} from './index.ts';
import { openRlds, RldsWriter } from '../data/rlds/index.ts';
import { BRIDGE_SEMANTICS } from '../data/episode.ts';
import type { Episode } from '../data/episode.ts';
import { encodePng } from '../data/image.ts';
import { isVlmError } from '../errors/index.ts';

const BRIDGE = join(import.meta.dirname, '../../../shared/data/bridge_debug/1.0.0');

test('the instruction grammar covers the sim families and Bridge phrasing', () => {
  const cases: [string, string[]][] = [
    ['pick up the red apple', ['pick up the red apple']],
    ['Pick up the apple.', ['pick up the apple']],
    ['put the carrot in the pot', ['pick up the carrot', 'put the carrot in the pot']],
    ['put carrot on plate', ['pick up the carrot', 'put the carrot on the plate']],
    ['Place the spoon into the bowl', ['pick up the spoon', 'put the spoon in the bowl']],
    ['put cup from counter or drying rack into sink', ['pick up the cup', 'put the cup in the sink']],
    ['move the banana next to the bowl', ['pick up the banana', 'move the banana next to the bowl']],
    ['pick up the cup, put it on the plate and lift it', ['pick up the cup', 'put the cup on the plate', 'lift the cup']],
    ['pick up the knife and put it in the sink', ['pick up the knife', 'put the knife in the sink']],
    ['flip pot upright which is in sink', ['grasp the pot', 'flip the pot upright which is in sink']],
    ['turn lever vertical to front', ['grasp the lever', 'turn the lever vertical to front']],
    ['open the drawer', ['grasp the drawer', 'open the drawer']],
    ['', ['do the task']],
  ];
  for (const [instruction, expected] of cases)
    assert.deepEqual(
      parseInstruction(instruction).subtasks.map((s) => s.text),
      expected,
      instruction,
    );
});

function step(dx: number, dz: number, gripper: number): number[] {
  return [dx / 100, 0, dz / 100, 0, 0, 0, gripper];
}

test('segmentation: pick ends after grasp and lift, put ends at release, the rest joins the last subtask', () => {
  const actions = [
    step(2, -2, 1),
    step(2, -2, 1),
    step(0, -1, 0),
    step(0, 1.5, 0),
    step(0, 1.5, 0),
    step(3, 0, 0),
    step(0, -1, 1),
    step(0, 2, 1),
  ];
  const subtasks = parseInstruction('put the carrot in the pot').subtasks;
  assert.deepEqual(segmentTrajectory(actions, subtasks), [
    { start: 0, end: 5, subtask: 0 },
    { start: 5, end: 8, subtask: 1 },
  ]);
  // No grasp in the trajectory (a truncated episode): one segment for the first subtask.
  assert.deepEqual(segmentTrajectory(actions.slice(0, 2), subtasks), [{ start: 0, end: 2, subtask: 0 }]);
});

test(
  'the rules annotator writes valid annotations for all 25 real Bridge episodes',
  { skip: !existsSync(BRIDGE) && `the Bridge debug shard is not at ${BRIDGE}` },
  async () => {
    let n = 0;
    for await (const ep of openRlds(BRIDGE).episodes()) {
      const record = await rulesAnnotator.annotate(ep, n);
      const back = validateAnnotation(JSON.parse(JSON.stringify(record)), `episode ${n}`);
      assert.equal(back.status, 'ok');
      assert.ok(back.subtasks.length >= 1);
      n++;
    }
    assert.equal(n, 25);
  },
);

function pickPlaceEpisode(id: number): Episode {
  const rgb = new Uint8Array(8 * 8 * 3).fill(id);
  const image = encodePng({ width: 8, height: 8, rgb });
  const actions = [
    step(2, -2, 1),
    step(2, -2, 1),
    step(0, -1, 0),
    step(0, 1.5, 0),
    step(0, 1.5, 0),
    step(3, 0, 0),
    step(0, -1, 1),
    step(0, 2, 1),
  ];
  return {
    instruction: 'put the carrot in the pot',
    steps: actions.map((a, t) => ({
      images: { image_0: image },
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

async function writeDataset(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-data-'));
  const w = await RldsWriter.create(dir, { datasetName: 'ann_test' });
  for (let i = 0; i < n; i++) await w.add(pickPlaceEpisode(i));
  await w.close();
  return dir;
}

test('the job resumes: a rerun skips finished episodes; SIGKILL after a record loses nothing and duplicates nothing', async () => {
  const data = await writeDataset(12);
  const out = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-out-'));
  const first = await runAnnotationJob(openRlds(data).episodes(), rulesAnnotator, { outDir: out, maxEpisodes: 5 });
  assert.equal(first.written, 5);
  const second = await runAnnotationJob(openRlds(data).episodes(), rulesAnnotator, { outDir: out });
  assert.deepEqual([second.skipped, second.written], [5, 7]);
  assert.equal(readAnnotations(join(out, ANNOTATIONS_FILE)).length, 12);

  const child = fileURLToPath(new URL('./testing/job-child.ts', import.meta.url));
  const out2 = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-kill-'));
  for (const at of [3, 2, 4]) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', child, data, out2], {
      env: { ...process.env, VLM2VLA_CRASH_AT: `annotate:after-append@${at}` },
      encoding: 'utf8',
    });
    assert.equal(run.signal, 'SIGKILL', run.stderr);
  }
  // A torn last line, as a crash in the middle of a write leaves it.
  appendFileSync(join(out2, ANNOTATIONS_FILE), '{"schema": "vlm2vla.annot');
  const finish = spawnSync(process.execPath, ['--import', 'tsx', child, data, out2], { encoding: 'utf8' });
  assert.equal(finish.status, 0, finish.stderr);
  const records = readAnnotations(join(out2, ANNOTATIONS_FILE));
  assert.deepEqual(records.map((r) => r.episode.episodeId).sort(), Array.from({ length: 12 }, (_, i) => `ep-${i}`).sort());
  assert.ok(existsSync(join(out2, 'summary.json')));
});

test('damaged annotation files are typed errors naming the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-bad-'));
  const path = join(dir, ANNOTATIONS_FILE);
  writeFileSync(path, '{"schema": "other"}\n');
  assert.throws(
    () => readAnnotations(path),
    (e: unknown) => isVlmError(e) && e.code === 'E_ANNOTATION' && /annotations\.jsonl:1: schema/.test(e.message),
  );
  writeFileSync(path, 'not json\n');
  assert.throws(
    () => readAnnotations(path),
    (e: unknown) => isVlmError(e) && e.code === 'E_ANNOTATION' && /:1 is not JSON/.test(e.message),
  );
});

test('validation rejects records whose segments or chunks do not tile the episode', async () => {
  const record = JSON.parse(JSON.stringify(await rulesAnnotator.annotate(pickPlaceEpisode(1), 0)));
  assert.equal(validateAnnotation(record, 'r').status, 'ok');
  const bad = (mutate: (r: any) => void, field: string) => {
    const r = JSON.parse(JSON.stringify(record));
    mutate(r);
    assert.throws(
      () => validateAnnotation(r, 'r'),
      (e: unknown) => isVlmError(e) && e.field === field,
      field,
    );
  };
  bad((r) => (r.segments[1].start = 6), 'segments[1].start');
  bad((r) => (r.segments[1].end = 9), 'segments[1].end');
  bad((r) => (r.segments[1].subtask = 0), 'segments[1].subtask');
  bad((r) => (r.segments[0].chunk[0].dx = null), 'segments[0].chunk[0].dx');
  bad((r) => (r.segments[0].chunk[0].gripper = 0.5), 'segments[0].chunk[0].gripper');
  bad((r) => r.segments[0].chunk.pop(), 'segments[0].chunk');
  bad((r) => (r.episode.steps = 9), 'segments');
  bad((r) => (r.status = 'failed'), 'reason');
});

test("another dataset's annotations are refused, not appended to; failed episodes are retried with retryFailed", async () => {
  const data = await writeDataset(4);
  const out = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-retry-'));
  const file = join(out, ANNOTATIONS_FILE);
  const flaky = {
    identity: rulesAnnotator.identity,
    annotate: (ep: Episode, i: number) =>
      ep.metadata.episodeId === 'ep-1' || ep.metadata.episodeId === 'ep-3'
        ? Promise.reject(new Error('API timeout'))
        : rulesAnnotator.annotate(ep, i),
  };
  const first = await runAnnotationJob(openRlds(data).episodes(), flaky, { outDir: out });
  assert.deepEqual([first.ok, first.failed], [2, 2]);
  const again = await runAnnotationJob(openRlds(data).episodes(), rulesAnnotator, { outDir: out });
  assert.deepEqual([again.skipped, again.written], [4, 0]);
  const retried = await runAnnotationJob(openRlds(data).episodes(), rulesAnnotator, { outDir: out, retryFailed: true });
  assert.deepEqual([retried.skipped, retried.written, retried.ok], [2, 2, 2]);
  const records = readAnnotations(file);
  assert.deepEqual(
    records.map((r) => [r.episode.episodeId, r.status]),
    [
      ['ep-0', 'ok'],
      ['ep-1', 'ok'],
      ['ep-2', 'ok'],
      ['ep-3', 'ok'],
    ],
  );

  const other = mkdtempSync(join(tmpdir(), 'vlm2vla-ann-other-'));
  const w = await RldsWriter.create(other, { datasetName: 'ann_other' });
  for (let i = 100; i < 103; i++) await w.add(pickPlaceEpisode(i));
  await w.close();
  const before = readFileSync(file, 'utf8');
  await assert.rejects(
    runAnnotationJob(openRlds(other).episodes(), rulesAnnotator, { outDir: out }),
    (e: unknown) =>
      isVlmError(e) && e.code === 'E_ANNOTATION' && /another dataset: its episode 0 is ep-0, the input's is ep-100/.test(e.message),
  );
  assert.equal(readFileSync(file, 'utf8'), before);
});
