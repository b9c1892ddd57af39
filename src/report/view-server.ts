// The viewer's local web server (`vlm2vla view`): read-only pages over a loaded ViewSource — the
// episode list filterable by task, suite and outcome, and per episode its filmstrip, its actions over
// time (SVG), its annotations per segment and the chat examples built from it. Binds 127.0.0.1 only,
// answers GET/HEAD only, checks the Host header, serves files only from inside the given folders, and
// sends errors as one line of text (never a stack trace).
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Episode } from '../data/episode.ts';
import { UsageError, isVlmError } from '../errors/index.ts';
import { escapeXml } from '../util/escape.ts';
import { pngDataUri, spread } from './filmstrip.ts';
import { lineChart } from '../util/line-chart.ts';
import { replayFromRun } from './report.ts';
import { readTraces } from './view-data.ts';
import type { ViewEpisode, ViewSource } from './view-data.ts';

export interface ViewServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ViewServerOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Filmstrip frames per episode (default 10). */
  frames?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px auto;max-width:1200px;padding:0 16px;color:#1b1b1b}
table{border-collapse:collapse;font-size:.9em;margin:10px 0}th,td{border:1px solid #d6d6d6;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f3f3f3}form{margin:10px 0}label{margin-right:12px}
.frames{display:flex;gap:4px;overflow-x:auto}.frames figure{margin:0;flex:none}.frames img{width:160px;image-rendering:pixelated}
.frames figcaption{font-size:.75em;max-width:160px}
.success{color:#17823a;font-weight:600}.failure{color:#c0261c;font-weight:600}
.chat{border:1px solid #e2e2e2;border-radius:6px;padding:6px;margin:8px 0}.chat img{width:96px;image-rendering:pixelated}
.role{font-weight:600;margin-right:6px}.thumb{width:64px;image-rendering:pixelated;margin-right:2px}nav a{margin-right:12px}code{font-size:.9em}
`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${CSS}</style></head><body>\n${body}\n</body></html>\n`;
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.json': 'text/plain; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/** The real path of `rel` under `root`, or a 404 when it leaves the folder, is not a file, or is not a
 *  type the viewer serves. */
function confined(root: string, rel: string): string {
  if (rel === '' || rel.includes('\0') || isAbsolute(rel)) throw new HttpError(404, 'not found');
  let real: string;
  let base: string;
  try {
    base = realpathSync(root);
    real = realpathSync(resolve(root, rel));
  } catch {
    throw new HttpError(404, 'not found');
  }
  const back = relative(base, real);
  if (back === '' || back.startsWith(`..${sep}`) || back === '..' || isAbsolute(back)) throw new HttpError(404, 'not found');
  if (!statSync(real).isFile() || !(extname(real).toLowerCase() in MIME)) throw new HttpError(404, 'not found');
  return real;
}

const distinct = (xs: readonly (string | null)[]) => [...new Set(xs.filter((x): x is string => x !== null))].sort();

function select(name: string, values: readonly string[], current: string): string {
  return `<label>${name} <select name="${name}"><option value="">all</option>${values.map((v) => `<option value="${escapeXml(v)}"${v === current ? ' selected' : ''}>${escapeXml(v)}</option>`).join('')}</select></label>`;
}

/** A recorded episode's first, middle and last frames; a link to an eval episode's filmstrip. */
function thumbnails(e: ViewEpisode): string {
  const ep = e.episode;
  if (!ep) return `<a href="/episode/${e.n}">filmstrip</a>`;
  const cam = mainCamera(ep);
  if (cam === undefined) return '–';
  return spread(ep.steps.length, 3)
    .map((t) => {
      const img = ep.steps[t]!.images[cam]!;
      return `<img class="thumb" src="data:image/${img.format};base64,${Buffer.from(img.bytes).toString('base64')}" alt="step ${t}">`;
    })
    .join('');
}

function indexPage(src: ViewSource, q: URLSearchParams): string {
  const f = { task: q.get('task') ?? '', suite: q.get('suite') ?? '', outcome: q.get('outcome') ?? '' };
  const shown = src.episodes.filter(
    (e) =>
      (!f.task || e.task === f.task) && (!f.suite || e.suite === f.suite) && (!f.outcome || (e.outcome ?? 'demonstration') === f.outcome),
  );
  const outcomes = distinct(src.episodes.map((e) => e.outcome ?? 'demonstration'));
  const rows = shown.map((e) => {
    const ann = src.annotations.get(e.episodeId);
    const chats = src.sft?.byEpisode.get(e.episodeId)?.length ?? 0;
    return `<tr><td><a href="/episode/${e.n}">${e.n}</a></td><td>${escapeXml(e.episodeId)}</td><td>${escapeXml(e.instruction)}</td><td>${escapeXml(e.task)}</td><td>${escapeXml(e.suite ?? '–')}</td><td${e.outcome ? ` class="${e.outcome}"` : ''}>${e.outcome ?? 'demonstration'}</td><td>${escapeXml(String(e.steps))}</td><td>${ann ? `${ann.status === 'ok' ? ann.segments.length : 0} segments` : '–'}</td><td>${chats || '–'}</td><td>${thumbnails(e)}</td></tr>`;
  });
  return page(
    src.title,
    [
      `<h1>${escapeXml(src.title)}</h1>`,
      `<form method="get" action="/">${select('task', distinct(src.episodes.map((e) => e.task)), f.task)}${select('suite', distinct(src.episodes.map((e) => e.suite)), f.suite)}${select('outcome', outcomes, f.outcome)}<button type="submit">filter</button></form>`,
      `<p>${shown.length} of ${src.episodes.length} episode(s)${src.truncated ? ` (the first ${src.episodes.length} of the dataset; raise --max-episodes to see more)` : ''}${src.annotations.size ? ` · ${src.annotations.size} annotation record(s)` : ''}${src.sft ? ` · chat examples from ${escapeXml(src.sft.dataset.dir)}` : ''}</p>`,
      `<table class="episodes"><thead><tr><th>#</th><th>episode</th><th>instruction</th><th>task</th><th>suite</th><th>outcome</th><th>steps</th><th>annotation</th><th>chat examples</th><th>frames</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    ].join('\n'),
  );
}

function actionCharts(actions: readonly ArrayLike<number>[]): string {
  const series = (names: readonly string[], dims: readonly number[], k: number) =>
    names.map((name, i) => ({ name, points: actions.map((a, t) => [t, a[dims[i]!]! * k] as [number, number]) }));
  if (actions.length === 0) return '<p>No actions.</p>';
  return `<div class="charts">${lineChart(series(['dx', 'dy', 'dz'], [0, 1, 2], 100), { title: 'Translation per step', xLabel: 'step', yLabel: 'cm', width: 560, height: 300 })}${lineChart([...series(['droll', 'dpitch', 'dyaw'], [3, 4, 5], 180 / Math.PI), ...series(['gripper'], [6], 1)], { title: 'Rotation per step and gripper', xLabel: 'step', yLabel: 'degrees / gripper (1 = open)', width: 560, height: 300 })}</div>`;
}

function mainCamera(ep: Episode): string | undefined {
  const cams = Object.keys(ep.steps[0]?.images ?? {});
  return cams.includes('image_0') ? 'image_0' : cams.sort()[0];
}

function annotationTable(src: ViewSource, e: ViewEpisode): string {
  const ann = src.annotations.get(e.episodeId);
  if (!ann) return src.annotations.size ? '<p>No annotation record for this episode.</p>' : '';
  if (ann.status !== 'ok') return `<p>Annotation failed: ${escapeXml(ann.reason ?? '')}</p>`;
  const chunk = (els: (typeof ann.segments)[number]['chunk']) =>
    els.map((c) => `[${[c.dx, c.dy, c.dz].map((v) => v.toFixed(1)).join(', ')}, ${c.gripper}]`).join(', ');
  return (
    `<p>Subtasks: ${ann.subtasks.map((s) => `<code>${escapeXml(s)}</code>`).join(' → ')} (annotator ${escapeXml(ann.annotator.name)}@${escapeXml(ann.annotator.version)})</p>` +
    `<table class="segments"><thead><tr><th>steps</th><th>subtask</th><th>motion plan</th><th>action chunk (cm, gripper)</th></tr></thead><tbody>${ann.segments.map((s) => `<tr><td>${s.start}–${s.end}</td><td>${escapeXml(ann.subtasks[s.subtask] ?? '?')}</td><td>${escapeXml(s.plan)}</td><td><code>${escapeXml(chunk(s.chunk))}</code></td></tr>`).join('')}</tbody></table>`
  );
}

function chatExamples(src: ViewSource, e: ViewEpisode): string {
  const recs = src.sft?.byEpisode.get(e.episodeId);
  if (!src.sft) return '';
  if (!recs || recs.length === 0) return '<p>No chat example of this episode in the SFT dataset.</p>';
  return recs
    .map((r, i) => {
      let img = 0;
      const msgs = r.messages
        .map(
          (m) =>
            `<div><span class="role">${escapeXml(String(m.role))}</span>${m.content.map((c) => (c.type === 'image' ? `<img src="/sft/${r.images[img++]!.split('/').map(encodeURIComponent).join('/')}" alt="image ${img}">` : escapeXml(c.text))).join(' ')}</div>`,
        )
        .join('');
      return `<div class="chat" data-stage="${escapeXml(r.meta.stage)}"><b>#${i} ${escapeXml(r.meta.stage)}</b>${msgs}</div>`;
    })
    .join('\n');
}

function episodePage(src: ViewSource, e: ViewEpisode, frames: number): string {
  const parts: string[] = [];
  const nav = `<nav><a href="/">all episodes</a>${e.n > 0 ? `<a href="/episode/${e.n - 1}">previous</a>` : ''}${e.n + 1 < src.episodes.length ? `<a href="/episode/${e.n + 1}">next</a>` : ''}</nav>`;
  parts.push(nav, `<h1>${escapeXml(e.instruction)}</h1>`);
  parts.push(
    `<p>episode <code>${escapeXml(e.episodeId)}</code> · task ${escapeXml(e.task)} · suite ${escapeXml(e.suite ?? '–')} · ${e.outcome ? `<span class="${e.outcome}">${e.outcome}</span>` : 'demonstration'} · ${escapeXml(String(e.steps))} steps</p>`,
  );
  let actions: ArrayLike<number>[] = [];
  if (e.episode) {
    const ep = e.episode;
    const cam = mainCamera(ep);
    const ann = src.annotations.get(e.episodeId);
    const subtaskAt = (t: number) => {
      if (!ann || ann.status !== 'ok') return '';
      const s = ann.segments.find((g) => t >= g.start && t < g.end);
      return s ? `${ann.subtasks[s.subtask] ?? ''} · ${s.plan}` : '';
    };
    const figs =
      cam === undefined
        ? []
        : spread(ep.steps.length, frames).map((t) => {
            const img = ep.steps[t]!.images[cam]!;
            return `<figure><img src="data:image/${img.format};base64,${Buffer.from(img.bytes).toString('base64')}" alt="step ${t}"><figcaption>step ${t}${subtaskAt(t) ? `: ${escapeXml(subtaskAt(t))}` : ''}</figcaption></figure>`;
          });
    parts.push(`<h2>Frames${cam ? ` (${escapeXml(cam)})` : ''}</h2><div class="frames">${figs.join('')}</div>`);
    actions = ep.steps.map((s) => s.action);
  } else if (e.result && src.manifest) {
    const replay = replayFromRun(src.dir, src.manifest, e.result.key, frames);
    const { traces } = readTraces(src, e.result.key);
    const traceHref = `/run/traces/${encodeURIComponent(e.result.key.replace('/', '-').replace('#', '-'))}.jsonl`;
    parts.push(
      `<h2>Filmstrip (replayed from the <a href="${traceHref}">trace</a>)</h2><div class="frames">${replay.frames.map((f) => `<figure><img src="${pngDataUri(f.image)}" alt="${f.cycle < 0 ? 'final frame' : `cycle ${f.cycle}`}"><figcaption>${f.cycle < 0 ? escapeXml(f.caption.join(' ')) : `cycle ${f.cycle}, step ${f.step}`}</figcaption></figure>`).join('')}</div>`,
    );
    parts.push(
      `<h2>Cycles</h2><table class="cycles"><thead><tr><th>cycle</th><th>step</th><th>subtask</th><th>plan</th><th>chunk</th><th>steps</th><th>malformed</th><th>verified</th><th>failed</th><th>ms</th></tr></thead><tbody>${traces.map((t) => `<tr><td>${escapeXml(String(t.cycle))}</td><td>${escapeXml(String(t.step))}</td><td>${escapeXml(String(t.text?.subtask ?? ''))}</td><td>${escapeXml(String(t.text?.plan ?? ''))}</td><td><code>${escapeXml(String(t.text?.chunk ?? ''))}</code></td><td>${t.actions.length}</td><td>${escapeXml(String(t.malformed))}</td><td>${t.verified === null ? '' : escapeXml(String(t.verified))}</td><td>${escapeXml(String(t.failed ?? ''))}</td><td>${typeof t.ms === 'number' && Number.isFinite(t.ms) ? t.ms.toFixed(0) : ''}</td></tr>`).join('')}</tbody></table>`,
    );
    actions = replay.actions;
  }
  parts.push(`<h2>Actions over time</h2>${actionCharts(actions)}`);
  const ann = annotationTable(src, e);
  if (ann) parts.push(`<h2>Annotations per segment</h2>${ann}`);
  const chats = chatExamples(src, e);
  if (chats) parts.push(`<h2>Chat examples</h2>${chats}`);
  return page(`${e.instruction} — vlm2vla view`, parts.join('\n'));
}

/** Serves `src` on 127.0.0.1. */
export function startViewServer(src: ViewSource, o: ViewServerOptions = {}): Promise<ViewServer> {
  const frames = o.frames ?? 10;
  let port = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'",
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      const host = req.headers.host ?? '';
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
        throw new HttpError(403, 'forbidden: the viewer answers only requests addressed to 127.0.0.1 or localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'the viewer is read-only (GET only)');
      const url = new URL(req.url ?? '/', `http://${host}`);
      const path = url.pathname;
      if (path === '/') return send(200, 'text/html; charset=utf-8', indexPage(src, url.searchParams));
      const m = /^\/episode\/(\d{1,9})$/.exec(path);
      if (m) {
        const e = src.episodes[Number(m[1])];
        if (!e) throw new HttpError(404, `no episode ${m[1]}`);
        return send(200, 'text/html; charset=utf-8', episodePage(src, e, frames));
      }
      const file = (root: string, prefix: string) => {
        let rel: string;
        try {
          rel = decodeURIComponent(path.slice(prefix.length));
        } catch {
          throw new HttpError(400, 'bad path');
        }
        const real = confined(root, rel);
        send(200, MIME[extname(real).toLowerCase()]!, readFileSync(real));
      };
      if (path.startsWith('/sft/') && src.sft) return file(src.sft.dataset.dir, '/sft/');
      if (path.startsWith('/run/') && src.kind === 'eval-sim') return file(src.dir, '/run/');
      if (path === '/favicon.ico') return send(204, 'text/plain', '');
      throw new HttpError(404, 'not found');
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      const message =
        e instanceof HttpError
          ? e.message
          : isVlmError(e)
            ? `error ${e.code}: ${e.message}${e.fix ? ` (fix: ${e.fix})` : ''}`
            : 'internal error (see the terminal running vlm2vla view)';
      if (status === 500) console.error(isVlmError(e) ? e.describe() : `vlm2vla view: ${req.method} ${req.url}: ${(e as Error).message}`);
      if (!res.headersSent) send(status, 'text/plain; charset=utf-8', `${message}\n`);
      else res.end();
    }
  };
  const server = createServer(handle);
  return new Promise((resolveStart, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE' || e.code === 'EACCES'
          ? new UsageError(
              `cannot listen on 127.0.0.1:${o.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied'}`,
              'choose another --port, or --port 0 for any free port',
            )
          : e,
      ),
    );
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      port = (server.address() as AddressInfo).port;
      resolveStart({
        url: `http://127.0.0.1:${port}/`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
