// The annotation record (JSONL, one episode per line): the three language levels of VLM2VLA for
// one episode — the subtask list, and per executed segment its subtask, motion plan and action
// chunk — with the annotator's identity. Validated field by field at every boundary.
import { FormatError } from '../errors/index.ts';
import type { ChunkElement } from '../actions/index.ts';

export const ANNOTATION_SCHEMA = 'vlm2vla.annotation/1';

/** A chunk element as stored: cm / degrees, gripper 0|1, steps [start, end) of the episode. */
export type AnnotatedElement = ChunkElement;

export interface Segment {
  /** Steps [start, end) of the episode. */
  start: number;
  end: number;
  /** Index into `subtasks`. */
  subtask: number;
  plan: string;
  chunk: AnnotatedElement[];
}

export interface AnnotatorIdentity {
  name: string;
  version: string;
  promptVersion: string;
  model?: string;
}

export interface AnnotationRecord {
  schema: typeof ANNOTATION_SCHEMA;
  /** Idempotency key: episode identity + annotator identity. */
  key: string;
  episode: { source: string; episodeId: string; index: number; steps: number };
  instruction: string;
  annotator: AnnotatorIdentity;
  status: 'ok' | 'failed';
  reason?: string;
  subtasks: string[];
  segments: Segment[];
}

export function annotationKey(episodeId: string, annotator: AnnotatorIdentity): string {
  return `${episodeId}|${annotator.name}@${annotator.version}|${annotator.promptVersion}${annotator.model ? `|${annotator.model}` : ''}`;
}

/** Checks a parsed record; `where` (file:line) is named in errors. */
export function validateAnnotation(value: unknown, where: string): AnnotationRecord {
  const fail = (field: string, message: string): never => {
    throw new FormatError('E_ANNOTATION', `${where}: ${field}: ${message}`, {
      file: where,
      field,
      fix: 'the annotation file is damaged or from another tool; re-run `vlm2vla annotate`',
    });
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('', 'not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.schema !== ANNOTATION_SCHEMA) fail('schema', `is ${JSON.stringify(r.schema)}, expected ${ANNOTATION_SCHEMA}`);
  if (typeof r.key !== 'string' || r.key === '') fail('key', 'must be a non-empty string');
  const ep = r.episode as Record<string, unknown> | undefined;
  if (
    !ep ||
    typeof ep.episodeId !== 'string' ||
    typeof ep.source !== 'string' ||
    !Number.isInteger(ep.index) ||
    !Number.isInteger(ep.steps) ||
    (ep.steps as number) < 1
  ) {
    fail('episode', 'needs source, episodeId (strings), index and steps (integers, steps >= 1)');
  }
  const steps = (ep as { steps: number }).steps;
  if (typeof r.instruction !== 'string') fail('instruction', 'must be a string');
  const a = r.annotator as Record<string, unknown> | undefined;
  if (!a || typeof a.name !== 'string' || typeof a.version !== 'string' || typeof a.promptVersion !== 'string')
    fail('annotator', 'needs name, version and promptVersion strings');
  if (r.status !== 'ok' && r.status !== 'failed') fail('status', 'must be "ok" or "failed"');
  if (r.status === 'failed') {
    if (typeof r.reason !== 'string' || r.reason === '') fail('reason', 'a failed record needs a reason');
    return r as unknown as AnnotationRecord;
  }
  if (!Array.isArray(r.subtasks) || r.subtasks.length === 0 || r.subtasks.some((s) => typeof s !== 'string' || s.trim() === ''))
    fail('subtasks', 'must be a non-empty list of non-empty strings');
  if (!Array.isArray(r.segments) || r.segments.length === 0) fail('segments', 'must be a non-empty list');
  let cursor = 0;
  let lastSubtask = -1;
  (r.segments as unknown[]).forEach((s, i) => {
    const seg = s as Record<string, unknown>;
    const f = `segments[${i}]`;
    if (seg.start !== cursor) fail(`${f}.start`, `is ${String(seg.start)}, expected ${cursor} (segments must tile the episode)`);
    if (!Number.isInteger(seg.end) || (seg.end as number) <= cursor || (seg.end as number) > steps)
      fail(`${f}.end`, `is ${String(seg.end)}, expected an integer in (${cursor}, ${steps}]`);
    if (
      !Number.isInteger(seg.subtask) ||
      (seg.subtask as number) <= lastSubtask ||
      (seg.subtask as number) >= (r.subtasks as string[]).length
    ) {
      fail(`${f}.subtask`, `is ${String(seg.subtask)}, expected an increasing index into subtasks`);
    }
    if (typeof seg.plan !== 'string' || seg.plan === '') fail(`${f}.plan`, 'must be a non-empty string');
    if (!Array.isArray(seg.chunk) || seg.chunk.length === 0) fail(`${f}.chunk`, 'must be a non-empty list');
    let c = seg.start as number;
    (seg.chunk as Record<string, unknown>[]).forEach((e, j) => {
      for (const k of ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw'])
        if (typeof e[k] !== 'number' || !Number.isFinite(e[k])) fail(`${f}.chunk[${j}].${k}`, 'must be a finite number');
      if (e.gripper !== 0 && e.gripper !== 1) fail(`${f}.chunk[${j}].gripper`, 'must be 0 or 1');
      if (e.start !== c || !Number.isInteger(e.end) || (e.end as number) <= c || (e.end as number) > (seg.end as number))
        fail(`${f}.chunk[${j}]`, 'elements must tile the segment');
      c = e.end as number;
    });
    if (c !== seg.end) fail(`${f}.chunk`, 'elements must cover the whole segment');
    cursor = seg.end as number;
    lastSubtask = seg.subtask as number;
  });
  if (cursor !== steps) fail('segments', `cover ${cursor} of ${steps} steps`);
  return r as unknown as AnnotationRecord;
}
