// The collect checkpoint file: exact round trip of a rendered expert episode, and typed errors
// (E_SIM_CACHE naming the file and field) for damaged files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/index.ts';
import { isVlmError } from '../errors/index.ts';
import { sampleTask } from './tasks.ts';
import { runExpert } from './expert.ts';
import { renderEncoded } from './renderer.ts';
import { decodeEpisodeCache, encodeEpisodeCache, readEpisodeCache, writeEpisodeCache } from './episode-cache.ts';

const rng = new Rng(5);
const { episode } = runExpert(sampleTask('pick-place', rng), rng, { episodeId: 'cache-5', render: (w) => renderEncoded(w, 24, 'png') });

test('a checkpointed episode reads back identical (floats, image bytes, ground truth)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cache-'));
  writeEpisodeCache(join(dir, 'ep.json'), episode);
  assert.deepEqual(readEpisodeCache(join(dir, 'ep.json')), episode);
});

const expectCacheError = (text: string, field: RegExp) =>
  assert.throws(
    () => decodeEpisodeCache(text, 'ep-000001.json'),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_CACHE' && e.file === 'ep-000001.json' && field.test(e.field ?? '') && !!e.fix,
  );

test('damaged checkpoints raise E_SIM_CACHE naming the file and field', () => {
  const good = JSON.parse(encodeEpisodeCache(episode));
  const mutate = (f: (o: any) => void) => {
    const o = structuredClone(good);
    f(o);
    return JSON.stringify(o);
  };
  expectCacheError(encodeEpisodeCache(episode).slice(0, 100), /\(file\)/);
  expectCacheError(
    mutate((o) => (o.version = 99)),
    /^version$/,
  );
  expectCacheError(
    mutate((o) => (o.steps[3].action = o.steps[3].action.slice(0, 6))),
    /^steps\[3\]\.action$/,
  );
  expectCacheError(
    mutate((o) => (o.steps[2].state[1] = 'x')),
    /^steps\[2\]\.state\[1\]$/,
  );
  expectCacheError(
    mutate((o) => (o.steps[0].images.image_0.bytes = '***')),
    /^steps\[0\]\.images\.image_0\.bytes$/,
  );
  expectCacheError(
    mutate((o) => (o.steps[0].images.image_0.format = 'bmp')),
    /image_0\.format$/,
  );
  expectCacheError(
    mutate((o) => (o.steps = [])),
    /^steps$/,
  );
  expectCacheError(
    mutate((o) => o.groundTruth.objectPoses.pop()),
    /^groundTruth\.objectPoses$/,
  );
  expectCacheError(
    mutate((o) => (o.groundTruth.subtasks[0].end = 10_000)),
    /^groundTruth\.subtasks\[0\]$/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cache-'));
  assert.throws(
    () => readEpisodeCache(join(dir, 'missing.json')),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_CACHE',
  );
  writeFileSync(join(dir, 'torn.json'), '{"version":1,"instr');
  assert.throws(
    () => readEpisodeCache(join(dir, 'torn.json')),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_CACHE' && e.file === join(dir, 'torn.json'),
  );
});
