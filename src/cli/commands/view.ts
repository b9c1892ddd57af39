// `vlm2vla view DIR`: loads a dataset or an eval sim run (src/report/view-data.ts), serves the viewer
// on 127.0.0.1 (src/report/view-server.ts), prints its URL and runs until Ctrl-C.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { loadViewSource, startViewServer } from '../../report/index.ts';

export const viewCommand = defineCommand({
  name: 'view',
  summary: 'browse a dataset (RLDS, LeRobot v3) or an eval sim run in a local web page',
  positionals: 'DIR',
  description:
    'DIR is an RLDS folder (dataset_info.json), a LeRobot v3 folder (meta/info.json) or an `eval sim`\n' +
    'run folder (run.json). The page lists the episodes, filterable by task, suite and outcome; each\n' +
    'episode shows its frames as a filmstrip (eval runs: replayed from the trace with the generated\n' +
    'subtask, plan and chunk), its actions over time, its annotations per segment (--annotations) and\n' +
    'the chat examples built from it (--sft). Read-only, on 127.0.0.1 only; Ctrl-C stops it.\n' +
    'Example: vlm2vla view data/sim --annotations ann/ --sft sft/',
  flags: {
    annotations: { type: 'string', meta: 'ANN', help: 'the folder `vlm2vla annotate` wrote (or its annotations.jsonl)' },
    sft: { type: 'string', meta: 'SFT_DIR', help: 'the SFT dataset `vlm2vla build` wrote from those annotations' },
    port: { type: 'number', integer: true, min: 0, max: 65535, default: 0, help: 'port on 127.0.0.1 (0 = any free port)' },
    split: { type: 'string', default: 'train', help: 'RLDS split to read' },
    'max-episodes': {
      type: 'number',
      integer: true,
      min: 1,
      max: 100_000,
      default: 500,
      help: 'dataset episodes held in memory (the first N)',
    },
    frames: { type: 'number', integer: true, min: 2, max: 60, default: 10, help: 'frames per filmstrip' },
  },
  async run(f, positionals) {
    const dir = positionals[0];
    if (!dir)
      throw new UsageError('give the folder to view', 'vlm2vla view data/sim (a dataset) or vlm2vla view runs/eval (an eval sim run)');
    if (positionals.length > 1) throw new UsageError(`one folder at a time, got ${positionals.length}`);
    const source = await loadViewSource({ dir, annotations: f.annotations, sft: f.sft, split: f.split, maxEpisodes: f['max-episodes'] });
    const server = await startViewServer(source, { port: f.port, frames: f.frames });
    console.log(`viewing ${source.title}: ${source.episodes.length} episode(s)`);
    console.log(`open ${server.url}  (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
});
