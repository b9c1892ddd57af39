// The experiment report: one self-contained HTML file (inline CSS and SVG, frames as PNG data URIs,
// nothing fetched at view time) from a results folder — the headline table (arm × VQA retention and
// success per suite), VQA accuracy and retention per category, training, the figures (retention bars
// with the 90%/85% lines, success bars with 95% intervals, loss curves), and per arm and suite a few
// success and failure episodes as filmstrips replayed from their traces, each linked to its trace.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { FormatError } from '../errors/index.ts';
import { readEpisodeJournals } from '../eval/closed-loop.ts';
import type { CycleTrace, EpisodeResult, RunManifest } from '../eval/closed-loop.ts';
import { readJsonl, writeFileAtomic } from '../util/index.ts';
import { barChart } from './bar-chart.ts';
import { escapeXml } from '../util/escape.ts';
import { pngDataUri, replayEpisode } from './filmstrip.ts';
import type { ReplayedEpisode } from './filmstrip.ts';
import { lineChart } from '../util/line-chart.ts';
import type { Series } from '../util/line-chart.ts';
import { insideFolder, loadResults, readLossCurve } from './results.ts';
import type { ReportedResults } from './results.ts';

export interface ReportOptions {
  /** The results folder (results.json, the arms' runs). */
  in: string;
  /** The HTML file to write; trace links are relative to its folder. */
  out: string;
  /** Filmstrips per outcome (success, failure) per arm and suite (default 2). */
  examples?: number;
  /** Frames per filmstrip, the final one included (default 6). */
  frames?: number;
  /** Also write the figures as standalone SVG files into this folder (retention.svg, success.svg,
   *  loss.svg). */
  figures?: string;
}

export interface ReportSummary {
  arms: number;
  suites: number;
  filmstrips: number;
  bytes: number;
}

const SUITE_ORDER = ['in-distribution', 'multilingual', 'unseen-objects', 'semantic'];

export const pct = (v: number | null | undefined): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
const num = (v: number | null | undefined, digits = 3): string =>
  typeof v === 'number' && Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : '–';

function traceFail(file: string, field: string, message: string): never {
  throw new FormatError('E_REPORT_TRACE', `${file}: ${field ? `${field}: ` : ''}${message}`, {
    file,
    field,
    fix: 'the eval sim run folder is incomplete or damaged; rerun `vlm2vla experiment run` (or the `vlm2vla eval sim` command) to finish it',
  });
}

/** An eval sim run folder's manifest (run.json). */
export function readRunManifest(runDir: string): RunManifest {
  const file = join(runDir, 'run.json');
  if (!existsSync(file)) traceFail(file, '', 'does not exist');
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    traceFail(file, '', `is not valid JSON (${(e as Error).message})`);
  }
  if (m === null || typeof m !== 'object') traceFail(file, '', 'must be a JSON object');
  if (m.schema !== 'vlm2vla.eval-sim/1') traceFail(file, 'schema', `is ${JSON.stringify(m.schema)}, expected "vlm2vla.eval-sim/1"`);
  if (typeof m.seed !== 'number') traceFail(file, 'seed', 'must be a number');
  if (!Array.isArray(m.families) || m.families.length === 0) traceFail(file, 'families', 'must be a non-empty list');
  const l = m.limits as Record<string, unknown> | undefined;
  if (
    !l ||
    typeof l.maxSteps !== 'number' ||
    typeof l.maxCycles !== 'number' ||
    typeof l.imageSize !== 'number' ||
    !(l.imageSize >= 8 && l.imageSize <= 1024)
  )
    traceFail(file, 'limits', 'needs maxSteps, maxCycles and imageSize (8…1024)');
  return m as unknown as RunManifest;
}

/** The trace file of an episode key (`suite/index`) in a run folder. */
export function traceFile(runDir: string, key: string): string {
  return join(runDir, 'traces', `${key.replace('/', '-').replace('#', '-')}.jsonl`);
}

/** Replays one journaled episode of a run. */
export function replayFromRun(runDir: string, manifest: RunManifest, key: string, frames: number): ReplayedEpisode {
  const file = traceFile(runDir, key);
  if (!existsSync(file)) traceFail(file, '', `does not exist (episode ${key} is journaled)`);
  let bad = 0;
  const traces = readJsonl<CycleTrace>(file, () => bad++);
  if (bad > 0) traceFail(file, '', `${bad} line(s) are not JSON`);
  return replayEpisode(manifest, key, traces, file, { frames });
}

/** A relative URL from the report's folder to `target`. */
function linkFrom(outFile: string, target: string): string {
  return relative(dirname(resolve(outFile)), resolve(target))
    .split(sep)
    .map(encodeURIComponent)
    .join('/');
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;color:#1b1b1b;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:12px 0;font-size:.92em}
th,td{border:1px solid #d0d0d0;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f3f3}
.interval{color:#666;font-size:.85em}
.figures{display:flex;flex-wrap:wrap;gap:16px}
.figures svg{max-width:100%;height:auto;border:1px solid #eee}
.filmstrip{margin:10px 0 18px;padding:8px;border:1px solid #e2e2e2;border-radius:6px}
.filmstrip.success{border-left:6px solid #3cb85a}.filmstrip.failure{border-left:6px solid #e0463c}
.frames{display:flex;gap:4px;overflow-x:auto}
.frames img{image-rendering:pixelated;width:192px;height:auto;flex:none}
figcaption{font-size:.9em;margin-top:6px}
.outcome-success{color:#17823a;font-weight:600}.outcome-failure{color:#c0261c;font-weight:600}
`;

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function suitesOf(r: ReportedResults): string[] {
  const all = new Set(r.arms.flatMap((a) => Object.keys(a.sim)));
  return [...SUITE_ORDER.filter((s) => all.has(s)), ...[...all].filter((s) => !SUITE_ORDER.includes(s)).sort()];
}

function categoriesOf(r: ReportedResults): string[] {
  const cats = Object.keys(r.base.vqa.categories);
  for (const a of r.arms) for (const c of Object.keys(a.vqa.categories)) if (!cats.includes(c)) cats.push(c);
  return cats;
}

/** The three figures of a results file as SVG strings. */
export function reportFigures(dir: string, r: ReportedResults): { retention: string; success: string; loss: string } {
  const cats = categoriesOf(r);
  const retention = barChart(
    [...cats, 'overall'],
    r.arms.map((a) => ({ name: a.name, values: [...cats, 'overall'].map((c) => a.retention[c] ?? null) })),
    {
      title: 'VQA retention per category (arm accuracy / base accuracy)',
      yLabel: 'retention',
      percent: true,
      yMax: 1,
      references: [
        { value: 0.9, label: '90%' },
        { value: 0.85, label: '85% (paper)' },
      ],
      width: Math.max(720, 80 + (cats.length + 1) * (24 + 14 * r.arms.length) + 170),
    },
  );
  const suites = suitesOf(r);
  const success = barChart(
    suites,
    r.arms.map((a) => ({
      name: a.name,
      values: suites.map((s) => a.sim[s]?.success_rate ?? null),
      intervals: suites.map((s) => {
        const iv = a.sim[s]?.interval;
        return iv && typeof iv[0] === 'number' && typeof iv[1] === 'number' ? ([iv[0], iv[1]] as const) : null;
      }),
    })),
    { title: 'Closed-loop success per suite (95% Wilson interval)', yLabel: 'success', percent: true, yMax: 1 },
  );
  const series: Series[] = [];
  r.arms.forEach((a, i) => {
    const curve = readLossCurve(
      insideFolder(dir, a.training.metrics, join(dir, 'results.json'), `arms[${i}].training.metrics`),
      `arms[${i}].training.metrics`,
    );
    series.push({ name: a.name, points: curve.train });
    if (curve.val.length > 0) series.push({ name: `${a.name} (val)`, points: curve.val });
  });
  const loss = lineChart(series, {
    title: 'Training loss',
    xLabel: 'step',
    yLabel: 'loss',
    logY: series.some((s) => s.points.some(([, y]) => y > 0)),
    legendOutside: true,
    width: 760,
  });
  return { retention, success, loss };
}

function filmstripHtml(ep: ReplayedEpisode, journaled: EpisodeResult, arm: string, suite: string, link: string): string {
  const outcome = ep.success ? 'success' : 'failure';
  const imgs = ep.frames
    .map(
      (f) =>
        `<img src="${pngDataUri(f.image)}" alt="${escapeXml(f.cycle < 0 ? `final frame: ${outcome}` : `cycle ${f.cycle}: ${f.caption.join(' / ') || 'no text'}`)}" title="${escapeXml(f.caption.join('\n'))}">`,
    )
    .join('');
  return (
    `<figure class="filmstrip ${outcome}" data-arm="${escapeXml(arm)}" data-suite="${escapeXml(suite)}" data-outcome="${outcome}"><div class="frames">${imgs}</div>` +
    `<figcaption><span class="outcome-${outcome}">${outcome}</span> · ${escapeXml(journaled.instruction)} · ${escapeXml(journaled.family)} · ${ep.steps} steps, ${ep.cycles} cycles, ${escapeXml(String(journaled.malformed))} malformed · end: ${escapeXml(journaled.end)} · <a href="${escapeXml(link)}">trace</a></figcaption></figure>`
  );
}

/** The report's HTML. */
export function buildReport(o: ReportOptions): {
  html: string;
  figures: ReturnType<typeof reportFigures>;
  summary: Omit<ReportSummary, 'bytes'>;
} {
  const r = loadResults(o.in);
  const examples = o.examples ?? 2;
  const frames = o.frames ?? 6;
  const suites = suitesOf(r);
  const cats = categoriesOf(r);
  const figures = reportFigures(o.in, r);
  const parts: string[] = [];
  parts.push(`<h1>${escapeXml(r.experiment)} (${escapeXml(r.size)}) — vlm2vla report</h1>`);
  parts.push(
    `<p class="meta">Base model <code>${escapeXml(r.base.model)}</code> · commit ${escapeXml(r.git_commit ?? 'unknown')} · ${escapeXml(String(r.machine.cpus ?? '?'))} × ${escapeXml(r.machine.model ?? 'unknown CPU')} · ${escapeXml(r.started ?? '')} → ${escapeXml(r.finished ?? '')}</p>`,
  );
  parts.push('<h2 id="headline">Headline</h2>');
  parts.push(
    table(
      ['arm', 'VQA retention', ...suites.map((s) => `${escapeXml(s)} success`)],
      r.arms.map((a) => [
        `<b>${escapeXml(a.name)}</b>`,
        pct(a.retention.overall),
        ...suites.map((s) => {
          const g = a.sim[s];
          return g
            ? `${pct(g.success_rate)} <span class="interval">(${pct(g.interval[0])}–${pct(g.interval[1])}, n=${g.episodes})</span>`
            : '–';
        }),
      ]),
      'headline',
    ),
  );
  parts.push(`<ul>${r.arms.map((a) => `<li><b>${escapeXml(a.name)}</b>: ${escapeXml(a.description)}</li>`).join('')}</ul>`);
  parts.push('<h2 id="vqa">Held-out VQA per category</h2><p>Accuracy, and in brackets the retention (arm / base).</p>');
  const cell = (acc: number | null | undefined, ret: number | null | undefined) =>
    `${pct(acc)} <span class="interval">(${num(ret, 2)})</span>`;
  parts.push(
    table(
      ['category', 'base', ...r.arms.map((a) => escapeXml(a.name))],
      [
        ...cats.map((c) => [
          escapeXml(c),
          pct(r.base.vqa.categories[c]?.accuracy),
          ...r.arms.map((a) => cell(a.vqa.categories[c]?.accuracy, a.retention[c])),
        ]),
        ['<b>overall</b>', pct(r.base.vqa.overall), ...r.arms.map((a) => cell(a.vqa.overall, a.retention.overall))],
      ],
      'vqa',
    ),
  );
  parts.push('<h2 id="training">Training and inference</h2>');
  parts.push(
    table(
      [
        'arm',
        'mode',
        'steps',
        'tokens',
        'seconds',
        'final loss',
        'final val loss',
        'vocabulary share',
        'malformed per cycle',
        'cycle ms p50',
      ],
      r.arms.map((a) => {
        const sims = Object.values(a.sim);
        const malformed = sims.length ? sims.reduce((s, g) => s + (g.malformed_per_cycle ?? 0), 0) / sims.length : null;
        const p50 = sims.map((g) => g.cycle_ms_p50).filter((v): v is number => typeof v === 'number');
        return [
          escapeXml(a.name),
          escapeXml(a.training.mode ?? '–'),
          num(a.training.steps, 6),
          num(a.training.tokens, 9),
          num(a.training.seconds, 4),
          num(a.training.final_loss, 4),
          num(a.training.final_val_loss, 4),
          a.training.vocabulary_share === null || a.training.vocabulary_share === undefined ? '–' : pct(a.training.vocabulary_share),
          num(malformed, 3),
          p50.length ? num(p50.reduce((x, y) => x + y, 0) / p50.length, 4) : '–',
        ];
      }),
      'training',
    ),
  );
  parts.push(`<h2 id="figures">Figures</h2><div class="figures">${figures.retention}${figures.success}${figures.loss}</div>`);
  parts.push(
    '<h2 id="episodes">Episodes</h2><p>Each filmstrip is the episode replayed from its trace in the simulator: frames at evenly spaced cycles with the text the policy generated (subtask, plan, chunk), then the last frame with the outcome.</p>',
  );
  const runs = new Map<string, { manifest: RunManifest; journals: Map<string, EpisodeResult> }>();
  let filmstrips = 0;
  r.arms.forEach((a, i) => {
    parts.push(`<h3>${escapeXml(a.name)}</h3>`);
    for (const s of suites) {
      const g = a.sim[s];
      if (!g) continue;
      const runDir = insideFolder(o.in, g.run, join(o.in, 'results.json'), `arms[${i}].sim.${s}.run`);
      let run = runs.get(runDir);
      if (!run) {
        run = { manifest: readRunManifest(runDir), journals: readEpisodeJournals(runDir) };
        runs.set(runDir, run);
      }
      // The synchronous episodes (results.json counts them; `#async` reruns are a timing comparison).
      const episodes = [...run.journals.values()]
        .filter((e) => e.suite === s && !e.key.endsWith('#async'))
        .sort((x, y) => x.index - y.index);
      if (episodes.length === 0)
        traceFail(join(runDir, 'episodes.0.jsonl'), '', `holds no journaled episode of suite ${s} (results.json counts ${g.episodes})`);
      const chosen = [...episodes.filter((e) => e.success).slice(0, examples), ...episodes.filter((e) => !e.success).slice(0, examples)];
      parts.push(`<h4>${escapeXml(s)} — ${g.successes}/${g.episodes} succeeded</h4>`);
      for (const e of chosen) {
        const ep = replayFromRun(runDir, run.manifest, e.key, frames);
        parts.push(filmstripHtml(ep, e, a.name, s, linkFrom(o.out, traceFile(runDir, e.key))));
        filmstrips++;
      }
    }
  });
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeXml(`${r.experiment} (${r.size}) — vlm2vla report`)}</title><style>${CSS}</style></head>\n<body>\n${parts.join('\n')}\n</body></html>\n`;
  return { html, figures, summary: { arms: r.arms.length, suites: suites.length, filmstrips } };
}

/** Builds the report and writes it atomically to `o.out`. */
export function writeReport(o: ReportOptions): ReportSummary {
  const { html, figures, summary } = buildReport(o);
  writeFileAtomic(o.out, html);
  if (o.figures !== undefined) for (const [name, svg] of Object.entries(figures)) writeFileAtomic(join(o.figures, `${name}.svg`), svg);
  return { ...summary, bytes: Buffer.byteLength(html) };
}
