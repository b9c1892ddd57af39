// Annotation audit: on episodes with ground truth (sim), subtask text correctness and boundary
// errors in steps; on any data, whether each motion plan states the directions the gripper really
// moved (in at least one phase), and how far the decoded action chunk (list style, as printed) lands
// from the real motion.
import { getCodec, planDirections, sumElements, MAX_ELEMENTS } from '../actions/index.ts';
import type { Episode } from '../data/episode.ts';
import type { AnnotationRecord } from './schema.ts';

export interface AuditReport {
  episodes: number;
  annotated: number;
  failed: number;
  groundTruth: { episodes: number; textsCorrect: number; segments: number; boundaryErrorMean: number; within2: number } | null;
  plans: { segments: number; unparseable: number; axes: number; agree: number };
  chunks: { segments: number; meanErrorCm: number; maxErrorCm: number };
}

export function auditAnnotations(pairs: Iterable<{ episode: Episode; annotation: AnnotationRecord | null }>, minAxisCm = 1): AuditReport {
  const codec = getCodec('list');
  const r: AuditReport = {
    episodes: 0,
    annotated: 0,
    failed: 0,
    groundTruth: null,
    plans: { segments: 0, unparseable: 0, axes: 0, agree: 0 },
    chunks: { segments: 0, meanErrorCm: 0, maxErrorCm: 0 },
  };
  let gtEpisodes = 0;
  let gtTexts = 0;
  let gtSegments = 0;
  let gtErr = 0;
  let gtWithin = 0;
  let chunkErr = 0;
  for (const { episode, annotation } of pairs) {
    r.episodes++;
    if (!annotation) continue;
    if (annotation.status !== 'ok') {
      r.failed++;
      continue;
    }
    r.annotated++;
    const gt = episode.groundTruth?.subtasks;
    if (gt) {
      gtEpisodes++;
      if (JSON.stringify(gt.map((s) => s.text)) === JSON.stringify(annotation.subtasks)) gtTexts++;
      gt.forEach((g, k) => {
        gtSegments++;
        const seg = annotation.segments.find((s) => s.subtask === k);
        const err = seg ? Math.max(Math.abs(seg.start - g.start), Math.abs(seg.end - g.end)) : episode.steps.length;
        gtErr += err;
        if (err <= 2) gtWithin++;
      });
    }
    for (const seg of annotation.segments) {
      const real = { dx: 0, dy: 0, dz: 0 };
      for (let t = seg.start; t < seg.end; t++) {
        const a = episode.steps[t]!.action;
        real.dx += a[0]! * 100;
        real.dy += a[1]! * 100;
        real.dz += a[2]! * 100;
      }
      r.plans.segments++;
      const phases = planDirections(seg.plan);
      if (!phases) r.plans.unparseable++;
      else {
        for (const [axis, v] of [
          ['x', real.dx],
          ['y', real.dy],
          ['z', real.dz],
        ] as const) {
          if (Math.abs(v) < minAxisCm) continue;
          r.plans.axes++;
          // The plan states the net direction of this axis in at least one of its phases.
          if (phases.some((p) => p[axis] === Math.sign(v))) r.plans.agree++;
        }
      }
      // Decode what the text would say, in pieces a chunk can hold.
      const decodedAll = [];
      let readable = true;
      for (let i = 0; i < seg.chunk.length; i += MAX_ELEMENTS) {
        const d = codec.decode(codec.encode(seg.chunk.slice(i, i + MAX_ELEMENTS)));
        if (!d.ok) readable = false;
        else decodedAll.push(...d.value);
      }
      if (readable) {
        const s = sumElements(decodedAll);
        const e = Math.hypot(s.dx - real.dx, s.dy - real.dy, s.dz - real.dz);
        chunkErr += e;
        r.chunks.maxErrorCm = Math.max(r.chunks.maxErrorCm, e);
        r.chunks.segments++;
      }
    }
  }
  if (gtEpisodes > 0)
    r.groundTruth = {
      episodes: gtEpisodes,
      textsCorrect: gtTexts,
      segments: gtSegments,
      boundaryErrorMean: gtErr / gtSegments,
      within2: gtWithin,
    };
  r.chunks.meanErrorCm = r.chunks.segments > 0 ? chunkErr / r.chunks.segments : 0;
  return r;
}
