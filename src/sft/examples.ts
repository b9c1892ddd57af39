// SFT examples of one annotated episode: stage 1 (subtask list), and per cycle of each segment
// stage 2 (motion plan) and stage 3 (action chunk), plus verifier (yes/no) and direction
// (left/right/none) examples, in Hugging Face chat-message shape with image placeholders.
import { getCodec, motionPlan } from '../actions/index.ts';
import type { ActionCodec, ChunkElement } from '../actions/index.ts';
import type { AnnotationRecord } from '../annotate/index.ts';
import type { Episode } from '../data/episode.ts';
import { CHUNK_FORMATS, getPrompt } from '../prompts/index.ts';
import type { PromptStage } from '../prompts/index.ts';

export type ExampleStage = PromptStage;

export interface ImageRef {
  step: number;
  camera: string;
}

export interface SftExample {
  stage: ExampleStage;
  episodeId: string;
  images: ImageRef[];
  user: string;
  assistant: string;
}

export interface ExampleOptions {
  actionStyle: string;
  camera: string;
  /** Most chunk elements one stage-3 answer holds; longer segments become several cycles. */
  maxChunkElements: number;
  /** |dy| (cm) below which a window's direction is "none". */
  directionCm: number;
  /** `full`: all three levels (subtasks, plans, chunks) and the verifier; `none`: the paper's -NR
   *  ablation, action chunks straight from frame and task (prompt stage `act`). */
  reasoning: 'full' | 'none';
}

export const DEFAULT_EXAMPLES: ExampleOptions = {
  actionStyle: 'list',
  camera: 'image_0',
  maxChunkElements: 4,
  directionCm: 1,
  reasoning: 'full',
};

export function codecFor(style: string): ActionCodec {
  return getCodec(style);
}

export function episodeExamples(ep: Episode, ann: AnnotationRecord, opt: ExampleOptions, codec: ActionCodec): SftExample[] {
  const id = ep.metadata.episodeId;
  const T = ep.steps.length;
  const img = (step: number): ImageRef => ({ step: Math.min(T - 1, Math.max(0, step)), camera: opt.camera });
  const task = ep.instruction;
  const out: SftExample[] = [];
  const p = (stage: PromptStage, vars: Record<string, string>) => getPrompt(stage).render(vars);
  const format = CHUNK_FORMATS[opt.actionStyle] ?? CHUNK_FORMATS.list!;
  if (opt.reasoning === 'none') {
    for (const seg of ann.segments) {
      const elements = seg.chunk as ChunkElement[];
      for (let i = 0; i < elements.length; i += opt.maxChunkElements) {
        const window = elements.slice(i, i + opt.maxChunkElements);
        out.push({
          stage: 'act',
          episodeId: id,
          images: [img(window[0]!.start)],
          user: p('act', { task, format }),
          assistant: codec.encode(window),
        });
      }
    }
    return out;
  }
  out.push({ stage: 'subtasks', episodeId: id, images: [img(0)], user: p('subtasks', { task }), assistant: JSON.stringify(ann.subtasks) });
  for (const seg of ann.segments) {
    const subtask = ann.subtasks[seg.subtask]!;
    const elements = seg.chunk as ChunkElement[];
    for (let i = 0; i < elements.length; i += opt.maxChunkElements) {
      const window = elements.slice(i, i + opt.maxChunkElements);
      const start = window[0]!.start;
      const end = window[window.length - 1]!.end;
      const plan = motionPlan(window);
      out.push({ stage: 'plan', episodeId: id, images: [img(start)], user: p('plan', { task, subtask }), assistant: plan });
      out.push({
        stage: 'chunk',
        episodeId: id,
        images: [img(start)],
        user: p('chunk', { task, subtask, plan, format }),
        assistant: codec.encode(window),
      });
      const dy = window.reduce((a, e) => a + e.dy, 0);
      const direction = Math.abs(dy) < opt.directionCm ? 'none' : dy > 0 ? 'left' : 'right';
      out.push({ stage: 'direction', episodeId: id, images: [img(start), img(end)], user: p('direction', {}), assistant: direction });
    }
    // Verifier: the whole segment is done (yes); halfway through it is not (no).
    out.push({ stage: 'verify', episodeId: id, images: [img(seg.start), img(seg.end)], user: p('verify', { subtask }), assistant: 'yes' });
    if (seg.end - seg.start >= 2) {
      const mid = seg.start + Math.floor((seg.end - seg.start) / 2);
      out.push({ stage: 'verify', episodeId: id, images: [img(seg.start), img(mid)], user: p('verify', { subtask }), assistant: 'no' });
    }
  }
  return out;
}
