// The report module: SVG figures (grouped bars, line charts), episode filmstrips replayed from eval
// traces, the self-contained HTML experiment report, and the local viewer of datasets and eval runs.
export { barChart, BAR_COLOURS } from './bar-chart.ts';
export type { BarChartOptions, BarSeries, ReferenceLine } from './bar-chart.ts';
export { lineChart, niceTicks } from '../util/line-chart.ts';
export type { LineChartOptions, Series } from '../util/line-chart.ts';
export { escapeXml } from '../util/escape.ts';
export { captionFrame, pngDataUri, replayEpisode } from './filmstrip.ts';
export type { FilmFrame, ReplayedEpisode, ReplayOptions } from './filmstrip.ts';
export { buildReport, reportFigures, writeReport } from './report.ts';
export type { ReportOptions, ReportSummary } from './report.ts';
export { RESULTS_SCHEMA, loadResults, readLossCurve } from './results.ts';
export type { ReportedResults } from './results.ts';
export { detectSource, loadViewSource } from './view-data.ts';
export type { SourceKind, ViewEpisode, ViewSource } from './view-data.ts';
export { startViewServer } from './view-server.ts';
export type { ViewServer, ViewServerOptions } from './view-server.ts';
