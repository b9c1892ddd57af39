// The discrete-token mode's pieces: bin ranges from percentiles, marker splitting, least-used token
// choice (never specials or byte tokens; too small a vocabulary is an error), the SFT encoder mapping
// markers to single trained ids, and action_tokens.json round trips and malformed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlmError } from '../errors/index.ts';
import { ACTION_MARKERS, tokenBinRanges } from '../actions/index.ts';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { tinyGemma3Config } from '../models/gemma3/testing.ts';
import { leastUsedTokens, splitMarkers, markerMap, saveActionTokens, loadActionTokens, ACTION_TOKENS_FILE } from './action-tokens.ts';
import { encodeConversation } from './sft.ts';

test('bin ranges are the 1st/99th percentiles, widened for a constant axis', () => {
  const els = Array.from({ length: 101 }, (_, i) => ({ dx: i - 50, dy: 2, dz: i % 2 === 0 ? 1 : -1 }));
  const r = tokenBinRanges(els);
  assert.deepEqual(r.low, [-49, 1.5, -1]);
  assert.deepEqual(r.high, [49, 2.5, 1]);
});

test('markers split from text; the encoder maps each to one trained id', () => {
  assert.deepEqual(splitMarkers('x<a001><a255> y'), [{ text: 'x', marker: false }, { text: '<a001>', marker: true }, { text: '<a255>', marker: true }, { text: ' y', marker: false }]);
  const trained = trainBpe(['pick up the carrot', 'move forward', 'put it in the pot', ...Array.from({ length: 50 }, (_, i) => `word${i} token${i * 7}`)], { vocabSize: 400 });
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 't' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 't')!;
  const ids = leastUsedTokens(tokenizer, ['pick up the carrot'], 20);
  assert.equal(new Set(ids).size, 20);
  for (const id of ids) {
    assert.ok(![...tokenizer.specialTokens.values()].includes(id));
    assert.doesNotMatch(tokenizer.idToToken(id)!, /^<0x/);
  }
  const used = new Set(tokenizer.encode('pick up the carrot'));
  for (const id of ids) assert.ok(!used.has(id));
  assert.throws(() => leastUsedTokens(tokenizer, [], 10_000), /fewer than the 10000 action bins/);
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
  assert.throws(() => encodeConversation([messages[0]!, { role: 'assistant', content: [{ type: 'text', text: '<a200>' }] }], enc, 'rec 7'), (e: unknown) => isVlmError(e) && e.code === 'E_SFT_RECORD' && /rec 7/.test(e.message));
});

test('action_tokens.json round-trips; malformed files are typed errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-action-tokens-'));
  try {
    assert.equal(loadActionTokens(dir), null);
    const t = { ids: Array.from({ length: 256 }, (_, i) => 1000 - i), low: [-3, -2, -1] as [number, number, number], high: [3, 2, 1] as [number, number, number] };
    saveActionTokens(dir, t);
    assert.deepEqual(loadActionTokens(dir), t);
    assert.equal(markerMap(t).get('<a255>'), 745);
    const bad = (json: string, field: RegExp) => {
      writeFileSync(join(dir, ACTION_TOKENS_FILE), json);
      assert.throws(() => loadActionTokens(dir), (e: unknown) => isVlmError(e) && e.code === 'E_ACTION_TOKENS' && field.test(e.message));
    };
    bad('{', /not valid JSON/);
    bad(JSON.stringify({ ...t, ids: t.ids.slice(1) }), /ids/);
    bad(JSON.stringify({ ...t, ids: [...t.ids.slice(1), t.ids[0]! - 0.5] }), /ids/);
    bad(JSON.stringify({ ...t, ids: [...t.ids.slice(1), t.ids[1]] }), /ids/);
    bad(JSON.stringify({ ...t, low: [0, 0] }), /low/);
    bad(JSON.stringify({ ...t, high: [3, 2, -5] }), /high/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
