// The openai annotator against a local OpenAI-compatible server that injects 429 (with
// Retry-After), 5xx, hangs, malformed bodies and wrong-schema replies: every episode ends annotated
// or failed with its reason, the API key appears nowhere in the output, reruns cost no requests, and
// SIGKILL at random moments 10 times loses and duplicates nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../util/index.ts';
import { RldsWriter, openRlds } from '../data/rlds/index.ts';
import { sampleTask, runExpert, renderEncoded } from '../sim/index.ts';
import { runAnnotationJob, readAnnotations, ANNOTATIONS_FILE } from './index.ts';
import { openAiAnnotator, parseReply } from './openai/annotator.ts';
import { CLIENT_DEFAULTS, retryAfterMs } from './openai/client.ts';
import { startFakeServer } from './testing/fake-server.ts';

const KEY = 'sk-test-SECRET-0123456789';

async function dataset(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-oa-data-'));
  const w = await RldsWriter.create(dir, { datasetName: 'oa_test' });
  for (let i = 0; i < n; i++) {
    const rng = new Rng(900 + i);
    const task = sampleTask(i % 2 ? 'pick' : 'pick-place', rng);
    if (i === 3) task.instruction = 'an impossible task';
    const { episode } = runExpert(task, rng, { episodeId: `oa-${i}`, render: (world) => renderEncoded(world, 16, 'png') });
    await w.add(episode);
  }
  await w.close();
  return dir;
}

test('Retry-After in seconds and as an HTTP date; replies are validated against the episode', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 9_000), 1000);
  assert.equal(retryAfterMs('soon'), null);
  assert.equal(retryAfterMs(null), null);
  assert.equal(
    typeof parseReply('{"subtasks": ["a"], "segments": [{"start": 0, "end": 5, "subtask": 0, "plan": "move up"}]}', 5),
    'object',
  );
  assert.match(
    parseReply('{"subtasks": ["a"], "segments": [{"start": 0, "end": 4, "subtask": 0, "plan": "up"}]}', 5) as string,
    /cover 4 of 5/,
  );
  assert.match(parseReply('```json\n{"subtasks": []}```', 5) as string, /subtasks/);
  assert.equal(parseReply('nope', 5), 'not JSON');
});

test('every episode ends annotated or failed with a reason; the key is never written; reruns are free', async () => {
  const server = await startFakeServer(3);
  const data = await dataset(12);
  const out = mkdtempSync(join(tmpdir(), 'vlm2vla-oa-out-'));
  const make = () =>
    openAiAnnotator({
      ...CLIENT_DEFAULTS,
      baseUrl: server.url,
      apiKey: KEY,
      model: 'fake-vlm',
      timeoutMs: 300,
      backoffMs: 5,
      maxRetries: 8,
      concurrency: 3,
      frames: 3,
      camera: 'image_0',
      cacheDir: join(out, 'cache'),
    });
  const annotator = make();
  const summary = await runAnnotationJob(openRlds(data).episodes(), annotator, { outDir: out, concurrency: 3 });
  assert.equal(summary.written, 12);
  const records = readAnnotations(join(out, ANNOTATIONS_FILE));
  assert.equal(new Set(records.map((r) => r.episode.episodeId)).size, 12);
  const failed = records.filter((r) => r.status === 'failed');
  assert.deepEqual(
    failed.map((r) => r.episode.episodeId),
    ['oa-3'],
  );
  assert.match(failed[0]!.reason!, /gave up after 9 attempts: HTTP 500/);
  for (const r of records.filter((x) => x.status === 'ok')) assert.equal(r.segments.length, 2);
  assert.ok(annotator.client.usage.retries > 0, 'the fault schedule caused retries');
  assert.ok(server.authorizations.has(`Bearer ${KEY}`));
  for (const file of [ANNOTATIONS_FILE, 'summary.json', ...readdirSync(join(out, 'cache')).map((f) => join('cache', f))]) {
    assert.ok(!readFileSync(join(out, file), 'utf8').includes(KEY), `${file} contains the API key`);
  }
  const before = server.requests;
  const again = await runAnnotationJob(openRlds(data).episodes(), make(), { outDir: out, concurrency: 3 });
  assert.deepEqual([again.written, again.skipped, server.requests], [0, 12, before]);
  await server.close();
});

test('killed with SIGKILL at random moments 10 times and resumed: no episode lost or duplicated', async () => {
  const server = await startFakeServer(8);
  const data = await dataset(16);
  const out = mkdtempSync(join(tmpdir(), 'vlm2vla-oa-kill-'));
  const child = fileURLToPath(new URL('./testing/openai-child.ts', import.meta.url));
  const rng = new Rng(4);
  // Each kill lands at a random moment after the child has written 1–3 more records, so the test
  // needs no assumption about how fast a child starts on a loaded machine.
  const count = () => (existsSync(join(out, ANNOTATIONS_FILE)) ? readAnnotations(join(out, ANNOTATIONS_FILE)).length : 0);
  const run = (kill: { records: number; delayMs: number } | null) =>
    new Promise<number | null>((resolve) => {
      const start = count();
      const p = spawn(process.execPath, ['--import', 'tsx', child, data, out, server.url], {
        env: { ...process.env, TEST_API_KEY: KEY },
        stdio: 'ignore',
      });
      let timer: NodeJS.Timeout | null = null;
      // A child stuck behind the fake server's hung requests is killed all the same.
      const guard = kill === null ? null : setTimeout(() => p.kill('SIGKILL'), 20_000);
      const poll =
        kill === null
          ? null
          : setInterval(() => {
              if (timer === null && count() >= start + kill.records) timer = setTimeout(() => p.kill('SIGKILL'), kill.delayMs);
            }, 10);
      p.on('exit', (code) => {
        if (poll) clearInterval(poll);
        if (timer) clearTimeout(timer);
        if (guard) clearTimeout(guard);
        resolve(code);
      });
    });
  try {
    const progress: number[] = [];
    for (let i = 0; i < 10 && count() < 16; i++) {
      await run({ records: rng.int(1, 3), delayMs: rng.int(0, 150) });
      progress.push(count());
    }
    // The kills landed while work was going on: records accumulated across killed runs.
    assert.ok(
      progress[0]! < 16 && progress.some((n, i) => i > 0 && n > progress[i - 1]!),
      `records after each kill: ${progress.join(', ')}`,
    );
    assert.equal(await run(null), 0);
    const records = readAnnotations(join(out, ANNOTATIONS_FILE));
    const ids = records.map((r) => r.episode.episodeId).sort();
    assert.deepEqual(ids, Array.from({ length: 16 }, (_, i) => `oa-${i}`).sort());
  } finally {
    await server.close();
  }
});
