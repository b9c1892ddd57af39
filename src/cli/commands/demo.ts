// `vlm2vla demo`: the parts of the VLM2VLA method that exist today, end to end on the built-in world
// in about a minute: scripted demonstrations → three-level language annotation → audit against
// ground truth → SFT chat dataset, plus a look at the action text and its grammar. Training and
// closed-loop evaluation join when the model and trainer land.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { collectEpisodes } from '../../sim/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator, runAnnotationJob, readAnnotations, auditAnnotations, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import type { AnnotationRecord } from '../../annotate/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../../sft/index.ts';
import type { ChatRecord } from '../../sft/index.ts';
import { getCodec } from '../../actions/index.ts';
import type { Episode } from '../../data/episode.ts';
import { Progress } from '../../util/index.ts';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the pipeline that exists today end to end on the built-in tabletop world',
  usage: '[--episodes 24] [--out DIR]',
  description:
    'Collects scripted demonstrations in the simulator, relabels them as subtasks, motion plans and\n' +
    'action chunks (rules annotator), audits the labels against the simulator\'s ground truth, builds\n' +
    'the SFT chat dataset, and prints one training example. Model training and closed-loop evaluation\n' +
    'are not built yet and are not part of this demo.',
  flags: [
    { name: 'episodes', type: 'number', help: 'demonstrations to collect', default: 24 },
    { name: 'seed', type: 'number', help: 'seed of the first demonstration', default: 0 },
    { name: 'out', type: 'string', help: 'working folder (default: a new temporary folder)' },
  ],
  async run(args) {
    const out = typeof args.flags.out === 'string' ? args.flags.out : mkdtempSync(join(tmpdir(), 'vlm2vla-demo-'));
    const n = args.flags.episodes as number;
    console.log(`vlm2vla demo — working in ${out}\n`);
    console.log('1. collecting scripted demonstrations in the tabletop world (pick, put, pick-place-lift, move next to)');
    const p1 = new Progress({ total: n, label: 'collecting', unit: 'episodes' });
    await collectEpisodes({ out: join(out, 'sim'), tasks: ['pick', 'pick-place', 'pick-place-lift', 'move-next-to'], episodes: n, seed: args.flags.seed as number, size: 128, suite: 'in-distribution', imageFormat: 'png', onEpisode: (d) => p1.set(d) });
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
    console.log('not in this demo yet: fine-tuning the embedded VLM with LoRA, closed-loop evaluation, VQA retention.');
    return 0;
  },
};
