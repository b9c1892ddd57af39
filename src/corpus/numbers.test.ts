// The number language of the corpus: lists say what their phrases say, in the action list style's
// number format; motions read back as plans with the right directions; JSON answers are string lists
// that follow from the question; arithmetic is right; and no robot prompt or robot data leaks in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDirections } from '../actions/index.ts';
import { CATALOGUE } from '../sim/index.ts';
import { Rng } from '../util/index.ts';
import { corpusConversation } from './corpus.ts';
import type { QA } from './conversation.ts';
import { JSON_LISTS, LISTS, NUMBER_TEXT, displacementPhrase, listText, motionWords } from './numbers.ts';

/** [forward, left, up] of a phrase such as "4.2 cm forward, 1.0 cm right and 3.0 cm up". */
function phraseVector(phrase: string): number[] {
  const v = [0, 0, 0];
  for (const m of phrase.matchAll(/(\d+\.\d) cm (forward|backward|left|right|up|down)/g)) {
    const [axis, sign] = { forward: [0, 1], backward: [0, -1], left: [1, 1], right: [1, -1], up: [2, 1], down: [2, -1] }[m[2] as 'up']!;
    v[axis!] = sign! * Number(m[1]);
  }
  return v;
}

const numberQuestions = (n: number): QA[] => {
  const out: QA[] = [];
  for (let i = 0; out.length < n; i++)
    out.push(
      ...corpusConversation(7, i, {
        textShare: 1,
        questionsPerScene: 1,
        foreignShare: 0,
        positionShare: 0,
        captionShare: 0,
        numberShare: 1,
      }).qa,
    );
  return out;
};

test('phrases and lists: one decimal, signs by axis, zero axes left out of the phrase', () => {
  assert.equal(displacementPhrase([42, -10, 30]), '4.2 cm forward, 1.0 cm right and 3.0 cm up');
  assert.equal(displacementPhrase([0, 0, -15]), '1.5 cm down');
  assert.equal(displacementPhrase([-5, 0, 7]), '0.5 cm backward and 0.7 cm up');
  assert.equal(listText([42, -10, 0]), '[4.2, -1.0, 0.0]');
  assert.equal(
    motionWords([
      [0, 0, 47],
      [129, 0, 60],
    ]),
    'move up, then far forward and up',
  );
  assert.equal(motionWords([[3, 2, 0]]), 'stay in place');
});

test('every list answer states the numbers of its phrase, written as the list action style writes them', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 300; i++) {
    const q = LISTS[i % LISTS.length]!(rng)!;
    const lists = JSON.parse(q.answer) as number[] | number[][];
    for (const n of q.answer.match(/-?[\d.]+/g)!) assert.match(n, /^-?\d+\.\d$/, q.answer);
    const phrases = q.question.replace(/^The \S+( \S+)? moves /, '').split(', then ');
    if (Array.isArray(lists[0])) {
      assert.equal(lists.length, phrases.length, q.question);
      (lists as number[][]).forEach((v, k) => assert.deepEqual(v, phraseVector(phrases[k]!), q.question));
    } else assert.deepEqual(lists, phraseVector(q.question), q.question);
  }
});

test("motion answers read back as plans whose directions are the moves' significant axes", () => {
  let checked = 0;
  for (const q of numberQuestions(1500)) {
    if (q.kind !== 'motion') continue;
    const phases = planDirections(q.answer);
    assert.ok(phases, `${q.answer} is not a plan`);
    const single = /moves ([^,]+(?:, [^,]+)*?)\. Which way/.exec(q.question);
    if (single && !single[1]!.includes(', then ')) {
      const v = phraseVector(single[1]!);
      const want = v.map((x) => (Math.abs(x) >= 0.75 ? Math.sign(x) : 0));
      assert.deepEqual([phases[0]!.x, phases[0]!.y, phases[0]!.z], want, `${q.question} → ${q.answer}`);
      checked++;
    }
  }
  assert.ok(checked > 30, `${checked} single moves checked`);
});

test('JSON answers are lists of strings that follow from the question', () => {
  const rng = new Rng(2);
  const names = new Map(CATALOGUE.map((o) => [o.names.en, o]));
  for (let i = 0; i < 300; i++) {
    const q = JSON_LISTS[i % JSON_LISTS.length]!(rng);
    if (!q) continue;
    const list = JSON.parse(q.answer) as unknown[];
    assert.ok(Array.isArray(list) && list.every((s) => typeof s === 'string'), q.answer);
    let m: RegExpExecArray | null;
    if ((m = /^Which of these are (\w+): (.+)\? Answer/.exec(q.question))) {
      const asked = m[2]!.split(/, | and /);
      const want = asked.filter((n) => `${names.get(n)!.category}s` === m![1]);
      assert.deepEqual(list, want, q.question);
    } else if (/^Write /.test(q.question)) assert.ok(list.length >= 2 && list.length <= 3, q.question);
    else {
      assert.equal(list.length, q.question.split(/, then |, and finally /).length, q.question);
      for (const s of list as string[]) assert.ok(q.question.includes(s.split(' the ')[1]!.split(' ')[0]!), `${s} in ${q.question}`);
    }
  }
});

test('arithmetic answers are right', () => {
  let checked = 0;
  for (const q of numberQuestions(3000)) {
    if (q.kind !== 'arithmetic') continue;
    let m: RegExpExecArray | null;
    if ((m = /^What is (\S+) (plus|minus) (\S+)\?$/.exec(q.question)))
      assert.equal(Number(q.answer), Math.round((Number(m[1]) + (m[2] === 'plus' ? 1 : -1) * Number(m[3])) * 10) / 10, q.question);
    else if ((m = /^What is the sum of (\[.+\])\?$/.exec(q.question)))
      assert.equal(Number(q.answer), Math.round((JSON.parse(m[1]!) as number[]).reduce((a, b) => a + b, 0) * 10) / 10, q.question);
    else if ((m = /^How many cm are (\S+) m\?$/.exec(q.question)))
      assert.equal(Number(q.answer), Math.round(Number(m[1]) * 1000) / 10, q.question);
    else if ((m = /^Which is larger, (\S+) or (\S+)\?$/.exec(q.question)))
      assert.equal(Number(q.answer), Math.max(Number(m[1]), Number(m[2])), q.question);
    else if ((m = /by (\[[^\]]+\]) and then by (\[[^\]]+\])/.exec(q.question))) {
      const [p, r] = [JSON.parse(m[1]!) as number[], JSON.parse(m[2]!) as number[]];
      assert.deepEqual(
        JSON.parse(q.answer),
        p.map((x, k) => Math.round((x + r[k]!) * 10) / 10),
        q.question,
      );
    } else continue;
    checked++;
  }
  assert.ok(checked > 100, `${checked} checked`);
});

test('no robot prompt, robot episode or action chunk enters the number language', () => {
  const rng = new Rng(3);
  for (let i = 0; i < 2000; i++) {
    const q = rng.pick(NUMBER_TEXT)(rng);
    if (!q) continue;
    const text = `${q.question} ${q.answer}`;
    assert.doesNotMatch(text, /Task:|subtask|Motion plan|next actions|gripper|robot/i, text);
    // Lists of numbers have three per element, never the four or seven of an action chunk.
    for (const inner of text.match(/\[[^[\]"]*\]/g) ?? [])
      assert.ok(inner === '[forward, left, up]' || inner.split(',').length !== 4, inner);
  }
});
