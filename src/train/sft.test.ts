// Tests of SFT encoding: assistant tokens (and only they) are trained, image markers become the
// model's image tokens, prompts are tokenized as generation sees them; image preprocessing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { tinyGemma3Config, tinyTextConfig } from '../models/gemma3/testing.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlmError } from '../errors/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { encodeConversation, loadSftSplit } from './sft.ts';
import type { ChatEncoder } from './sft.ts';
import { ACTION_MARKERS } from '../actions/index.ts';
import { leastUsedTokens } from '../actions/action-tokens.ts';

const trained = trainBpe(
  Array.from({ length: 50 }, (_, i) => `pick up the carrot ${i} move left then down [[1.0, 0.0, -2.5, 1]]`),
  { vocabSize: 330 },
);
const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
const cfg = tinyGemma3Config({ boi_token_index: 6, eoi_token_index: 7, image_token_index: 8, text_config: { vocab_size: 330 } });

test('only assistant tokens are trained; images expand to mm_tokens_per_image image tokens', () => {
  const messages = [
    { role: 'user' as const, content: [{ type: 'image' as const }, { type: 'text' as const, text: 'pick up the carrot' }] },
    { role: 'assistant' as const, content: [{ type: 'text' as const, text: 'move left then down' }] },
    { role: 'user' as const, content: [{ type: 'text' as const, text: 'then?' }] },
    { role: 'assistant' as const, content: [{ type: 'text' as const, text: '[[1.0, 0.0, -2.5, 1]]' }] },
  ];
  const { ids, mask } = encodeConversation(messages, { tokenizer, template, cfg }, 'test');
  assert.equal(ids.filter((i) => i === 8).length, cfg.mmTokensPerImage);
  const trainedText = tokenizer.decode(ids.filter((_, i) => mask[i]));
  assert.equal(trainedText, 'move left then down<end_of_turn>\n[[1.0, 0.0, -2.5, 1]]<end_of_turn>\n');
  const prompt = tokenizer.decode(ids.filter((_, i) => !mask[i]));
  assert.ok(prompt.startsWith('<bos><start_of_turn>user\n\n\n<start_of_image>'));
  assert.ok(prompt.endsWith('<start_of_turn>model\n'));
  assert.throws(() => encodeConversation([messages[0]!], { tokenizer, template, cfg }, 'rec 3'), /no assistant turn/);
});

test('image preprocessing: [-1, 1], channels first, area-averaging when shrinking', () => {
  const W = 8;
  const rgb = new Uint8Array(W * W * 3);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) rgb.set([x < 4 ? 0 : 255, 255, 0], (y * W + x) * 3);
  const px = imageToPixels({ width: W, height: W, rgb }, 2);
  // Red: 0 on the left half, 255 on the right. The triangle filter of a 4× shrink spans 4 input
  // pixels each side: output 0 (centre 2) weighs inputs 0..5 by .625 .875 .875 .625 .375 .125.
  const left = (255 * 0.5) / 3.5 / 127.5 - 1;
  for (const [i, want] of [
    [0, left],
    [1, -left],
    [2, left],
    [3, -left],
  ] as const)
    assert.ok(Math.abs(px[i]! - want) < 1e-5, `red ${i}: ${px[i]} vs ${want}`);
  assert.ok([...px.subarray(4, 8)].every((v) => Math.abs(v - 1) < 1e-6));
  assert.ok([...px.subarray(8, 12)].every((v) => Math.abs(v + 1) < 1e-6));
  const up = imageToPixels({ width: 1, height: 1, rgb: Uint8Array.of(51, 102, 153) }, 4);
  assert.ok(Math.abs(up[0]! - (51 / 127.5 - 1)) < 1e-6 && Math.abs(up[47]! - (153 / 127.5 - 1)) < 1e-6);
});

test('malformed SFT folders and records are typed errors naming the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-sft-'));
  const enc: ChatEncoder = { tokenizer, template, cfg };
  const expect = (lines: string[], code: string, re: RegExp, encoder = enc) => {
    writeFileSync(join(dir, 'train.jsonl'), lines.join('\n'));
    assert.throws(
      () => loadSftSplit(dir, 'train', encoder, 4096),
      (e: unknown) => isVlmError(e) && e.code === code && re.test(e.message),
    );
  };
  const user = { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'pick up the carrot' }] };
  const answer = { role: 'assistant', content: [{ type: 'text', text: 'move left' }] };
  try {
    assert.throws(
      () => loadSftSplit(dir, 'train', enc, 4096),
      (e: unknown) => isVlmError(e) && e.code === 'E_USAGE' && /train\.jsonl does not exist/.test(e.message),
    );
    assert.equal(loadSftSplit(dir, 'val', enc, 4096).examples.length, 0);
    expect(['{"images": ['], 'E_SFT_RECORD', /train\.jsonl:1: not valid JSON/);
    expect(['', '{"images": []}'], 'E_SFT_RECORD', /train\.jsonl:2: a record needs "messages" and "images"/);
    expect([JSON.stringify({ images: [], messages: [user, answer] })], 'E_SFT_RECORD', /1 image markers in the messages but 0 image paths/);
    expect(
      [JSON.stringify({ images: ['images/none.png'], messages: [user, answer] })],
      'E_SFT_RECORD',
      /image images\/none\.png does not exist/,
    );
    expect([JSON.stringify({ images: ['../x.png'], messages: [user, answer] })], 'E_SFT_RECORD', /image \.\.\/x\.png does not exist/);
    expect([JSON.stringify({ images: ['images/a.png'], messages: [user, answer] })], 'E_USAGE', /model is text-only/, {
      ...enc,
      cfg: tinyTextConfig({ vocab_size: 330 }),
    });
    const odd = ChatTemplate.compile(
      "{{ bos_token }}{% for m in messages %}{{ m['role'] }}{% endfor %}{% if add_generation_prompt %}!{% endif %}",
      { bos_token: '<bos>' },
    );
    expect(
      [JSON.stringify({ images: [], messages: [{ role: 'user', content: 'hi' }, answer] })],
      'E_CHAT_TEMPLATE',
      /not render the prompt of turn 1 as a prefix/,
      { ...enc, template: odd },
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('the SFT encoder maps each action marker to one trained id', () => {
  const trained = trainBpe(
    ['pick up the carrot', 'move forward', 'put it in the pot', ...Array.from({ length: 50 }, (_, i) => `word${i} token${i * 7}`)],
    { vocabSize: 400 },
  );
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 't' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 't')!;
  const ids = leastUsedTokens(tokenizer, ['pick up the carrot'], 20);
  const map = new Map(ACTION_MARKERS.slice(0, 20).map((m, i) => [m, ids[i]!]));
  const cfg = tinyGemma3Config({ text_config: { vocab_size: tokenizer.vocabSize } });
  const enc = { tokenizer, template, cfg, actionTokens: map };
  const messages = [
    { role: 'user' as const, content: [{ type: 'text' as const, text: 'move' }] },
    { role: 'assistant' as const, content: [{ type: 'text' as const, text: '<a003><a019><a000>' }] },
  ];
  const out = encodeConversation(messages, enc, 'test');
  const at = out.ids.indexOf(ids[3]!);
  assert.ok(at > 0);
  assert.deepEqual(out.ids.slice(at, at + 3), [ids[3], ids[19], ids[0]]);
  assert.deepEqual(out.mask.slice(at, at + 3), [1, 1, 1]);
  assert.throws(
    () => encodeConversation([messages[0]!, { role: 'assistant', content: [{ type: 'text', text: '<a200>' }] }], enc, 'rec 7'),
    (e: unknown) => isVlmError(e) && e.code === 'E_SFT_RECORD' && /rec 7/.test(e.message),
  );
});
