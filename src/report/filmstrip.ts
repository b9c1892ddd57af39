// Filmstrips of closed-loop episodes: an episode of an `eval sim` run replayed from its trace — the
// scene from episodeSpec(suite, seed, index, families), the executed steps from the trace, stepped
// through a Rollout under the run's limits exactly as the harness did — rendered at chosen cycles
// with the cycle's subtask, plan and chunk written under the frame, and a last frame marked success
// or failure. Frames are PNG data URIs for self-contained HTML.
import { encodePng } from '../data/image.ts';
import type { RgbImage } from '../data/image.ts';
import { captionFrame, captionRows } from '../data/caption.ts';
export { captionFrame } from '../data/caption.ts';
import { FormatError } from '../errors/index.ts';
import { STEP_MS, episodeSpec } from '../eval/closed-loop.ts';
import type { CycleTrace, RunManifest } from '../eval/closed-loop.ts';
import { Rollout } from '../sim/rollout.ts';
import { render } from '../sim/renderer.ts';
import { SUITES } from '../sim/tasks.ts';
import type { Suite } from '../sim/tasks.ts';

export interface FilmFrame {
  /** The cycle whose observation this is (-1 for the final frame). */
  cycle: number;
  /** Simulator steps executed before the frame. */
  step: number;
  /** The text drawn under the frame (subtask, plan, chunk, or the outcome). */
  caption: string[];
  image: RgbImage;
}

export interface ReplayedEpisode {
  key: string;
  instruction: string;
  success: boolean;
  steps: number;
  cycles: number;
  frames: FilmFrame[];
  /** The steps executed, in order. */
  actions: number[][];
}

export interface ReplayOptions {
  /** Frames at most, the final one included (default 6). */
  frames?: number;
  /** Width of a drawn frame in pixels (default 256; the camera frame is scaled up to it). */
  width?: number;
}

/** The lines a cycle's text gives: subtask, plan and chunk, each prefixed, the empty ones left out. */
export function captionOf(text: CycleTrace['text']): string[] {
  if (!text) return [];
  return [
    text.subtask ? `subtask: ${text.subtask}` : '',
    text.plan ? `plan: ${text.plan}` : '',
    text.chunk ? `chunk: ${text.chunk}` : '',
  ].filter((l) => l !== '');
}

/** `count` indices spread evenly over 0…n-1 (first and last included), without repeats. */
export function spread(n: number, count: number): number[] {
  if (n <= 0 || count <= 0) return [];
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  if (count === 1) return [0];
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / (count - 1))))];
}

function parseKey(key: string, where: string): { suite: Suite; index: number; async: boolean } {
  const m = /^([a-z-]+)\/(\d+)(#async)?$/.exec(key);
  if (!m || !SUITES.includes(m[1] as Suite))
    throw new FormatError('E_REPORT_TRACE', `${where}: episode key ${JSON.stringify(key)} is not <suite>/<index>[#async]`, {
      file: where,
      field: 'episode',
      fix: 'the trace is damaged or from another tool; rerun `vlm2vla eval sim`',
    });
  return { suite: m[1] as Suite, index: Number(m[2]), async: m[3] !== undefined };
}

/** Replays episode `key` of the run described by `manifest` from its cycle traces (in order), with
 *  the harness's own execution rule (runEpisode in src/eval/closed-loop.ts): a cycle's steps run in
 *  order until success or the step limit; under the run's timing model (`--delay-ms`, `--async`) a
 *  chunk arrives after the cycle's time plus the delay in simulated time and, in asynchronous mode,
 *  replaces what is left of the previous one. `where` (the trace file) is named in errors. */
export function replayEpisode(
  manifest: RunManifest,
  key: string,
  traces: readonly CycleTrace[],
  where: string,
  options: ReplayOptions = {},
): ReplayedEpisode {
  const { suite, index, async } = parseKey(key, where);
  const spec = episodeSpec(suite, manifest.seed, index, manifest.families);
  const rollout = new Rollout(spec.task, spec.gripper);
  const size = manifest.limits.imageSize;
  const width = options.width ?? 256;
  const wanted = new Set(spread(traces.length, Math.max(0, (options.frames ?? 6) - 1)));
  // Every frame of a strip gets the same text band: as many rows as its longest caption (2…6).
  const finalCaption = (outcome: string) => [`${outcome} after ${manifest.limits.maxSteps} steps`, spec.task.instruction];
  const rows = Math.min(
    6,
    Math.max(
      captionRows(finalCaption('failure'), width),
      ...[...wanted].map((c) => captionRows(captionOf(traces[c]?.text ?? null), width)),
    ),
  );
  const frames: FilmFrame[] = [];
  const delayMs = manifest.timing ? manifest.timing.delayMs : null;
  let steps = 0;
  let success = false;
  let clock = 0;
  let lastLatency = delayMs ?? 0;
  let queue: number[][] = [];
  let pending: { actions: number[][]; arrival: number } | null = null;
  let c = 0;
  const executed: number[][] = [];
  for (;;) {
    if (steps >= manifest.limits.maxSteps) break;
    const wantsNext = queue.length === 0 || (async && queue.length * STEP_MS <= lastLatency);
    if (!pending && wantsNext && c < traces.length) {
      const t = traces[c]!;
      const bad = (what: string): never => {
        throw new FormatError('E_REPORT_TRACE', `${where}: cycle ${c} ${what}`, {
          file: where,
          field: `line ${c + 1}.actions`,
          fix: 'the trace is damaged; rerun `vlm2vla eval sim` for this episode',
        });
      };
      if (!Array.isArray(t.actions)) bad('has no actions list');
      for (const a of t.actions)
        if (!Array.isArray(a) || a.length !== 7 || !a.every((v) => typeof v === 'number' && Number.isFinite(v)))
          bad('holds a step that is not 7 finite numbers');
      if (wanted.has(c))
        frames.push({
          cycle: c,
          step: steps,
          caption: captionOf(t.text),
          image: captionFrame(render(rollout.world, size, size), captionOf(t.text), `cycle ${c}`, 'plain', width, rows),
        });
      const latency = delayMs === null ? 0 : (typeof t.ms === 'number' ? t.ms : 0) + delayMs;
      lastLatency = latency;
      pending = { actions: t.actions, arrival: clock + latency };
      c++;
    }
    if (pending && (queue.length === 0 || pending.arrival <= clock)) {
      clock = Math.max(clock, pending.arrival);
      queue = [...pending.actions];
      pending = null;
      if (queue.length === 0 && c >= traces.length) break;
      continue;
    }
    if (queue.length === 0) {
      if (c >= traces.length) break;
      continue;
    }
    const action = queue.shift()!;
    rollout.step(action);
    executed.push(action);
    steps++;
    clock += STEP_MS;
    if (rollout.success()) {
      success = true;
      break;
    }
  }
  const outcome = success ? 'success' : 'failure';
  frames.push({
    cycle: -1,
    step: steps,
    caption: [`${outcome} after ${steps} steps`],
    image: captionFrame(
      render(rollout.world, size, size),
      [`${outcome} after ${steps} steps`, spec.task.instruction],
      outcome,
      success ? 'success' : 'failure',
      width,
      rows,
    ),
  });
  return { key, instruction: spec.task.instruction, success, steps, cycles: traces.length, frames, actions: executed };
}

/** A PNG data URI of an RGB image. */
export function pngDataUri(image: RgbImage): string {
  return `data:image/png;base64,${Buffer.from(encodePng(image).bytes).toString('base64')}`;
}
