// `vlm2vla sim collect` and `vlm2vla sim play`: scripted demonstrations in the tabletop world,
// written as RLDS, and an episode rendered to an animated GIF or a PNG filmstrip.
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { collectEpisodes, sampleTask, runExpert, render, TASK_FAMILIES, SUITES, World } from '../../sim/index.ts';
import type { TaskFamily } from '../../sim/index.ts';
import { decodeImage, encodePng } from '../../data/image.ts';
import { openDataset } from '../../data/open.ts';
import type { Episode } from '../../data/episode.ts';
import type { RgbImage } from '../../data/image.ts';
import { encodeGif } from '../../data/gif.ts';
import { Progress, Rng, writeFileAtomic, checkOutputDir } from '../../util/index.ts';

function families(arg: string): TaskFamily[] {
  const list = arg
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of list)
    if (!TASK_FAMILIES.includes(f as TaskFamily))
      throw new UsageError(`unknown task family "${f}"`, `use a comma-separated list of ${TASK_FAMILIES.join(', ')}`);
  return list as TaskFamily[];
}

/** Most episodes one `sim collect` run writes: a bound against typos such as 1e12 (collect larger sets into several folders). */
export const MAX_COLLECT_EPISODES = 1_000_000;

export const simCollectCommand = defineCommand({
  name: 'sim collect',
  summary: 'record scripted demonstrations in the tabletop world as an RLDS (or LeRobot v3) dataset',
  description:
    `Task families: ${TASK_FAMILIES.join(', ')}. Suites: ${SUITES.join(', ')} (robot training data uses\n` +
    'in-distribution: English instructions, training objects). Frames are JPEG at --size² from the\n' +
    'over-the-shoulder camera (image_0); ground truth (object poses per step, subtask spans) is kept in\n' +
    'the dataset. Episode k uses seed S + k, so the same command reproduces the same dataset.\n' +
    'Resumable: finished episodes are checkpointed in OUT/.sim-collect/; rerunning the same command\n' +
    'after an interruption skips them, and rerunning it on a finished dataset does nothing.',
  flags: {
    tasks: { type: 'string', meta: 'pick,pick-place', default: 'pick,pick-place', help: 'comma-separated task families' },
    episodes: {
      type: 'number',
      integer: true,
      min: 1,
      max: MAX_COLLECT_EPISODES,
      default: 100,
      help: 'successful episodes to record (collect more in several runs into separate folders)',
    },
    seed: { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, help: 'seed of the first episode' },
    size: { type: 'number', integer: true, min: 16, max: 1024, default: 128, help: 'frame size in pixels (square)' },
    suite: { type: 'string', default: 'in-distribution', choices: SUITES, help: 'instruction/object suite' },
    'image-format': {
      type: 'string',
      default: 'jpeg',
      choices: ['jpeg', 'png'],
      help: 'frame encoding (jpeg as in Bridge; png is lossless and faster)',
    },
    format: {
      type: 'string',
      default: 'rlds',
      choices: ['rlds', 'lerobot'],
      help: "dataset layout: RLDS in Bridge's schema, or LeRobot v3",
    },
    video: {
      type: 'string',
      choices: ['h264', 'av1'],
      help: 'with --format lerobot: store the camera as MP4 video, as LeRobot does by default (needs ffmpeg; lossy)',
    },
    out: {
      type: 'string',
      required: true,
      meta: 'DIR',
      help: 'output folder (empty, or an interrupted run of the same command to resume)',
    },
  },
  async run(f) {
    const { out, episodes, size, seed } = f;
    checkOutputDir(out, { what: 'the dataset folder' });
    const progress = new Progress({ total: episodes, label: 'collecting', unit: 'episodes' });
    const r = await collectEpisodes({
      out,
      tasks: families(f.tasks),
      episodes,
      seed,
      size,
      suite: f.suite,
      imageFormat: f['image-format'],
      format: f.format,
      ...(f.video ? { video: f.video } : {}),
      onEpisode: (done, failed) => progress.set(done, failed > 0 ? `${failed} expert failures skipped` : ''),
    });
    progress.finish();
    if (r.alreadyComplete) console.log(`${out} already holds these ${r.written} episodes; nothing to do`);
    else
      console.log(
        `wrote ${r.written} episodes to ${out} (${r.failed} unsuccessful demonstrations skipped${r.resumed > 0 ? `; ${r.resumed} attempts resumed from checkpoints, ${r.simulated} simulated` : ''})`,
      );
    return 0;
  },
});

export const simPlayCommand = defineCommand({
  name: 'sim play',
  summary: 'render a scripted episode (or one read from an RLDS folder) to an animated GIF or a PNG filmstrip',
  description:
    'Without --in: samples the task of --seed, runs the scripted expert and renders every step at --size².\n' +
    'With --in: plays episode K (0-based, in file order) of an RLDS or LeRobot v3 dataset from its image_0 frames.\n' +
    'A .gif is an animation at 5 frames/s (the control rate); a .png is a filmstrip of up to 8 frames.',
  flags: {
    task: { type: 'string', default: 'pick-place', choices: TASK_FAMILIES, help: 'task family' },
    seed: { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER, default: 0, help: 'episode seed' },
    size: { type: 'number', integer: true, min: 16, max: 1024, default: 256, help: 'frame size in pixels' },
    suite: { type: 'string', default: 'in-distribution', choices: SUITES, help: 'instruction/object suite' },
    in: { type: 'string', meta: 'DIR', help: 'RLDS or LeRobot v3 dataset folder to play an episode from (instead of simulating)' },
    episode: { type: 'number', integer: true, min: 0, default: 0, help: 'episode index in the --in dataset' },
    out: { type: 'string', required: true, meta: 'OUT.gif|OUT.png', help: 'output .gif (animation) or .png (filmstrip)' },
  },
  async run(f) {
    const out = f.out;
    if (!/\.(gif|png)$/i.test(out)) throw new UsageError('--out must end in .gif or .png');
    const frames: RgbImage[] = [];
    let summary: string;
    const input = f.in;
    if (input !== undefined) {
      const k = f.episode;
      let found: Episode | null = null;
      let i = 0;
      for await (const ep of openDataset(input).episodes()) {
        if (i++ === k) {
          found = ep;
          break;
        }
      }
      if (!found)
        throw new UsageError(`${input} has ${i} episodes; --episode ${k} is out of range`, `use --episode 0…${Math.max(0, i - 1)}`);
      found.steps.forEach((s, t) => {
        const im = s.images.image_0 ?? Object.values(s.images)[0];
        if (!im) throw new UsageError(`episode ${k} of ${input} has no camera frames at step ${t}`);
        frames.push(decodeImage(im, `${input} episode ${k} step ${t}`));
      });
      const gt = found.groundTruth;
      summary = `"${found.instruction}": ${found.steps.length} steps${gt ? `, ${gt.success ? 'success' : 'failure'}` : ''}`;
    } else {
      const size = f.size;
      const rng = new Rng(f.seed);
      const task = sampleTask(f.task, rng, f.suite);
      const { success, episode } = runExpert(task, rng, {
        episodeId: 'play',
        render: (w: World) => (frames.push(render(w, size, size)), { format: 'png', width: size, height: size, bytes: new Uint8Array(0) }),
      });
      summary = `"${task.instruction}": ${episode.steps.length} steps, ${success ? 'success' : 'failure'}`;
    }
    const width = frames[0]!.width;
    const height = frames[0]!.height;
    if (frames.some((f) => f.width !== width || f.height !== height))
      throw new UsageError("the episode's frames differ in size; cannot make one animation of them");
    if (/\.gif$/i.test(out)) {
      writeFileAtomic(out, encodeGif(frames));
    } else {
      const every = Math.max(1, Math.ceil(frames.length / 8));
      const picked = frames.filter((_, i) => i % every === 0);
      const strip = { width: width * picked.length, height, rgb: new Uint8Array(width * picked.length * height * 3) };
      picked.forEach((f, k) => {
        for (let y = 0; y < height; y++)
          strip.rgb.set(f.rgb.subarray(y * width * 3, (y + 1) * width * 3), (y * strip.width + k * width) * 3);
      });
      writeFileAtomic(out, encodePng(strip).bytes);
    }
    console.log(`${summary}; wrote ${out}`);
    return 0;
  },
});
