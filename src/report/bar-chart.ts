// Grouped bar charts as standalone SVG (VQA retention per category per arm, closed-loop success per
// suite per arm): one group of bars per category, one bar per series, optional 95% interval whiskers
// and horizontal reference lines; deterministic text, no dependencies.
import { escapeXml } from '../util/escape.ts';
import { niceTicks } from '../util/line-chart.ts';

export interface BarSeries {
  name: string;
  /** One value per category; null or non-finite = no bar (drawn as "n/a"). */
  values: readonly (number | null)[];
  /** Optional [low, high] per category, drawn as a whisker. */
  intervals?: readonly (readonly [number, number] | null)[];
}

export interface ReferenceLine {
  value: number;
  label: string;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  /** Values are fractions shown as percentages on the axis. */
  percent?: boolean;
  /** The y axis reaches at least this value (e.g. 1 for rates). */
  yMin?: number;
  yMax?: number;
  references?: readonly ReferenceLine[];
  width?: number;
  height?: number;
}

export const BAR_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

function fmt(v: number, percent: boolean): string {
  if (percent) return `${Number((v * 100).toPrecision(4))}%`;
  return Number(v.toPrecision(4)).toString();
}

/** The SVG of `series` over `categories` (groups left to right, bars in series order). */
export function barChart(categories: readonly string[], series: readonly BarSeries[], opts: BarChartOptions): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 400;
  const percent = opts.percent ?? false;
  const m = { left: 70, right: 170, top: 40, bottom: 60 };
  const seen: number[] = [0, opts.yMin ?? 0];
  for (const s of series) {
    for (const v of s.values) if (finite(v)) seen.push(v);
    for (const iv of s.intervals ?? []) if (iv && finite(iv[0]) && finite(iv[1])) seen.push(iv[0], iv[1]);
  }
  for (const r of opts.references ?? []) if (finite(r.value)) seen.push(r.value);
  let y0 = Math.min(...seen);
  let y1 = opts.yMax !== undefined && finite(opts.yMax) ? Math.max(opts.yMax, ...seen) : Math.max(...seen);
  if (!(y1 > y0)) y1 = y0 + 1;
  const ticks = niceTicks(y0, y1);
  y0 = Math.min(y0, ticks[0]!);
  y1 = Math.max(y1, ticks.at(-1)!);
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const py = (v: number) => m.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const groupW = categories.length > 0 ? plotW / categories.length : plotW;
  const barW = series.length > 0 ? (groupW * 0.8) / series.length : 0;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img" aria-label="${escapeXml(opts.title)}">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`);
  for (const t of ticks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t, percent)}</text>`);
  }
  categories.forEach((c, ci) => {
    const gx = m.left + ci * groupW;
    out.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${H - m.bottom + 18}" text-anchor="middle">${escapeXml(c)}</text>`);
    series.forEach((s, si) => {
      const x = gx + groupW * 0.1 + si * barW;
      const v = s.values[ci];
      const colour = BAR_COLOURS[si % BAR_COLOURS.length]!;
      if (!finite(v)) {
        out.push(
          `<text class="na" x="${(x + barW / 2).toFixed(1)}" y="${(py(y0) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#888">n/a</text>`,
        );
        return;
      }
      const top = py(Math.max(v, y0));
      const base = py(Math.max(0, y0));
      const y = Math.min(top, base);
      const h = Math.abs(base - top);
      out.push(
        `<rect class="bar" data-series="${escapeXml(s.name)}" data-category="${escapeXml(c)}" data-value="${v}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${colour}"><title>${escapeXml(`${s.name} · ${c}: ${fmt(v, percent)}`)}</title></rect>`,
      );
      const iv = s.intervals?.[ci];
      if (iv && finite(iv[0]) && finite(iv[1])) {
        const cx = (x + barW / 2).toFixed(1);
        const [lo, hi] = [py(iv[0]).toFixed(1), py(iv[1]).toFixed(1)];
        const cap = Math.min(6, barW / 3);
        out.push(
          `<path class="whisker" data-low="${iv[0]}" data-high="${iv[1]}" d="M${cx} ${lo}V${hi}M${(x + barW / 2 - cap).toFixed(1)} ${lo}h${(2 * cap).toFixed(1)}M${(x + barW / 2 - cap).toFixed(1)} ${hi}h${(2 * cap).toFixed(1)}" stroke="#222" stroke-width="1.2" fill="none"/>`,
        );
      }
    });
  });
  for (const r of opts.references ?? []) {
    if (!finite(r.value)) continue;
    const y = py(r.value).toFixed(1);
    out.push(
      `<line class="reference" data-value="${r.value}" x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="5 4"/>`,
    );
    out.push(`<text x="${m.left + plotW + 4}" y="${y}" dominant-baseline="middle" font-size="11" fill="#555">${escapeXml(r.label)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(
    `<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const ly = m.top + plotH - (series.length - i) * 16 + 8;
    out.push(`<rect x="${W - m.right + 60}" y="${ly - 5}" width="12" height="10" fill="${BAR_COLOURS[i % BAR_COLOURS.length]!}"/>`);
    out.push(`<text x="${W - m.right + 76}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
