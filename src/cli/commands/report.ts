// `vlm2vla report`: a results folder (results.json of `vlm2vla experiment run`) → one self-contained
// HTML report (src/report/report.ts) → a one-line summary.
import { defineCommand } from '../define.ts';
import { writeReport } from '../../report/index.ts';

export const reportCommand = defineCommand({
  name: 'report',
  summary: 'write the experiment report: one self-contained HTML file (tables, SVG figures, episode filmstrips)',
  description:
    "Reads RESULTS_DIR/results.json and the arms' runs inside RESULTS_DIR (metrics.jsonl, eval sim\n" +
    'traces) and writes one HTML file that needs no network: the headline table (arm × VQA retention,\n' +
    'success per suite), VQA per category, training, the figures (retention bars with the 90%/85% lines,\n' +
    'success with 95% intervals, loss curves) and per arm and suite a few success and failure episodes\n' +
    'replayed from their traces as filmstrips, each linked to its trace file (relative link).\n' +
    'Example: vlm2vla report --in results/forgetting-small --out report.html',
  flags: {
    in: { type: 'string', required: true, meta: 'RESULTS_DIR', help: 'results folder written by `vlm2vla experiment run`' },
    out: { type: 'string', default: 'report.html', meta: 'FILE', help: 'the HTML file to write' },
    examples: {
      type: 'number',
      integer: true,
      min: 0,
      max: 50,
      default: 2,
      help: 'filmstrips per outcome (success, failure) per arm and suite',
    },
    frames: { type: 'number', integer: true, min: 2, max: 40, default: 6, help: 'frames per filmstrip (the last shows the outcome)' },
    figures: { type: 'string', meta: 'DIR', help: 'also write the figures as SVG files into DIR (retention.svg, success.svg, loss.svg)' },
  },
  run(f) {
    const s = writeReport({
      in: f.in,
      out: f.out,
      examples: f.examples,
      frames: f.frames,
      ...(f.figures !== undefined ? { figures: f.figures } : {}),
    });
    console.log(`wrote ${f.out}: ${s.arms} arm(s), ${s.suites} suite(s), ${s.filmstrips} filmstrip(s), ${(s.bytes / 1024).toFixed(0)} KiB`);
    if (f.figures !== undefined) console.log(`wrote ${f.figures}/retention.svg, success.svg, loss.svg`);
    return 0;
  },
});
