// The audit counts what it claims: boundary errors against ground truth, plans that contradict the
// motion, and the chunk reconstruction error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/index.ts';
import { sampleTask, runExpert } from '../sim/index.ts';
import { rulesAnnotator, auditAnnotations } from './index.ts';

test('audit: perfect annotations score fully; shifted boundaries, wrong texts and wrong plans are caught', async () => {
  const rng = new Rng(77);
  const { episode } = runExpert(sampleTask('pick-place', rng), rng, { episodeId: 'a' });
  const good = await rulesAnnotator.annotate(episode, 0);
  const r = auditAnnotations([{ episode, annotation: good }]);
  assert.deepEqual([r.groundTruth!.textsCorrect, r.groundTruth!.within2, r.groundTruth!.segments], [1, 2, 2]);
  assert.equal(r.plans.agree, r.plans.axes);
  assert.ok(r.chunks.maxErrorCm <= 0.05 * good.segments.reduce((a, s) => Math.max(a, s.chunk.length), 0) * Math.sqrt(3) + 1e-9);

  const bad = JSON.parse(JSON.stringify(good));
  bad.subtasks[0] = 'wave at the camera';
  bad.segments[0].end -= 5;
  bad.segments[1].start -= 5;
  for (const s of bad.segments)
    s.plan = s.plan.replace(
      /\b(left|right|up|down|forward|backward)\b/g,
      (w: string) => ({ left: 'right', right: 'left', up: 'down', down: 'up', forward: 'backward', backward: 'forward' })[w]!,
    );
  const rb = auditAnnotations([
    { episode, annotation: bad },
    { episode, annotation: null },
  ]);
  assert.equal(rb.episodes, 2);
  assert.equal(rb.groundTruth!.textsCorrect, 0);
  assert.equal(rb.groundTruth!.within2, 0);
  assert.ok(rb.plans.agree < rb.plans.axes, 'reversed plans disagree with the motion');
});
