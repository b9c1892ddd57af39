// The BPE trainer's two options for the action language: required characters become ordinary tokens
// even when the texts never use them, and a vocabulary the texts cannot fill is padded with
// `<unusedN>` tokens that no text encodes to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from './tokenizer.ts';
import { trainBpe } from './bpe-trainer.ts';

const texts = Array.from({ length: 200 }, (_, i) => `the cup is ${i % 17} cm to the left of the bowl`);
const load = (t: ReturnType<typeof trainBpe>) =>
  new Tokenizer({ tokenizerJson: t.tokenizerJson, tokenizerConfig: t.tokenizerConfig, source: 'test' });

test('required characters are single ordinary tokens, not byte fallback', () => {
  const plain = load(trainBpe(texts, { vocabSize: 400 }));
  const listText = '[[4.2, -1.0, 3.0, 1]]; ["put up"]';
  const isByte = (tok: Tokenizer, id: number) => /^<0x[0-9A-F]{2}>$/.test(tok.idToToken(id)!);
  assert.ok(
    plain.encode(listText).some((id) => isByte(plain, id)),
    'without the option "[" and friends fall back to bytes',
  );
  const tok = load(trainBpe(texts, { vocabSize: 400, requiredCharacters: '[]",.;-' }));
  for (const ch of '[]",.;-') assert.notEqual(tok.tokenToId(ch), null, ch);
  const ids = tok.encode(listText);
  assert.ok(!ids.some((id) => isByte(tok, id)), ids.map((id) => tok.idToToken(id)).join(' '));
  assert.equal(tok.decode(ids), listText);
});

test('padding with unused tokens: the vocabulary has the size asked for and text never encodes to them', () => {
  const short = trainBpe(texts, { vocabSize: 5120 });
  const padded = trainBpe(texts, { vocabSize: 5120, padWithUnused: true });
  const a = load(short);
  const b = load(padded);
  assert.ok(a.vocabSize < 1000, `${a.vocabSize}: the texts support few merges`);
  assert.equal(b.vocabSize, 5120);
  assert.equal(b.idToToken(5119), `<unused${5119 - a.vocabSize}>`);
  assert.equal(b.tokenToId('<unused0>'), a.vocabSize);
  for (const t of [...texts.slice(0, 20), 'a <unused0> b']) assert.deepEqual(b.encode(t), a.encode(t), t);
  assert.ok(!b.encode('<unused0>').includes(b.tokenToId('<unused0>')!));
  assert.deepEqual(
    padded.tokenizerJson.added_tokens,
    short.tokenizerJson.added_tokens,
    'the unused tokens are not added or special tokens',
  );
});
