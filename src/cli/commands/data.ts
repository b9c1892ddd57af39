// `vlm2vla data inspect PATH`: episodes, steps, instructions, cameras, action ranges and stats of an
// RLDS (Bridge schema) dataset, streaming through every record (which also verifies every CRC).
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { openLeRobot } from '../../data/lerobot/index.ts';
import { contactSheet } from '../../data/contact-sheet.ts';
import { encodePng } from '../../data/image.ts';
import { BRIDGE_SEMANTICS } from '../../data/episode.ts';
import type { ActionSemantics, Episode } from '../../data/episode.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/index.ts';
import { StatsAccumulator } from '../../data/stats.ts';
import { Progress } from '../../util/index.ts';

export const dataInspectCommand = defineCommand({
  name: 'data inspect',
  summary: 'summarise a robot dataset, RLDS or LeRobot v3 (episodes, instructions, cameras, action statistics)',
  positionals: 'PATH',
  description:
    'PATH is a folder with dataset_info.json and <name>-<split>.tfrecord-XXXXX-of-YYYYY shards (Bridge V2\n' +
    'RLDS schema). Every record is read and checked (CRCs, shapes, finite numbers, image headers).\n' +
    'A folder with meta/info.json is read as LeRobotDataset v3. --render draws a contact sheet: one row\n' +
    'per listed episode with its instruction and six frames.\n' +
    'Example: vlm2vla data inspect ../shared/data/bridge_debug/1.0.0 --render sheet.png',
  flags: {
    episodes: { type: 'number', integer: true, min: 0, default: 10, help: 'episodes to list one per line' },
    split: { type: 'string', default: 'train', help: 'split to read' },
    json: { type: 'boolean', help: 'print one JSON object instead of text' },
    render: { type: 'string', meta: 'OUT.png', help: 'write a PNG contact sheet of the listed episodes' },
  },
  async run(f, positionals) {
    const path = positionals[0];
    if (!path) throw new UsageError('give the dataset folder', 'vlm2vla data inspect ../shared/data/bridge_debug/1.0.0');
    interface Source {
      info: { name: string; version: string; shards: readonly string[]; writtenByVlm2vla: boolean; semantics: ActionSemantics };
      count: number | null;
      episodes(): AsyncGenerator<Episode>;
    }
    let ds: Source;
    if (existsSync(join(path, 'meta', 'info.json'))) {
      const l = openLeRobot(path);
      const semantics = (l.info.vlm2vla as { semantics?: ActionSemantics } | undefined)?.semantics;
      ds = {
        info: {
          name: `LeRobot dataset (${String(l.info.robot_type ?? 'robot')})`,
          version: String(l.info.codebase_version),
          shards: [],
          writtenByVlm2vla: semantics !== undefined,
          semantics: semantics ?? BRIDGE_SEMANTICS,
        },
        count: l.count,
        episodes: () => l.episodes(),
      };
    } else ds = openRlds(path, f.split);
    const sheet: Episode[] = [];
    const list = f.episodes;
    const actionStats = new StatsAccumulator(7);
    const instructions = new Map<string, number>();
    const cameras = new Map<string, string>();
    const rows: { index: number; episodeId: string; steps: number; instruction: string }[] = [];
    let episodes = 0;
    let steps = 0;
    const progress = new Progress({ total: ds.count ?? 0, label: 'reading episodes', unit: 'episodes', silent: f.json });
    for await (const ep of ds.episodes()) {
      if (episodes < list) {
        rows.push({ index: episodes, episodeId: ep.metadata.episodeId, steps: ep.steps.length, instruction: ep.instruction });
        if (f.render) sheet.push(ep);
      }
      instructions.set(ep.instruction, (instructions.get(ep.instruction) ?? 0) + 1);
      for (const [cam, img] of Object.entries(ep.steps[0]!.images)) cameras.set(cam, `${img.format} ${img.width}×${img.height}`);
      for (const s of ep.steps) actionStats.add(s.action);
      episodes++;
      steps += ep.steps.length;
      progress.tick(1);
    }
    progress.finish();
    if (f.render) writeFileAtomic(f.render, encodePng(contactSheet(sheet)).bytes);
    const stats = actionStats.result();
    const summary = {
      path,
      name: ds.info.name,
      version: ds.info.version,
      writtenByVlm2vla: ds.info.writtenByVlm2vla,
      shards: ds.info.shards.length,
      episodes,
      steps,
      semantics: ds.info.semantics,
      cameras: Object.fromEntries(cameras),
      instructions: Object.fromEntries([...instructions].sort((a, b) => b[1] - a[1])),
      actionStats: stats,
      firstEpisodes: rows,
    };
    if (f.json) {
      console.log(JSON.stringify(summary));
      return 0;
    }
    console.log(
      `${ds.info.name} ${ds.info.version} — ${episodes} episodes, ${steps} steps, ${ds.info.shards.length > 0 ? `${ds.info.shards.length} shard(s)` : 'parquet'}${ds.info.writtenByVlm2vla ? ' (written by vlm2vla)' : ''}`,
    );
    console.log(
      `semantics: ${ds.info.semantics.frame}, ${ds.info.semantics.controlHz} Hz, action [${ds.info.semantics.actionDims.join(', ')}]`,
    );
    console.log(`cameras: ${[...cameras].map(([c, d]) => `${c} (${d})`).join(', ')}`);
    console.log('\ninstructions:');
    for (const [text, n] of [...instructions].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${String(n).padStart(5)}  ${text}`);
    console.log('\naction statistics (m / rad / gripper):');
    console.log(`  ${'dim'.padEnd(8)}${['mean', 'std', 'min', 'q01', 'q99', 'max'].map((h) => h.padStart(10)).join('')}`);
    BRIDGE_DIMS.forEach((d, i) => {
      const v = [stats.mean[i]!, stats.std[i]!, stats.min[i]!, stats.q01[i]!, stats.q99[i]!, stats.max[i]!];
      console.log(`  ${d.padEnd(8)}${v.map((x) => x.toFixed(4).padStart(10)).join('')}`);
    });
    console.log(`\nfirst ${rows.length} episode(s):`);
    for (const r of rows) console.log(`  #${String(r.index).padEnd(4)} ${String(r.steps).padStart(4)} steps  ${r.instruction}`);
    return 0;
  },
});

const BRIDGE_DIMS = ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'];
