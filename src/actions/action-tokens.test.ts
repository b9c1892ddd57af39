// The discrete-token mode's pieces: bin ranges from percentiles, marker splitting, least-used token
// choice (never specials or byte tokens; too small a vocabulary is an error), the SFT encoder mapping
// markers to single trained ids, and action_tokens.json round trips and malformed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVlmError } from '../errors/index.ts';
import { tokenBinRanges } from './index.ts';
import { trainBpe, Tokenizer } from '../tokenizer/index.ts';
import { leastUsedTokens, splitMarkers, markerMap, saveActionTokens, loadActionTokens, ACTION_TOKENS_FILE } from './action-tokens.ts';

test('bin ranges are the 1st/99th percentiles, widened for a constant axis', () => {
  const els = Array.from({ length: 101 }, (_, i) => ({ dx: i - 50, dy: 2, dz: i % 2 === 0 ? 1 : -1 }));
  const r = tokenBinRanges(els);
  assert.deepEqual(r.low, [-49, 1.5, -1]);
  assert.deepEqual(r.high, [49, 2.5, 1]);
});

test('markers split from text; the least-used tokens are ordinary tokens the text does not use', () => {
  assert.deepEqual(splitMarkers('x<a001><a255> y'), [
    { text: 'x', marker: false },
    { text: '<a001>', marker: true },
    { text: '<a255>', marker: true },
    { text: ' y', marker: false },
  ]);
  const trained = trainBpe(
    ['pick up the carrot', 'move forward', 'put it in the pot', ...Array.from({ length: 50 }, (_, i) => `word${i} token${i * 7}`)],
    { vocabSize: 400 },
  );
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 't' });
  const ids = leastUsedTokens(tokenizer, ['pick up the carrot'], 20);
  assert.equal(new Set(ids).size, 20);
  for (const id of ids) {
    assert.ok(![...tokenizer.specialTokens.values()].includes(id));
    assert.doesNotMatch(tokenizer.idToToken(id)!, /^<0x/);
  }
  const used = new Set(tokenizer.encode('pick up the carrot'));
  for (const id of ids) assert.ok(!used.has(id));
  assert.throws(() => leastUsedTokens(tokenizer, [], 10_000), /fewer than the 10000 action bins/);
});

test('action_tokens.json round-trips; malformed files are typed errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-action-tokens-'));
  try {
    assert.equal(loadActionTokens(dir), null);
    const t = {
      ids: Array.from({ length: 256 }, (_, i) => 1000 - i),
      low: [-3, -2, -1] as [number, number, number],
      high: [3, 2, 1] as [number, number, number],
    };
    saveActionTokens(dir, t);
    assert.deepEqual(loadActionTokens(dir), t);
    assert.equal(markerMap(t).get('<a255>'), 745);
    const bad = (json: string, field: RegExp) => {
      writeFileSync(join(dir, ACTION_TOKENS_FILE), json);
      assert.throws(
        () => loadActionTokens(dir),
        (e: unknown) => isVlmError(e) && e.code === 'E_ACTION_TOKENS' && field.test(e.message),
      );
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
