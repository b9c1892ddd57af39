// The `rules` annotator: subtasks from the instruction grammar, segments from gripper events and
// motion, and per segment the motion plan and the action chunk computed from the trajectory.
import { chunkTrajectory, motionPlan } from '../actions/index.ts';
import type { Episode } from '../data/episode.ts';
import { parseInstruction } from './instruction.ts';
import { segmentTrajectory } from './segment.ts';
import { ANNOTATION_SCHEMA, annotationKey } from './schema.ts';
import type { AnnotationRecord, AnnotatorIdentity, Segment } from './schema.ts';

export interface Annotator {
  identity: AnnotatorIdentity;
  annotate(ep: Episode, index: number): Promise<AnnotationRecord>;
}

/** Chunks, plans and packs segments given their spans (shared by every annotator: the action
 *  chunk always comes from the trajectory, never from a model's text). */
export function buildSegments(ep: Episode, spans: readonly { start: number; end: number; subtask: number }[]): Segment[] {
  const actions = ep.steps.map((s) => s.action);
  return spans.map((span) => {
    const chunk = chunkTrajectory(actions.slice(span.start, span.end)).map((e) => ({
      ...e,
      start: e.start + span.start,
      end: e.end + span.start,
    }));
    return { start: span.start, end: span.end, subtask: span.subtask, plan: motionPlan(chunk), chunk };
  });
}

export const RULES_IDENTITY: AnnotatorIdentity = { name: 'rules', version: '1', promptVersion: 'none' };

export const rulesAnnotator: Annotator = {
  identity: RULES_IDENTITY,
  async annotate(ep, index) {
    const parsed = parseInstruction(ep.instruction);
    const spans = segmentTrajectory(
      ep.steps.map((s) => s.action),
      parsed.subtasks,
    );
    return {
      schema: ANNOTATION_SCHEMA,
      key: annotationKey(ep.metadata.episodeId, RULES_IDENTITY),
      episode: { source: ep.metadata.source, episodeId: ep.metadata.episodeId, index, steps: ep.steps.length },
      instruction: ep.instruction,
      annotator: RULES_IDENTITY,
      status: 'ok',
      subtasks: parsed.subtasks.map((s) => s.text),
      segments: buildSegments(ep, spans),
    };
  },
};
