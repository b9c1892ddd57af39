// The rules annotator on 200 simulated episodes (50 per task family): every annotation is valid,
// the subtask texts equal the ground truth, and ≥ 95% of segment boundaries are within 2 steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/index.ts';
import { sampleTask, TASK_FAMILIES, runExpert } from '../sim/index.ts';
import { rulesAnnotator, validateAnnotation } from './index.ts';

test('rules annotations of 200 sim episodes: valid, texts right, boundaries within 2 steps in ≥ 95% of segments', async () => {
  let segments = 0;
  let within = 0;
  let texts = 0;
  for (let i = 0; i < 200; i++) {
    const rng = new Rng(5000 + i);
    const { episode } = runExpert(sampleTask(TASK_FAMILIES[i % 4]!, rng), rng, { episodeId: `sim-${i}` });
    const ann = validateAnnotation(JSON.parse(JSON.stringify(await rulesAnnotator.annotate(episode, i))), `episode ${i}`);
    const gt = episode.groundTruth!.subtasks;
    if (JSON.stringify(ann.subtasks) === JSON.stringify(gt.map((s) => s.text))) texts++;
    gt.forEach((g, k) => {
      segments++;
      const seg = ann.segments.find((s) => s.subtask === k);
      if (seg && Math.abs(seg.start - g.start) <= 2 && Math.abs(seg.end - g.end) <= 2) within++;
    });
  }
  assert.equal(texts, 200, `subtask texts right in ${texts}/200 episodes`);
  assert.ok(within / segments >= 0.95, `${within}/${segments} segments within 2 steps`);
});
