// Tests of episode state over one shared policy: a client's episode restarts on a new prompt, on an
// explicit reset, and after another client's episode ran; a failed reset is retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpisodeSwitch } from './episodes.ts';
import { EchoPolicy } from './testing.ts';
import type { Observation } from '../policy/types.ts';

const obs = (instruction: string): Observation => ({ image: { width: 1, height: 1, rgb: new Uint8Array(3) }, state: new Float32Array(7), instruction });

test('episodes restart on a new prompt, on reset, and after another episode ran', async () => {
  const policy = new EchoPolicy();
  const sw = new EpisodeSwitch(policy);
  const a = EpisodeSwitch.newEpisode();
  const b = EpisodeSwitch.newEpisode();
  const cycle = async (e: typeof a, text: string, reset = false) => (await sw.infer(e, obs(text), reset)).text?.subtask;
  assert.equal(await cycle(a, 'pick'), 'cycle 1');
  assert.equal(await cycle(a, 'pick'), 'cycle 2');
  assert.equal(await cycle(a, 'place'), 'cycle 1');
  assert.equal(await cycle(a, 'place', true), 'cycle 1');
  EpisodeSwitch.reset(a);
  assert.equal(await cycle(a, 'place'), 'cycle 1');
  assert.equal(await cycle(b, 'stack'), 'cycle 1');
  assert.equal(await cycle(a, 'place'), 'cycle 1', 'b ran in between');
  sw.forget(a);
  assert.equal(await cycle(a, 'place'), 'cycle 1', 'a forgotten episode starts again');
  assert.deepEqual(policy.resets, ['pick', 'place', 'place', 'place', 'stack', 'place', 'place']);
});

test('a reset that fails is tried again at the next observation', async () => {
  const policy = new EchoPolicy();
  let fail = true;
  const reset = policy.reset.bind(policy);
  policy.reset = async (instruction: string) => {
    if (fail) throw new Error('reset failed');
    return reset(instruction);
  };
  const sw = new EpisodeSwitch(policy);
  const a = EpisodeSwitch.newEpisode();
  await assert.rejects(sw.infer(a, obs('pick'), false), /reset failed/);
  fail = false;
  assert.equal((await sw.infer(a, obs('pick'), false)).text?.subtask, 'cycle 1');
  assert.deepEqual(policy.resets, ['pick']);
});
