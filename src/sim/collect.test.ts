// sim → RLDS → read back is identical: images byte-equal, floats exact, ground truth kept; an
// interrupted collection (an exception or a SIGKILL mid-run) resumes from its checkpoints and ends
// with the same dataset; reruns on a finished folder do nothing; other options are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/index.ts';
import { isVlmError } from '../errors/index.ts';
import { collectEpisodes, sampleTask, runExpert, renderEncoded, CACHE_DIR } from './index.ts';
import type { CollectOptions, TaskFamily } from './index.ts';
import { openRlds } from '../data/rlds/index.ts';
import { openLeRobot } from '../data/lerobot/index.ts';
import type { Episode } from '../data/episode.ts';

const tasks: TaskFamily[] = ['pick', 'pick-place'];
const fresh = () => join(mkdtempSync(join(tmpdir(), 'vlm2vla-sim-')), 'data');

async function readBack(out: string): Promise<Episode[]> {
  const back: Episode[] = [];
  for await (const ep of openRlds(out).episodes()) back.push(ep);
  return back;
}

/** What attempt k of a collection with these options produces (every attempt succeeds for these seeds). */
function expected(seed: number, k: number, size: number): Episode {
  const rng = new Rng(seed + k);
  return runExpert(sampleTask(tasks[k % 2]!, rng), rng, { episodeId: `sim-${seed}-${k}`, render: (w) => renderEncoded(w, size, 'png') })
    .episode;
}

test('collected episodes read back from RLDS exactly as the expert made them', async () => {
  const out = fresh();
  const r = await collectEpisodes({ out, tasks, episodes: 4, seed: 11, size: 32, suite: 'in-distribution', imageFormat: 'png' });
  assert.equal(r.written, 4);
  assert.equal(r.failed, 0);
  const back = await readBack(out);
  assert.equal(back.length, 4);
  for (let k = 0; k < 4; k++) assert.deepEqual(back[k], expected(11, k, 32));
  assert.ok(!existsSync(join(out, CACHE_DIR)), 'checkpoints are removed when the dataset is complete');
});

test('--format lerobot writes a LeRobot v3 dataset that reads back as the expert made it; an RLDS folder is not reused for it', async () => {
  const out = fresh();
  const opts: CollectOptions = {
    out,
    tasks,
    episodes: 3,
    seed: 11,
    size: 32,
    suite: 'in-distribution',
    imageFormat: 'png',
    format: 'lerobot',
  };
  assert.equal((await collectEpisodes(opts)).written, 3);
  const back: Episode[] = [];
  for await (const ep of openLeRobot(out).episodes()) back.push(ep);
  for (let k = 0; k < 3; k++) assert.deepEqual(back[k], expected(11, k, 32));
  assert.ok((await collectEpisodes(opts)).alreadyComplete);
  const rlds = fresh();
  await collectEpisodes({ ...opts, out: rlds, format: 'rlds' });
  await assert.rejects(collectEpisodes({ ...opts, out: rlds }), (e: unknown) => isVlmError(e) && e.code === 'E_SIM_COLLECT_EXISTS');
});

test('an interrupted collection resumes from its checkpoints; a finished one is left alone', async () => {
  const out = fresh();
  const opts: CollectOptions = { out, tasks, episodes: 5, seed: 21, size: 24, suite: 'in-distribution', imageFormat: 'png' };
  await assert.rejects(
    collectEpisodes({
      ...opts,
      onEpisode: (done) => {
        if (done === 3) throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  assert.ok(!existsSync(join(out, 'dataset_info.json')));
  await assert.rejects(collectEpisodes({ ...opts, size: 32 }), (e: unknown) => isVlmError(e) && e.code === 'E_SIM_RESUME');
  rmSync(join(out, CACHE_DIR, 'ep-000001.json')); // a checkpoint lost by hand is simulated again
  const r = await collectEpisodes(opts);
  assert.deepEqual([r.written, r.resumed, r.simulated, r.alreadyComplete], [5, 2, 3, false]);
  const back = await readBack(out);
  assert.equal(back.length, 5);
  for (let k = 0; k < 5; k++) assert.deepEqual(back[k], expected(21, k, 24));
  const again = await collectEpisodes(opts);
  assert.deepEqual([again.written, again.simulated, again.alreadyComplete], [5, 0, true]);
  await assert.rejects(collectEpisodes({ ...opts, seed: 22 }), (e: unknown) => isVlmError(e) && e.code === 'E_SIM_COLLECT_EXISTS');
});

test('sim collect killed with SIGKILL mid-run resumes to the same dataset', async () => {
  const out = fresh();
  const argv = [
    'bin/vlm2vla.mjs',
    'sim',
    'collect',
    '--tasks',
    'pick,pick-place',
    '--episodes',
    '4',
    '--seed',
    '31',
    '--size',
    '24',
    '--image-format',
    'png',
    '--out',
    out,
  ];
  const killed = spawnSync(process.execPath, argv, {
    env: { ...process.env, VLM2VLA_CRASH_AT: 'sim-collect-attempt@3' },
    encoding: 'utf8',
  });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.ok(!existsSync(join(out, 'dataset_info.json')));
  const rerun = spawnSync(process.execPath, argv, { env: { ...process.env, VLM2VLA_CRASH_AT: '' }, encoding: 'utf8' });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stdout, /3 attempts resumed from checkpoints, 1 simulated/);
  const back = await readBack(out);
  assert.equal(back.length, 4);
  for (let k = 0; k < 4; k++) assert.deepEqual(back[k], expected(31, k, 24));
});

test('a damaged checkpoint stops the resume with E_SIM_CACHE naming the file', async () => {
  const out = fresh();
  const opts: CollectOptions = { out, tasks, episodes: 3, seed: 51, size: 16, suite: 'in-distribution', imageFormat: 'png' };
  await assert.rejects(
    collectEpisodes({
      ...opts,
      onEpisode: (done) => {
        if (done === 2) throw new Error('interrupted');
      },
    }),
    /interrupted/,
  );
  const file = join(out, CACHE_DIR, 'ep-000000.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"isFirst":true', '"isFirst":"yes"'));
  await assert.rejects(
    collectEpisodes(opts),
    (e: unknown) => isVlmError(e) && e.code === 'E_SIM_CACHE' && e.file === file && e.field === 'steps[0].isFirst',
  );
});
