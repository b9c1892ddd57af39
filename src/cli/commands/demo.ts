// `vlm2vla demo`: the data side of the VLM2VLA method end to end on the built-in world in about a
// minute: scripted demonstrations → three-level language annotation → audit against ground truth →
// SFT chat dataset, plus a look at the action text and its grammar. Fine-tuning and evaluation are
// their own commands (train, eval vqa, eval sim); the demo points to them.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand } from '../define.ts';
import { collectEpisodes } from '../../sim/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator, runAnnotationJob, readAnnotations, auditAnnotations, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import type { AnnotationRecord } from '../../annotate/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../../sft/index.ts';
import type { ChatRecord } from '../../sft/index.ts';
import { getCodec } from '../../actions/index.ts';
import type { Episode } from '../../data/episode.ts';
import { Progress } from '../../util/index.ts';

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'demonstrations → language annotation → audit → SFT dataset, end to end on the built-in tabletop world',
  description:
    'Collects scripted demonstrations in the simulator, relabels them as subtasks, motion plans and\n' +
    'action chunks (rules annotator), audits the labels against the simulator\'s ground truth, builds\n' +
    'the SFT chat dataset, and prints one training example. Fine-tuning (vlm2vla train), VQA retention\n' +
    '(vlm2vla eval vqa) and closed-loop evaluation (vlm2vla eval sim) are their own commands.',
  flags: {
    episodes: { type: 'number', integer: true, min: 1, default: 24, help: 'demonstrations to collect' },
    seed: { type: 'number', integer: true, min: 0, default: 0, help: 'seed of the first demonstration' },
    out: { type: 'string', meta: 'DIR', help: 'working folder', defaultHelp: 'a new temporary folder' },
  },
  async run(f) {
    const out = f.out ?? mkdtempSync(join(tmpdir(), 'vlm2vla-demo-'));
    const n = f.episodes;
    console.log(`vlm2vla demo — working in ${out}\n`);
    console.log('1. collecting scripted demonstrations in the tabletop world (pick, put, pick-place-lift, move next to)');
    const p1 = new Progress({ total: n, label: 'collecting', unit: 'episodes' });
    await collectEpisodes({ out: join(out, 'sim'), tasks: ['pick', 'pick-place', 'pick-place-lift', 'move-next-to'], episodes: n, seed: f.seed, size: 128, suite: 'in-distribution', imageFormat: 'png', onEpisode: (d) => p1.set(d) });
    p1.finish();
    console.log('2. relabeling every trajectory as subtasks, motion plans and action chunks (rules annotator)');
    await runAnnotationJob(openRlds(join(out, 'sim')).episodes(), rulesAnnotator, { outDir: join(out, 'ann') });
    const annotations = readAnnotations(join(out, 'ann', ANNOTATIONS_FILE));
    const byId = new Map<string, AnnotationRecord>(annotations.map((a) => [a.episode.episodeId, a]));
    const pairs: { episode: Episode; annotation: AnnotationRecord | null }[] = [];
    for await (const ep of openRlds(join(out, 'sim')).episodes()) pairs.push({ episode: ep, annotation: byId.get(ep.metadata.episodeId) ?? null });
    const audit = auditAnnotations(pairs);
    const g = audit.groundTruth!;
    console.log(`3. audit against the simulator's ground truth: subtask texts ${g.textsCorrect}/${g.episodes}, boundaries within 2 steps ${g.within2}/${g.segments} segments, plan directions ${audit.plans.agree}/${audit.plans.axes} moving axes, chunk error ${audit.chunks.meanErrorCm.toFixed(2)} cm`);
    console.log('4. building the SFT chat dataset (stage 1 subtasks, stage 2 plans, stage 3 action chunks, verifier, direction)');
    const info = await buildSft(openRlds(join(out, 'sim')).episodes(), annotations, { ...DEFAULT_EXAMPLES, outDir: join(out, 'sft'), format: 'jsonl', valFraction: 0.2, seed: 0 });
    const counts = Object.entries(info.examples.train).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`   ${info.episodes.train} train / ${info.episodes.val} validation episodes; train examples: ${counts}`);
    const example = readFileSync(join(out, 'sft', 'train.jsonl'), 'utf8').split('\n').map((l) => (l ? (JSON.parse(l) as ChatRecord) : null)).find((r) => r?.meta.stage === 'chunk')!;
    const user = example.messages[0]!.content.find((c) => c.type === 'text') as { text: string };
    const answer = (example.messages[1]!.content[0] as { text: string }).text;
    console.log('\n   a stage-3 training example (user turn: one camera frame + this text):');
    for (const line of user.text.split('\n')) console.log(`     ${line}`);
    console.log(`   assistant: ${answer}`);
    const codec = getCodec('list');
    const parsed = codec.decode(answer);
    console.log(`   the strict decoder reads it back as ${parsed.ok ? `${parsed.value.length} element(s)` : 'an error'}; "[[4.2, NaN, 0, 1]]" gives: ${(codec.decode('[[4.2, NaN, 0, 1]]') as { ok: false; error: Error }).error.message}`);
    console.log(`\nfiles: ${join(out, 'sim')} (RLDS), ${join(out, 'ann')} (annotations), ${join(out, 'sft')} (SFT dataset)`);
    console.log(`next: vlm2vla train --model models/base --data ${join(out, 'sft')} --out runs/demo-vla, then vlm2vla eval vqa and vlm2vla eval sim (see README.md)`);
    return 0;
  },
});
