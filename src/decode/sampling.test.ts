// Tests of the samplers (distribution, truncation, determinism) and of stop-string matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleToken, argmax, StopMatcher, checkSampling, GREEDY } from './sampling.ts';
import { Rng } from '../util/index.ts';

test('greedy takes the argmax and skips masked entries', () => {
  const logits = new Float32Array([1, 5, -Infinity, 5, 2]);
  assert.equal(argmax(logits), 1);
  assert.equal(sampleToken(logits, GREEDY, new Rng(1)), 1);
  assert.throws(() => sampleToken(new Float32Array([-Infinity, -Infinity]), GREEDY, new Rng(1)));
});

test('temperature sampling follows softmax; top-k and top-p truncate; same seed, same tokens', () => {
  const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05), -Infinity]);
  const draw = (cfg: { temperature: number; topP: number; topK: number }, n: number, seed: number) => {
    const rng = new Rng(seed);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampleToken(logits, cfg, rng)]!++;
    return counts.map((c) => c / n);
  };
  const full = draw({ temperature: 1, topP: 1, topK: 0 }, 40_000, 1);
  [0.5, 0.3, 0.15, 0.05, 0].forEach((p, i) => assert.ok(Math.abs(full[i]! - p) < 0.01, `token ${i}: ${full[i]} vs ${p}`));
  const topK = draw({ temperature: 1, topP: 1, topK: 2 }, 20_000, 2);
  assert.ok(Math.abs(topK[0]! - 0.625) < 0.015 && topK[2] === 0 && topK[3] === 0);
  const topP = draw({ temperature: 1, topP: 0.8, topK: 0 }, 20_000, 3);
  assert.ok(topP[2] === 0 && topP[3] === 0, 'nucleus of 0.8 is the first two tokens');
  assert.deepEqual(draw({ temperature: 0.7, topP: 0.9, topK: 0 }, 500, 9), draw({ temperature: 0.7, topP: 0.9, topK: 0 }, 500, 9));
  assert.throws(() => checkSampling({ temperature: -1, topP: 1, topK: 0 }));
  assert.throws(() => checkSampling({ temperature: 1, topP: 0, topK: 0 }));
  assert.throws(() => checkSampling({ temperature: 1, topP: 1, topK: 1.5 }));
});

test('stop strings split across pieces are found; text that may start a stop string is held back', () => {
  const m = new StopMatcher(['<end_of_turn>', '\n\n']);
  assert.equal(m.push('[[1.0, 2'), null);
  assert.equal(m.safeText, '[[1.0, 2');
  assert.equal(m.push('.0]]<end_of'), null);
  assert.equal(m.safeText, '[[1.0, 2.0]]');
  assert.equal(m.push('_turn>trailing'), '[[1.0, 2.0]]');
  const n = new StopMatcher(['\n\n']);
  assert.equal(n.push('a\n'), null);
  assert.equal(n.safeText, 'a');
  assert.equal(n.push('\nb'), 'a');
});
