// The pretraining corpus: a pure function of (seed, index); every catalogue object appears (held-out
// ones included); questions of each language are in that language; the held-out VQA set is balanced,
// answerable and drawn from scenes the training stream does not produce; answers normalise as stated.
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE, getObject } from '../sim/index.ts';
import {
  DEFAULT_CORPUS_MIX,
  article,
  checkCorpusMix,
  conversationMessages,
  corpusConversation,
  heldOutVqa,
  normaliseAnswer,
  renderScene,
  corpusTexts,
  tableLocation,
} from './corpus.ts';
import { VQA_CATEGORIES } from './conversation.ts';
import type { VqaCategory } from './conversation.ts';
import { isVlmError } from '../errors/index.ts';

const sceneKey = (s: { placements: { id: string; x: number; y: number }[] } | null) =>
  s ? s.placements.map((p) => `${p.id}@${p.x.toFixed(6)},${p.y.toFixed(6)}`).join(';') : 'text';

test('a conversation is a pure function of (seed, index)', () => {
  for (const i of [0, 1, 17, 123_456]) assert.deepEqual(corpusConversation(3, i), corpusConversation(3, i));
  const keys = new Set(Array.from({ length: 200 }, (_, i) => JSON.stringify(corpusConversation(3, i))));
  assert.ok(keys.size > 195, `only ${keys.size} distinct conversations of 200`);
  assert.notDeepEqual(corpusConversation(3, 5), corpusConversation(4, 5));
});

test('the corpus mixes scene and text conversations and covers every object, held-out ones included', () => {
  const seen = new Set<string>();
  let text = 0;
  let foreign = 0;
  let questions = 0;
  let translations = 0;
  for (let i = 0; i < 2000; i++) {
    const c = corpusConversation(0, i);
    if (!c.scene) text++;
    for (const p of c.scene?.placements ?? []) seen.add(p.id);
    for (const q of c.qa) {
      questions++;
      if (q.language !== 'en') foreign++;
      if (q.kind === 'translation') {
        translations++;
        assert.match(q.question, /^Translate into (English|Spanish|French|German|Chinese): /);
      }
      assert.ok(q.question.length > 0 && q.answer.length > 0, JSON.stringify(q));
      for (const o of CATALOGUE) if (q.question.includes(o.names.en)) seen.add(o.id);
    }
  }
  assert.deepEqual([...seen].sort(), CATALOGUE.map((o) => o.id).sort());
  assert.ok(CATALOGUE.some((o) => o.heldOut));
  assert.ok(text > 350 && text < 650, `${text} text-only conversations of 2000`);
  assert.ok(foreign / questions > 0.15, `foreign share ${foreign / questions}`);
  assert.ok(translations > 150, `${translations} instruction translations`);
});

test('a corpus mix sets the share of text conversations, the questions per scene, their kinds and the objects per scene', () => {
  const mix = {
    ...DEFAULT_CORPUS_MIX,
    textShare: 0,
    questionsPerScene: 7,
    foreignShare: 0,
    positionShare: 0,
    captionShare: 1,
    maxObjects: 1,
  };
  for (let i = 0; i < 300; i++) {
    const c = corpusConversation(0, i, mix);
    assert.ok(c.scene, `conversation ${i} has no scene`);
    assert.equal(c.scene.placements.length, 1);
    assert.equal(c.qa.length, 7);
    for (const q of c.qa) assert.equal(q.kind, 'caption');
  }
  const all = { ...DEFAULT_CORPUS_MIX, textShare: 1 };
  for (let i = 0; i < 50; i++) assert.equal(corpusConversation(0, i, all).scene, null);
  // The default mix is the one used when none is given.
  for (let i = 0; i < 50; i++) assert.deepEqual(corpusConversation(0, i, DEFAULT_CORPUS_MIX), corpusConversation(0, i));
  const bad: [Partial<typeof mix>, RegExp][] = [
    [{ textShare: 1.5 }, /textShare must be between 0 and 1/],
    [{ captionShare: -0.1 }, /captionShare/],
    [{ foreignShare: 0.6, positionShare: 0.3, captionShare: 0.3 }, /at most 1/],
    [{ locationShare: 1.2 }, /locationShare must be between 0 and 1/],
    [{ foreignShare: 0.5, positionShare: 0, captionShare: 0.3, locationShare: 0.3 }, /at most 1/],
    [{ groundingShare: -0.2 }, /groundingShare must be between 0 and 1/],
    [{ foreignShare: 0.3, positionShare: 0, captionShare: 0.3, locationShare: 0.2, groundingShare: 0.3 }, /at most 1/],
    [{ questionsPerScene: 0 }, /questionsPerScene must be a positive integer/],
    [{ maxObjects: 6 }, /maxObjects must be an integer from 1 to 5/],
  ];
  for (const [patch, re] of bad)
    assert.throws(
      () => checkCorpusMix({ ...DEFAULT_CORPUS_MIX, ...patch }),
      (e: unknown) => isVlmError(e) && re.test((e as Error).message),
      JSON.stringify(patch),
    );
  checkCorpusMix(DEFAULT_CORPUS_MIX);
});

test('location questions name where on the table an object stands, and none sits near a border', () => {
  const mix = {
    ...DEFAULT_CORPUS_MIX,
    textShare: 0,
    questionsPerScene: 5,
    foreignShare: 0,
    positionShare: 0,
    captionShare: 0,
    locationShare: 1,
  };
  const seen = new Set<string>();
  let asked = 0;
  for (let i = 0; i < 200; i++) {
    const c = corpusConversation(0, i, mix);
    for (const q of c.qa) {
      if (q.kind !== 'location') continue; // a scene whose objects all sit on borders falls back to counting
      asked++;
      const name = /^Where on the table is the (.+)\?$/.exec(q.question)![1]!;
      const p = c.scene!.placements.find((x) => getObject(x.id).names.en === name)!;
      const [fb, side] = q.answer.split(' ');
      assert.equal(fb, p.x < 0.35 ? 'front' : 'back');
      assert.equal(side, p.y > 0.07 ? 'left' : p.y < -0.07 ? 'right' : 'middle');
      assert.ok(Math.abs(p.x - 0.35) >= 0.015 && Math.abs(Math.abs(p.y) - 0.07) >= 0.015, q.answer);
      seen.add(q.answer);
    }
  }
  assert.ok(asked > 900, `${asked} location questions of 1000`);
  assert.equal(seen.size, 6, [...seen].join(', '));
  assert.equal(tableLocation({ x: 0.3, y: 0.071 }), null);
  assert.equal(tableLocation({ x: 0.45, y: 0 }), 'back middle');
});

test('chat messages alternate user/assistant with the image in the first user turn', () => {
  const c = Array.from({ length: 20 }, (_, i) => corpusConversation(0, i)).find((x) => x.scene)!;
  const m = conversationMessages(c);
  assert.equal(m.length, c.qa.length * 2);
  m.forEach((x, k) => assert.equal(x.role, k % 2 === 0 ? 'user' : 'assistant'));
  const images = m.flatMap((x) => (Array.isArray(x.content) ? x.content : [])).filter((p) => p.type === 'image').length;
  assert.equal(images, 1);
  assert.equal((m[0]!.content as { type: string }[])[0]!.type, 'image');
  const img = renderScene(c.scene!, 48);
  assert.equal(img.rgb.length, 48 * 48 * 3);
});

test('the held-out VQA set: balanced, deterministic, in the right language, from unseen scenes', () => {
  const items = heldOutVqa(2026, 30);
  assert.equal(items.length, 30 * VQA_CATEGORIES.length);
  for (const c of VQA_CATEGORIES) assert.equal(items.filter((x) => x.category === c).length, 30);
  assert.deepEqual(heldOutVqa(2026, 30), items);
  for (const x of items) {
    if (x.category === 'knowledge' || x.category === 'lists' || x.category === 'json') assert.equal(x.scene, null);
    else assert.ok(x.scene && x.scene.placements.length >= 1, x.question);
    if (x.category === 'spatial') assert.match(x.answer, /^(left|right|in front|behind)$/);
    if (x.category === 'counting' || x.question.includes('How many')) assert.match(x.answer, /^\d$/);
  }
  // Chinese questions are in Chinese script; the other languages' questions are not English.
  for (const x of items.filter((i) => i.category === 'zh')) assert.match(x.question, /[\u4e00-\u9fff]/u);
  for (const x of items.filter((i) => i.category === 'es')) assert.match(x.question, /¿/);
  for (const x of items.filter((i) => i.category === 'de' || i.category === 'fr')) assert.doesNotMatch(x.question, /^(What|Which|How|Is) /);
  // No held-out scene is a training scene.
  const train = new Set(Array.from({ length: 5000 }, (_, i) => sceneKey(corpusConversation(0, i).scene)));
  for (const x of items) if (x.scene) assert.ok(!train.has(sceneKey(x.scene)), x.question);
});

test('answers normalise: case, width, spaces and surrounding punctuation', () => {
  assert.equal(normaliseAnswer('  Blue. '), 'blue');
  assert.equal(normaliseAnswer('"In  front"'), 'in front');
  assert.equal(normaliseAnswer('红色。'), '红色');
  assert.equal(normaliseAnswer('ＡＢＣ'), 'abc');
  assert.notEqual(normaliseAnswer('left'), normaliseAnswer('right'));
  assert.equal(article('apple'), 'an');
  assert.equal(article('carrot'), 'a');
  assert.equal(article('utensil'), 'a');
  assert.equal(article('orange'), 'an');
  for (const t of corpusTexts(0, 300)) assert.doesNotMatch(t, /\ba (?!uten)[aeiou]/i, t);
});

test('grounding questions name an object the model must find: "Is there", left/right, front/behind, with true answers', () => {
  const mix = {
    ...DEFAULT_CORPUS_MIX,
    textShare: 0,
    questionsPerScene: 5,
    foreignShare: 0,
    positionShare: 0,
    captionShare: 0,
    groundingShare: 1,
    maxObjects: 2,
  };
  const forms = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const c = corpusConversation(0, i, mix);
    assert.ok(c.scene!.placements.length <= 2);
    const at = (name: string) => c.scene!.placements.find((x) => getObject(x.id).names.en === name);
    for (const q of c.qa) {
      let m: RegExpExecArray | null;
      if ((m = /^Is there an? (.+) on the table\?$/.exec(q.question))) {
        assert.equal(q.answer, at(m[1]!) ? 'yes' : 'no');
        forms.set(`exists ${q.answer}`, (forms.get(`exists ${q.answer}`) ?? 0) + 1);
      } else if ((m = /^Is the (.+) left or right of the (.+)\?$/.exec(q.question))) {
        assert.equal(q.answer, at(m[1]!)!.y > at(m[2]!)!.y ? 'left' : 'right');
        forms.set('left/right', (forms.get('left/right') ?? 0) + 1);
      } else if ((m = /^Is the (.+) in front of or behind the (.+)\?$/.exec(q.question))) {
        assert.equal(q.answer, at(m[1]!)!.x < at(m[2]!)!.x ? 'in front' : 'behind');
        forms.set('front/behind', (forms.get('front/behind') ?? 0) + 1);
      } else assert.equal(q.kind, 'counting', `${q.question} (only one-object scenes fall back to counting)`);
    }
  }
  for (const f of ['exists yes', 'exists no', 'left/right', 'front/behind']) assert.ok((forms.get(f) ?? 0) > 60, `${f}: ${forms.get(f)}`);
  // Without the field the mix draws exactly as before (the committed base preset's corpus is unchanged).
  const base = { ...DEFAULT_CORPUS_MIX, locationShare: 0.1 };
  for (let i = 0; i < 50; i++) assert.deepEqual(corpusConversation(3, i, { ...base, groundingShare: 0 }), corpusConversation(3, i, base));
});

test('questions that name objects on the table say which, in the order they name them', () => {
  const mix = { ...DEFAULT_CORPUS_MIX, textShare: 0, groundingShare: 0.4, locationShare: 0.1 };
  const counts = { one: 0, two: 0 };
  for (let i = 0; i < 400; i++) {
    const conv = corpusConversation(3, i, mix);
    for (const q of conv.qa) {
      if (!q.refs) continue;
      const names = q.refs.map((r) => {
        const p = conv.scene!.placements[r];
        assert.ok(p, `${q.question}: ref ${r} is on the table`);
        return CATALOGUE.find((o) => o.id === p.id)!.names[q.language];
      });
      const where = names.map((n) => q.question.indexOf(n));
      assert.ok(
        where.every((w) => w >= 0),
        `${q.question} names ${names.join(', ')}`,
      );
      if (where.length === 2) assert.ok(where[0]! < where[1]!, `${q.question}: in the order it names them`);
      counts[names.length === 1 ? 'one' : 'two']++;
    }
    for (const q of conv.qa) {
      if (/^Is the .* (left or right of|in front of or behind) the /.test(q.question)) assert.equal(q.refs?.length, 2, q.question);
      if (/^Is there .* on the table\?$/.test(q.question))
        assert.equal(q.refs !== undefined, q.answer === 'yes', `${q.question} ${q.answer}`);
    }
  }
  assert.ok(counts.one > 100 && counts.two > 50, JSON.stringify(counts));
});

test('the categories that existed before the list categories ask exactly what they asked (seed 2026)', () => {
  const old: readonly VqaCategory[] = VQA_CATEGORIES.filter((c) => c !== 'lists' && c !== 'json');
  const sha = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');
  // The hash of heldOutVqa(2026, 100) before `lists` and `json` were added (models/base was scored on it).
  const before = '9776304b341c3308800c893cb0812066ab9c27e1195d56d00c887fa67b7ba5f9';
  assert.equal(sha(heldOutVqa(2026, 100, old)), before);
  assert.equal(sha(heldOutVqa(2026, 100).filter((x) => old.includes(x.category))), before);
  assert.deepEqual(
    heldOutVqa(2026, 3, ['json']),
    heldOutVqa(2026, 3).filter((x) => x.category === 'json'),
  );
});

test('number and list questions come only with their shares, and a share of 0 changes no conversation', () => {
  const base = {
    textShare: 0.17,
    questionsPerScene: 6,
    foreignShare: 0.3,
    positionShare: 0.04,
    captionShare: 0.12,
    locationShare: 0.1,
    groundingShare: 0.15,
  };
  for (let i = 0; i < 100; i++)
    assert.deepEqual(corpusConversation(3, i, { ...base, listShare: 0, numberShare: 0 }), corpusConversation(3, i, base));
  const kinds = new Map<string, number>();
  const mix = { ...base, textShare: 0.5, listShare: 0.2, numberShare: 0.5 };
  checkCorpusMix(mix);
  for (let i = 0; i < 800; i++) {
    const c = corpusConversation(3, i, mix);
    if (!c.scene && ['lists', 'json', 'displacement', 'motion', 'arithmetic'].includes(c.qa[0]!.kind)) assert.equal(c.qa.length, 3);
    for (const q of c.qa) kinds.set(`${q.kind}${c.scene ? ' scene' : ''}`, (kinds.get(`${q.kind}${c.scene ? ' scene' : ''}`) ?? 0) + 1);
  }
  for (const k of ['lists', 'json', 'displacement', 'motion', 'arithmetic', 'lists scene', 'json scene', 'knowledge'])
    assert.ok((kinds.get(k) ?? 0) > 20, `${k}: ${kinds.get(k)}`);
  for (let i = 0; i < 400; i++)
    for (const q of corpusConversation(3, i, base).qa)
      assert.ok(!['lists', 'json', 'displacement', 'motion', 'arithmetic'].includes(q.kind), q.question);
  assert.throws(
    () => checkCorpusMix({ ...base, listShare: 0.5 }),
    (e: unknown) => isVlmError(e) && /listShare must be at most 1/.test((e as Error).message),
  );
  assert.throws(
    () => checkCorpusMix({ ...base, numberShare: 2 }),
    (e: unknown) => isVlmError(e) && /numberShare must be between 0 and 1/.test((e as Error).message),
  );
});
