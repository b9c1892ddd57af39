// The report and the viewer end to end on fixtures made by real commands (sim collect, annotate, build, train, eval
// sim with the expert and random policies) and a hand-assembled results.json: the tables, figures and
// filmstrips are there and match the data, trace links resolve, and a missing or malformed results
// folder is a typed error naming the file and field (and a one-paragraph CLI error, no stack trace);
// the viewer's pages, filters and file confinement over HTTP; and both pages in headless Chromium (no
// console errors, tables and images present, a screenshot; docs/ gets it with VLM2VLA_SCREENSHOTS=1).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { VlmError } from '../errors/index.ts';
import { readAnnotations } from '../annotate/index.ts';
import { LeRobotWriter } from '../data/lerobot/index.ts';
import { openRlds } from '../data/rlds/index.ts';
import { buildReport } from './report.ts';
import { loadViewSource } from './view-data.ts';
import { startViewServer } from './view-server.ts';
import type { ViewServer } from './view-server.ts';
import { findChromium, launchBrowser } from './testing/browser.ts';
import { buildFixtures, ROOT, vlm2vla } from './testing/fixtures.ts';

const fx = buildFixtures();
after(() => rmSync(fx.dir, { recursive: true, force: true }));

test('vlm2vla report writes one self-contained HTML file with the tables, figures and filmstrips of the results', () => {
  const out = join(fx.dir, 'out', 'report.html');
  const line = vlm2vla(
    ['report', '--in', fx.results, '--out', out, '--examples', '1', '--frames', '4', '--figures', join(fx.dir, 'figures')],
    fx.dir,
  );
  assert.match(line, /wrote .*report\.html: 2 arm\(s\), 2 suite\(s\), \d+ filmstrip\(s\)/);
  const html = readFileSync(out, 'utf8');
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'nothing is fetched from the network');
  assert.ok(!/<script/i.test(html), 'no scripts');
  assert.match(html, /size fixture &lt;test&gt;|fixture &lt;test&gt;/, 'text from results.json is escaped');
  // Headline: one row per arm with retention and both suites.
  const headline = /<table class="headline">(.*?)<\/table>/s.exec(html)![1]!;
  assert.equal((headline.match(/<tr>/g) ?? []).length, 3);
  assert.match(
    headline,
    /vlm2vla<\/b><\/td><td>91\.7%<\/td><td>100\.0%/,
    'the expert arm: retention 0.55/0.6 and every in-distribution episode a success',
  );
  const vqa = /<table class="vqa">(.*?)<\/table>/s.exec(html)![1]!;
  assert.equal((vqa.match(/<tr>/g) ?? []).length, 1 + 3 + 1, 'header, three categories, overall');
  // Figures: retention bars (4 groups × 2 arms), success bars with whiskers (2 × 2), one loss line per arm.
  const svgs = [...html.matchAll(/<svg .*?<\/svg>/gs)].map((m) => m[0]);
  assert.equal(svgs.length, 3);
  assert.equal((svgs[0]!.match(/class="bar"/g) ?? []).length, 8);
  assert.equal((svgs[0]!.match(/class="reference"/g) ?? []).length, 2);
  assert.equal((svgs[1]!.match(/class="bar"/g) ?? []).length + (svgs[1]!.match(/class="na"/g) ?? []).length, 4);
  assert.equal((svgs[1]!.match(/class="whisker"/g) ?? []).length, (svgs[1]!.match(/class="bar"/g) ?? []).length);
  assert.equal((svgs[2]!.match(/<path d=/g) ?? []).length, 2);
  assert.deepEqual(
    ['retention', 'success', 'loss'].map((n) => readFileSync(join(fx.dir, 'figures', `${n}.svg`), 'utf8').trim()),
    svgs,
    "the standalone figures are the report's",
  );
  // Filmstrips: the expert's are successes, the random policy's failures; every trace link resolves.
  const strips = [
    ...html.matchAll(/<figure class="filmstrip (\w+)" data-arm="([^"]+)" data-suite="([^"]+)" data-outcome="\w+">(.*?)<\/figure>/gs),
  ];
  assert.ok(strips.length >= 4);
  for (const [, outcome, arm, , body] of strips) {
    if (arm === 'vlm2vla') assert.equal(outcome, 'success');
    const imgs = body!.match(/<img src="data:image\/png;base64,/g) ?? [];
    assert.ok(imgs.length >= 2 && imgs.length <= 4, `${imgs.length} frames`);
    const href = /<a href="([^"]+)">trace<\/a>/.exec(body!)![1]!;
    assert.ok(existsSync(resolve(dirname(out), decodeURIComponent(href))), `trace link ${href}`);
  }
  assert.ok(strips.some((s) => s[2] === 'openvla-style' && s[1] === 'failure'));
  assert.equal(html, readFileSync(out, 'utf8'));
});

test('a missing or malformed results folder is a typed error naming the file and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-report-bad-'));
  try {
    const expectError = (inDir: string, code: string, file: RegExp, field?: string) => {
      try {
        buildReport({ in: inDir, out: join(dir, 'r.html') });
      } catch (e) {
        assert.ok(e instanceof VlmError, String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.file ?? '', file);
        if (field !== undefined) assert.equal(e.field, field);
        assert.ok(e.fix);
        return;
      }
      assert.fail('no error');
    };
    expectError(join(dir, 'nowhere'), 'E_REPORT_RESULTS', /nowhere$/);
    expectError(dir, 'E_REPORT_RESULTS', /results\.json$/, '');
    const copy = join(dir, 'copy');
    cpSync(fx.results, copy, { recursive: true });
    const good = JSON.parse(readFileSync(join(copy, 'results.json'), 'utf8')) as Record<string, any>;
    const write = (v: unknown) => writeFileSync(join(copy, 'results.json'), typeof v === 'string' ? v : JSON.stringify(v));
    write('{"schema": ');
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/);
    write({ ...good, schema: 'other/1' });
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/, 'schema');
    write({
      ...good,
      arms: [{ ...good.arms[0], sim: { 'in-distribution': { ...good.arms[0].sim['in-distribution'], success_rate: 'high' } } }],
    });
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/, 'arms[0].sim.in-distribution.success_rate');
    write({ ...good, arms: [{ ...good.arms[0], training: { ...good.arms[0].training, metrics: '../../etc/passwd' } }] });
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/, 'arms[0].training.metrics');
    write({
      ...good,
      arms: [{ ...good.arms[0], sim: { 'in-distribution': { ...good.arms[0].sim['in-distribution'], run: 'arms/none' } } }],
    });
    expectError(copy, 'E_REPORT_TRACE', /arms\/none\/run\.json$/);
    write(good);
    rmSync(join(copy, 'arms', 'vlm2vla', 'run', 'metrics.jsonl'));
    expectError(copy, 'E_REPORT_RESULTS', /metrics\.jsonl$/);
    // The CLI prints one paragraph, no stack trace.
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin', 'vlm2vla.mjs'), 'report', '--in', join(dir, 'nowhere'), '--out', join(dir, 'r.html')],
      { encoding: 'utf8' },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /error E_REPORT_RESULTS: .*nowhere/);
    assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function get(server: ViewServer, path: string): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(new URL(path, server.url));
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

test('the viewer over a dataset: episodes filterable by task, frames, actions, annotations per segment, chat examples; files only from inside the folders', async () => {
  const src = await loadViewSource({ dir: fx.sim, annotations: fx.annotations, sft: fx.sft });
  assert.equal(src.kind, 'rlds');
  const server = await startViewServer(src, { frames: 4 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await get(server, '/');
    assert.equal(index.status, 200);
    assert.equal((index.body.match(/<tr><td><a href="\/episode\/\d+">/g) ?? []).length, 3);
    assert.equal(
      (index.body.match(/<img class="thumb" src="data:image\/(jpeg|png);base64,/g) ?? []).length,
      3 * 3,
      'first, middle and last frame of each episode',
    );
    const task = src.episodes[0]!.task;
    const filtered = await get(server, `/?task=${encodeURIComponent(task)}`);
    assert.equal(
      (filtered.body.match(/<tr><td><a href="\/episode\/\d+">/g) ?? []).length,
      src.episodes.filter((e) => e.task === task).length,
    );
    assert.equal(
      (await get(server, '/?outcome=success')).body.match(/<tr><td><a href/g),
      null,
      'demonstrations have no closed-loop outcome',
    );
    const annotations = readAnnotations(join(fx.annotations, 'annotations.jsonl'));
    const ann = annotations.find((a) => a.episode.episodeId === src.episodes[0]!.episodeId)!;
    const ep = await get(server, '/episode/0');
    assert.equal(ep.status, 200);
    assert.equal((ep.body.match(/<figure><img src="data:image\/(jpeg|png);base64,/g) ?? []).length, 4);
    assert.equal((ep.body.match(/<svg /g) ?? []).length, 2, 'two action charts');
    const segments = /<table class="segments">(.*?)<\/table>/s.exec(ep.body)![1]!;
    assert.equal((segments.match(/<tr>/g) ?? []).length, 1 + ann.segments.length);
    const chats = [...ep.body.matchAll(/<div class="chat" data-stage="([^"]+)">/g)];
    assert.ok(chats.length > 0, 'chat examples of the episode');
    const img = /<img src="(\/sft\/[^"]+)"/.exec(ep.body)![1]!;
    const image = await get(server, img);
    assert.equal(image.status, 200);
    assert.match(image.type, /^image\//);
    for (const bad of [
      '/sft/../ann/annotations.jsonl',
      '/sft/%2e%2e/ann/annotations.jsonl',
      '/sft/%2e%2e%2fann%2fannotations.jsonl',
      '/sft/%2fetc%2fpasswd',
      '/sft/train.jsonl/..',
      '/run/traces/x.jsonl',
      '/episode/99',
      '/nothing',
    ]) {
      const r = await get(server, bad);
      assert.equal(r.status, 404, bad);
    }
    // fetch() does not let a caller set Host; a DNS-rebinding page would arrive with its own name.
    const foreign = await new Promise<number>((done, reject) =>
      request(server.url, { headers: { host: 'evil.example:80' } }, (res) => (res.resume(), done(res.statusCode ?? 0)))
        .on('error', reject)
        .end(),
    );
    assert.equal(foreign, 403);
    assert.equal((await fetch(server.url, { method: 'POST' })).status, 405);
  } finally {
    await server.close();
  }
});

test('the viewer reads a LeRobot v3 copy of the dataset the same way', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-view-lerobot-'));
  try {
    const w = LeRobotWriter.create(join(dir, 'lr'));
    for await (const ep of openRlds(fx.sim).episodes()) w.add(ep);
    w.close();
    const src = await loadViewSource({ dir: join(dir, 'lr'), annotations: fx.annotations });
    assert.equal(src.kind, 'lerobot');
    const rlds = await loadViewSource({ dir: fx.sim });
    assert.deepEqual(
      src.episodes.map((e) => [e.instruction, e.steps]),
      rlds.episodes.map((e) => [e.instruction, e.steps]),
    );
    const server = await startViewServer(src, { frames: 3 });
    try {
      const ep = await get(server, '/episode/1');
      assert.equal(ep.status, 200);
      assert.equal((ep.body.match(/<figure><img src="data:image\/(jpeg|png);base64,/g) ?? []).length, 3);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the viewer over an eval run: outcome filter, filmstrip replayed from the trace, trace link; a broken trace is a one-line error page', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-view-run-'));
  try {
    cpSync(fx.random, join(dir, 'run'), { recursive: true });
    // Text a model generated is shown as text, never as markup.
    const first = join(dir, 'run', 'traces', 'in-distribution-0.jsonl');
    const lines = readFileSync(first, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    lines[0]!.text = { subtask: '<script>alert(1)</script>', plan: 'move "left" & <b>up</b>', chunk: '[[1.0, 0.0, 0.0, 1]]' };
    writeFileSync(first, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const src = await loadViewSource({ dir: join(dir, 'run') });
    assert.equal(src.kind, 'eval-sim');
    const server = await startViewServer(src, { frames: 3 });
    try {
      const failures = src.episodes.filter((e) => e.outcome === 'failure').length;
      const shown = await get(server, '/?outcome=failure&suite=multilingual');
      assert.equal(
        (shown.body.match(/<tr><td><a href/g) ?? []).length,
        src.episodes.filter((e) => e.outcome === 'failure' && e.suite === 'multilingual').length,
      );
      assert.ok(failures > 0);
      const ep = await get(server, '/episode/0');
      assert.equal((ep.body.match(/<figure><img src="data:image\/png;base64,/g) ?? []).length, 3);
      assert.ok(!ep.body.includes('<script>') && !ep.body.includes('<b>up'), 'generated text is escaped');
      assert.match(ep.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      const href = /<a href="(\/run\/traces\/[^"]+)">trace<\/a>/.exec(ep.body)![1]!;
      const trace = await get(server, href);
      assert.equal(trace.status, 200);
      assert.equal(trace.body.trim().split('\n').length, src.episodes[0]!.result!.cycles);
      assert.equal((await get(server, '/run/../../etc/passwd')).status, 404);
      rmSync(join(dir, 'run', 'traces', `${src.episodes[1]!.episodeId.replace('/', '-')}.jsonl`));
      const broken = await get(server, '/episode/1');
      assert.equal(broken.status, 500);
      assert.match(broken.body, /^error E_REPORT_TRACE: .*does not exist/);
      assert.ok(!/\n\s+at /.test(broken.body), 'no stack trace');
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vlm2vla view prints its URL, serves, and stops on Ctrl-C; a folder of no known kind is a typed error', async () => {
  await assert.rejects(
    loadViewSource({ dir: fx.dir }),
    (e: unknown) => e instanceof VlmError && e.code === 'E_VIEW_SOURCE' && e.file === fx.dir,
  );
  await assert.rejects(
    loadViewSource({ dir: fx.sim, annotations: join(fx.dir, 'none') }),
    (e: unknown) => e instanceof VlmError && e.code === 'E_VIEW_SOURCE',
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'vlm2vla.mjs'), 'view', fx.expert, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolveUrl(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`view exited with ${code} before printing its URL: ${out}`)));
    });
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /eval sim run/);
    const taken = spawnSync(process.execPath, [join(ROOT, 'bin', 'vlm2vla.mjs'), 'view', fx.expert, '--port', new URL(url).port], {
      encoding: 'utf8',
    });
    assert.equal(taken.status, 2);
    assert.match(taken.stderr, /error E_USAGE: cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    const code = await new Promise<number | null>((done) => {
      child.once('exit', (c) => done(c));
      child.kill('SIGINT');
    });
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

const chromium = findChromium();
const shots = process.env.VLM2VLA_SCREENSHOTS === '1' ? join(ROOT, 'docs') : join(fx.dir, 'shots');
const PAGE_FACTS = `(() => ({
  tables: document.querySelectorAll('table').length,
  rows: document.querySelectorAll('tbody tr').length,
  images: document.images.length,
  broken: [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).length,
  svgs: document.querySelectorAll('svg').length,
  text: document.body.innerText.slice(0, 200),
}))()`;

interface Facts {
  tables: number;
  rows: number;
  images: number;
  broken: number;
  svgs: number;
  text: string;
}

test(
  'in headless Chromium: the report and the viewer load without console errors, with their tables and images',
  { skip: chromium.path ? false : chromium.reason, timeout: 300_000 },
  async () => {
    mkdirSync(shots, { recursive: true });
    const out = join(fx.dir, 'browser', 'report.html');
    vlm2vla(['report', '--in', fx.results, '--out', out, '--examples', '1', '--frames', '4'], fx.dir);
    const browser = await launchBrowser(chromium.path!);
    const src = await loadViewSource({ dir: fx.sim, annotations: fx.annotations, sft: fx.sft });
    const server = await startViewServer(src, { frames: 6 });
    const run = await startViewServer(await loadViewSource({ dir: fx.random }), { frames: 4 });
    try {
      const report = await browser.open(`file://${out}`, PAGE_FACTS, { width: 1200, height: 1600 });
      assert.deepEqual(report.errors, []);
      const r = report.value as Facts;
      assert.equal(r.tables, 3);
      assert.equal(r.svgs, 3);
      assert.ok(r.images >= 8 && r.broken === 0, JSON.stringify(r));
      writeFileSync(join(shots, 'report-screenshot.png'), report.png!);
      for (const [page, url] of [
        ['index', server.url],
        ['episode', `${server.url}episode/0`],
        ['eval index', `${run.url}?outcome=failure`],
        ['eval episode', `${run.url}episode/0`],
      ] as const) {
        const p = await browser.open(url, PAGE_FACTS, page === 'episode' ? { width: 1200, height: 1400 } : undefined);
        assert.deepEqual(p.errors, [], page);
        const f = p.value as Facts;
        assert.ok(f.tables >= 1 && f.rows >= 1, `${page}: ${JSON.stringify(f)}`);
        assert.equal(f.broken, 0, `${page}: every image loads`);
        if (page.endsWith('episode')) assert.ok(f.images >= 4 && f.svgs === 2, `${page}: ${JSON.stringify(f)}`);
        if (p.png) writeFileSync(join(shots, 'view-screenshot.png'), p.png);
      }
    } finally {
      await browser.close();
      await server.close();
      await run.close();
    }
  },
);
