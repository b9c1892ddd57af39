// The report end to end on fixtures made by real commands (sim collect, annotate, build, train, eval
// sim with the expert and random policies) and a hand-assembled results.json: the tables, figures and
// filmstrips are there and match the data, trace links resolve, and a missing or malformed results
// folder is a typed error naming the file and field (and a one-paragraph CLI error, no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { VlmError } from '../errors/index.ts';
import { buildReport } from './report.ts';
import { buildFixtures, ROOT, vlm2vla } from './testing/fixtures.ts';

const fx = buildFixtures();

test('vlm2vla report writes one self-contained HTML file with the tables, figures and filmstrips of the results', () => {
  const out = join(fx.dir, 'out', 'report.html');
  const line = vlm2vla(['report', '--in', fx.results, '--out', out, '--examples', '1', '--frames', '4'], fx.dir);
  assert.match(line, /wrote .*report\.html: 2 arm\(s\), 2 suite\(s\), \d+ filmstrip\(s\)/);
  const html = readFileSync(out, 'utf8');
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'nothing is fetched from the network');
  assert.ok(!/<script/i.test(html), 'no scripts');
  assert.match(html, /size fixture &lt;test&gt;|fixture &lt;test&gt;/, 'text from results.json is escaped');
  // Headline: one row per arm with retention and both suites.
  const headline = /<table class="headline">(.*?)<\/table>/s.exec(html)![1]!;
  assert.equal((headline.match(/<tr>/g) ?? []).length, 3);
  assert.match(headline, /vlm2vla<\/b><\/td><td>91\.7%<\/td><td>100\.0%/, 'the expert arm: retention 0.55/0.6 and every in-distribution episode a success');
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
  // Filmstrips: the expert's are successes, the random policy's failures; every trace link resolves.
  const strips = [...html.matchAll(/<figure class="filmstrip (\w+)" data-arm="([^"]+)" data-suite="([^"]+)" data-outcome="\w+">(.*?)<\/figure>/gs)];
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
    write({ ...good, arms: [{ ...good.arms[0], sim: { 'in-distribution': { ...good.arms[0].sim['in-distribution'], success_rate: 'high' } } }] });
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/, 'arms[0].sim.in-distribution.success_rate');
    write({ ...good, arms: [{ ...good.arms[0], training: { ...good.arms[0].training, metrics: '../../etc/passwd' } }] });
    expectError(copy, 'E_REPORT_RESULTS', /results\.json$/, 'arms[0].training.metrics');
    write({ ...good, arms: [{ ...good.arms[0], sim: { 'in-distribution': { ...good.arms[0].sim['in-distribution'], run: 'arms/none' } } }] });
    expectError(copy, 'E_REPORT_TRACE', /arms\/none\/run\.json$/);
    write(good);
    rmSync(join(copy, 'arms', 'vlm2vla', 'run', 'metrics.jsonl'));
    expectError(copy, 'E_REPORT_RESULTS', /metrics\.jsonl$/);
    // The CLI prints one paragraph, no stack trace.
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'vlm2vla.mjs'), 'report', '--in', join(dir, 'nowhere'), '--out', join(dir, 'r.html')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /error E_REPORT_RESULTS: .*nowhere/);
    assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
