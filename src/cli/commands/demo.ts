// `vlm2vla demo`: the VLM2VLA method end to end on the built-in world in under two minutes: scripted
// demonstrations → three-level language annotation → audit against ground truth → SFT chat dataset,
// then the committed VLA (models/base + the LoRA adapter models/vla) acting in closed loop, with a
// success table and a GIF of one episode. Fine-tuning and the full evaluations are their own commands.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateSim, EPISODE_DEFAULTS } from '../../eval/closed-loop.ts';
import { createEvalPolicy } from '../../eval/policies.ts';
import type { EvalPolicySpec } from '../../eval/policies.ts';
import { simTable } from './eval-sim.ts';
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { collectEpisodes } from '../../sim/index.ts';
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator, runAnnotationJob, readAnnotations, auditAnnotations, ANNOTATIONS_FILE } from '../../annotate/index.ts';
import type { AnnotationRecord } from '../../annotate/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../../sft/index.ts';
import type { ChatRecord } from '../../sft/index.ts';
import { getCodec } from '../../actions/index.ts';
import type { Episode } from '../../data/episode.ts';
import { Progress } from '../../util/index.ts';

/** The package's folder (this file is src/cli/commands/demo.ts or dist/cli/commands/demo.js). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'demonstrations → language annotation → audit → SFT dataset, end to end on the built-in tabletop world',
  description:
    'Collects scripted demonstrations in the simulator, relabels them as subtasks, motion plans and\n' +
    "action chunks (rules annotator), audits the labels against the simulator's ground truth, builds\n" +
    'the SFT chat dataset, and prints one training example. Then the committed VLA (the base model with\n' +
    'the LoRA adapter models/vla, hierarchical and grammar-constrained) runs --rollouts closed-loop\n' +
    'episodes in the tabletop world (episodes it never saw), prints the success table and writes a GIF of\n' +
    'each episode with its subtask, plan and action chunk drawn on the frames. Fine-tuning (vlm2vla\n' +
    'train), VQA retention (vlm2vla eval vqa) and the full closed-loop evaluation (vlm2vla eval sim) are\n' +
    'their own commands.',
  flags: {
    episodes: { type: 'number', integer: true, min: 1, default: 24, help: 'demonstrations to collect' },
    seed: { type: 'number', integer: true, min: 0, default: 0, help: 'seed of the first demonstration' },
    out: { type: 'string', meta: 'DIR', help: 'working folder', defaultHelp: 'a new temporary folder' },
    rollouts: {
      type: 'number',
      integer: true,
      min: 0,
      max: 1000,
      default: 4,
      help: 'closed-loop episodes of the committed VLA (0 = stop after the SFT dataset)',
    },
    model: { type: 'string', meta: 'DIR', help: 'base model the adapter applies to', defaultHelp: "the package's models/base" },
    adapter: {
      type: 'string',
      meta: 'DIR',
      help: 'LoRA adapter (or `vlm2vla train` run folder) that makes the VLA',
      defaultHelp: "the package's models/vla",
    },
  },
  async run(f) {
    const model = f.model ?? join(PACKAGE_ROOT, 'models', 'base');
    const adapter = f.adapter ?? join(PACKAGE_ROOT, 'models', 'vla');
    const shown = (p: string) => (p.startsWith(PACKAGE_ROOT) ? relative(process.cwd(), p) || '.' : p);
    // Without --adapter, a package without models/vla (a checkout before it was made) runs steps 1-4.
    const packaged = f.adapter === undefined && f.model === undefined && !existsSync(adapter);
    const rollouts = packaged ? 0 : f.rollouts;
    if (rollouts > 0) {
      for (const [dir, what] of [
        [model, 'base model'],
        [adapter, 'adapter'],
      ] as const) {
        if (!existsSync(dir))
          throw new UsageError(
            `the ${what} ${dir} does not exist`,
            `pass --${what === 'adapter' ? 'adapter' : 'model'} DIR, or --rollouts 0 to stop after the SFT dataset`,
          );
      }
    }
    const out = f.out ?? mkdtempSync(join(tmpdir(), 'vlm2vla-demo-'));
    const n = f.episodes;
    console.log(`vlm2vla demo — working in ${out}\n`);
    console.log('1. collecting scripted demonstrations in the tabletop world (pick, put, pick-place-lift, move next to)');
    const p1 = new Progress({ total: n, label: 'collecting', unit: 'episodes' });
    await collectEpisodes({
      out: join(out, 'sim'),
      tasks: ['pick', 'pick-place', 'pick-place-lift', 'move-next-to'],
      episodes: n,
      seed: f.seed,
      size: 128,
      suite: 'in-distribution',
      imageFormat: 'png',
      onEpisode: (d) => p1.set(d),
    });
    p1.finish();
    console.log('2. relabeling every trajectory as subtasks, motion plans and action chunks (rules annotator)');
    await runAnnotationJob(openRlds(join(out, 'sim')).episodes(), rulesAnnotator, { outDir: join(out, 'ann') });
    const annotations = readAnnotations(join(out, 'ann', ANNOTATIONS_FILE));
    const byId = new Map<string, AnnotationRecord>(annotations.map((a) => [a.episode.episodeId, a]));
    const pairs: { episode: Episode; annotation: AnnotationRecord | null }[] = [];
    for await (const ep of openRlds(join(out, 'sim')).episodes())
      pairs.push({ episode: ep, annotation: byId.get(ep.metadata.episodeId) ?? null });
    const audit = auditAnnotations(pairs);
    const g = audit.groundTruth!;
    console.log(
      `3. audit against the simulator's ground truth: subtask texts ${g.textsCorrect}/${g.episodes}, boundaries within 2 steps ${g.within2}/${g.segments} segments, plan directions ${audit.plans.agree}/${audit.plans.axes} moving axes, chunk error ${audit.chunks.meanErrorCm.toFixed(2)} cm`,
    );
    console.log('4. building the SFT chat dataset (stage 1 subtasks, stage 2 plans, stage 3 action chunks, verifier, direction)');
    const info = await buildSft(openRlds(join(out, 'sim')).episodes(), annotations, {
      ...DEFAULT_EXAMPLES,
      outDir: join(out, 'sft'),
      format: 'jsonl',
      valFraction: 0.2,
      seed: 0,
    });
    const counts = Object.entries(info.examples.train)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(`   ${info.episodes.train} train / ${info.episodes.val} validation episodes; train examples: ${counts}`);
    const example = readFileSync(join(out, 'sft', 'train.jsonl'), 'utf8')
      .split('\n')
      .map((l) => (l ? (JSON.parse(l) as ChatRecord) : null))
      .find((r) => r?.meta.stage === 'chunk')!;
    const user = example.messages[0]!.content.find((c) => c.type === 'text') as { text: string };
    const answer = (example.messages[1]!.content[0] as { text: string }).text;
    console.log('\n   a stage-3 training example (user turn: one camera frame + this text):');
    for (const line of user.text.split('\n')) console.log(`     ${line}`);
    console.log(`   assistant: ${answer}`);
    const codec = getCodec('list');
    const parsed = codec.decode(answer);
    console.log(
      `   the strict decoder reads it back as ${parsed.ok ? `${parsed.value.length} element(s)` : 'an error'}; "[[4.2, NaN, 0, 1]]" gives: ${(codec.decode('[[4.2, NaN, 0, 1]]') as { ok: false; error: Error }).error.message}`,
    );
    const files = `${join(out, 'sim')} (RLDS), ${join(out, 'ann')} (annotations), ${join(out, 'sft')} (SFT dataset)`;
    if (packaged && f.rollouts > 0) console.log(`\n5. skipped: this package has no ${shown(adapter)} (make it with scripts/make-vla.sh)`);
    if (rollouts > 0) {
      console.log(
        `\n5. the VLA acting in closed loop: ${shown(model)} + LoRA adapter ${shown(adapter)}, ${rollouts} new episodes (pick, pick-place), greedy, every stage under its grammar`,
      );
      const spec: EvalPolicySpec = { kind: 'model', seed: f.seed, model, adapter, greedy: true, verifier: 'model', constrained: true };
      const results = await evaluateSim({
        policy: () => createEvalPolicy(spec),
        policyInfo: { ...spec },
        suites: ['in-distribution'],
        families: ['pick', 'pick-place'],
        episodes: rollouts,
        seed: f.seed,
        out: join(out, 'rollouts'),
        limits: EPISODE_DEFAULTS,
        video: true,
      });
      console.log(simTable(results));
      console.log(`   each episode as a GIF (subtask, plan and chunk on every frame): ${join(out, 'rollouts', 'videos')}/`);
    }
    console.log(`\nfiles: ${files}${rollouts > 0 ? `, ${join(out, 'rollouts')} (closed-loop results, traces, GIFs)` : ''}`);
    console.log(
      `next: vlm2vla train --preset vla --model models/base --data ${join(out, 'sft')} --out runs/demo-vla, then vlm2vla eval vqa and vlm2vla eval sim (see README.md)`,
    );
    return 0;
  },
});
