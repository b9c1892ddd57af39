// The `openai` annotator: asks any OpenAI-compatible VLM (Gemini's endpoint, OpenAI, vLLM,
// llama.cpp server) for segment boundaries, subtask texts and motion plans of an episode, from
// sampled frames (data URLs) and the numeric action log with the axis conventions. The reply must be
// JSON matching REPLY_SCHEMA and cover the episode; action chunks always come from the trajectory.
import type { Episode } from '../../data/episode.ts';
import { ANNOTATION_SCHEMA, annotationKey } from '../schema.ts';
import type { AnnotationRecord, AnnotatorIdentity } from '../schema.ts';
import { buildSegments } from '../rules.ts';
import type { Annotator } from '../rules.ts';
import { ChatClient } from './client.ts';
import type { ClientOptions } from './client.ts';

export const PROMPT_VERSION = 'openai-annotate-v1';

export const REPLY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['subtasks', 'segments'],
  properties: {
    subtasks: { type: 'array', items: { type: 'string' }, minItems: 1 },
    segments: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['start', 'end', 'subtask', 'plan'],
        properties: { start: { type: 'integer' }, end: { type: 'integer' }, subtask: { type: 'integer' }, plan: { type: 'string' } },
      },
    },
  },
} as const;

const SYSTEM = [
  'You label robot demonstrations for training a vision-language-action model.',
  'Conventions: actions are per-step end-effector deltas [dx, dy, dz] in centimetres in the robot base frame',
  '(+x forward, +y left, +z up) and a gripper command (1 = open, 0 = closed). Steps are recorded at 5 Hz.',
  'Split the episode into consecutive segments, one per subtask (e.g. "pick up the carrot", "put the carrot in the pot").',
  'Segments are [start, end) step ranges that cover every step in order. For each segment write a coarse motion plan',
  'with direction words only, e.g. "move down and slightly forward". Reply with JSON only.',
].join(' ');

export interface Reply {
  subtasks: string[];
  segments: { start: number; end: number; subtask: number; plan: string }[];
}

/** Parses and checks a reply against the episode; returns the reply or an error message. */
export function parseReply(content: string, steps: number): Reply | string {
  let v: unknown;
  const trimmed = content
    .trim()
    .replace(/^```(?:json)?\s*/, '')
    .replace(/```$/, '');
  try {
    v = JSON.parse(trimmed);
  } catch {
    return 'not JSON';
  }
  const r = v as Partial<Reply>;
  if (!r || !Array.isArray(r.subtasks) || r.subtasks.length === 0 || r.subtasks.some((s) => typeof s !== 'string' || s.trim() === ''))
    return 'subtasks must be a non-empty list of strings';
  if (!Array.isArray(r.segments) || r.segments.length === 0) return 'segments must be a non-empty list';
  let cursor = 0;
  let last = -1;
  for (const [i, s] of r.segments.entries()) {
    if (
      !s ||
      !Number.isInteger(s.start) ||
      !Number.isInteger(s.end) ||
      !Number.isInteger(s.subtask) ||
      typeof s.plan !== 'string' ||
      s.plan.trim() === ''
    )
      return `segment ${i} needs integer start, end, subtask and a plan`;
    if (s.start !== cursor) return `segment ${i} starts at ${s.start}, expected ${cursor}`;
    if (s.end <= s.start || s.end > steps) return `segment ${i} ends at ${s.end}, outside (${s.start}, ${steps}]`;
    if (s.subtask <= last || s.subtask >= r.subtasks.length)
      return `segment ${i} has subtask ${s.subtask}, expected an increasing index below ${r.subtasks.length}`;
    cursor = s.end;
    last = s.subtask;
  }
  if (cursor !== steps) return `segments cover ${cursor} of ${steps} steps`;
  return r as Reply;
}

function dataUrl(ep: Episode, t: number, camera: string): string | null {
  const img = ep.steps[t]?.images[camera];
  if (!img) return null;
  return `data:image/${img.format};base64,${Buffer.from(img.bytes).toString('base64')}`;
}

export interface OpenAiAnnotatorOptions extends ClientOptions {
  /** Frames sent per episode (evenly spaced, first and last included). */
  frames: number;
  camera: string;
}

export function openAiAnnotator(opts: OpenAiAnnotatorOptions): Annotator & { client: ChatClient } {
  const client = new ChatClient(opts);
  const identity: AnnotatorIdentity = { name: 'openai', version: '1', promptVersion: PROMPT_VERSION, model: opts.model };
  return {
    identity,
    client,
    async annotate(ep, index): Promise<AnnotationRecord> {
      const T = ep.steps.length;
      const picks = Array.from(
        new Set(
          Array.from({ length: Math.min(opts.frames, T) }, (_, i) => Math.round((i * (T - 1)) / Math.max(1, Math.min(opts.frames, T) - 1))),
        ),
      );
      const log = ep.steps
        .map((s, t) => `${t}: [${[0, 1, 2].map((i) => (s.action[i]! * 100).toFixed(1)).join(', ')}, ${s.action[6]! >= 0.5 ? 1 : 0}]`)
        .join('\n');
      const content: unknown[] = [
        {
          type: 'text',
          text: `Task: ${ep.instruction}\nThe episode has ${T} steps (0 to ${T - 1}).\nFrames follow for steps ${picks.join(', ')}.`,
        },
      ];
      for (const t of picks) {
        const url = dataUrl(ep, t, opts.camera);
        if (url) content.push({ type: 'text', text: `Step ${t}:` }, { type: 'image_url', image_url: { url } });
      }
      content.push({ type: 'text', text: `Actions per step [dx, dy, dz, gripper]:\n${log}` });
      const body = {
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content },
        ],
        temperature: 0,
        response_format: { type: 'json_schema', json_schema: { name: 'episode_annotation', strict: true, schema: REPLY_SCHEMA } },
      };
      const { content: reply } = await client.chat(body, (c) => {
        const r = parseReply(c, T);
        return typeof r === 'string' ? r : null;
      });
      const parsed = parseReply(reply, T) as Reply;
      const segments = buildSegments(ep, parsed.segments).map((s, i) => ({ ...s, plan: parsed.segments[i]!.plan.trim() }));
      return {
        schema: ANNOTATION_SCHEMA,
        key: annotationKey(ep.metadata.episodeId, identity),
        episode: { source: ep.metadata.source, episodeId: ep.metadata.episodeId, index, steps: T },
        instruction: ep.instruction,
        annotator: identity,
        status: 'ok',
        subtasks: parsed.subtasks.map((s) => s.trim()),
        segments,
      };
    },
  };
}
