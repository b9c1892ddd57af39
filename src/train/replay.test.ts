// Rehearsal sources: corpus conversations encoded as training sequences (answers trained, questions
// not; a scene's image rendered at the vision tower's size), drawn from their own index range, mixed
// after the SFT sequences; the share → count rule and its bad values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainBpe, Tokenizer, ChatTemplate } from '../tokenizer/index.ts';
import { corpusConversation, corpusTexts } from '../corpus/corpus.ts';
import { parseGemma3Config } from '../models/index.ts';
import { isVlmError } from '../errors/index.ts';
import { CorpusReplaySource, MixedSource, REPLAY_OFFSET, replayCount } from './replay.ts';
import type { TrainExample } from './trainer.ts';

function encoder() {
  const trained = trainBpe(corpusTexts(0, 200), { vocabSize: 600 });
  const tokenizer = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'test' });
  const template = ChatTemplate.fromConfig(tokenizer.config, 'test')!;
  const cfg = parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      vocab_size: 600,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 16,
      sliding_window: 64,
      max_position_embeddings: 4096,
    },
    vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, image_size: 16, patch_size: 4 },
    mm_tokens_per_image: 4,
    boi_token_index: 6,
    eoi_token_index: 7,
    image_token_index: 8,
  });
  return { tokenizer, template, cfg };
}

test('a rehearsal example is its corpus conversation: answers trained, questions not, the scene rendered', () => {
  const enc = encoder();
  const src = new CorpusReplaySource(enc, 3, 30);
  assert.equal(src.length, 30);
  let scenes = 0;
  for (let i = 0; i < 30; i++) {
    const conv = corpusConversation(3, REPLAY_OFFSET + i);
    const e = src.at(i)!;
    assert.equal(e.ids.length, e.mask.length);
    const trained = enc.tokenizer.decode(Array.from(e.ids).filter((_, t) => e.mask[t] === 1));
    const untrained = enc.tokenizer.decode(Array.from(e.ids).filter((_, t) => e.mask[t] === 0));
    for (const q of conv.qa) {
      assert.ok(trained.includes(q.answer), `conversation ${i}: answer ${JSON.stringify(q.answer)} not among the trained tokens`);
      assert.ok(untrained.includes(q.question), `conversation ${i}: question ${JSON.stringify(q.question)} not in the prompt`);
    }
    if (conv.scene) {
      scenes++;
      assert.equal(e.pixels!.length, 3 * 16 * 16);
      assert.equal(Array.from(e.ids).filter((id) => id === 8).length, 4);
    } else assert.equal(e.pixels, null);
  }
  assert.ok(scenes > 0 && scenes < 30, `${scenes} of 30 conversations had a scene`);
  assert.equal(src.at(30), undefined);
  assert.equal(src.at(-1), undefined);
  // Another seed, other conversations.
  assert.notDeepEqual(Array.from(new CorpusReplaySource(enc, 4, 1).at(0)!.ids), Array.from(src.at(0)!.ids));
});

test('a mixed source lists the SFT sequences, then the rehearsal ones; the share sets the count', () => {
  const sft: TrainExample[] = [0, 1, 2].map((k) => ({ ids: Int32Array.of(k), mask: Uint8Array.of(1), pixels: null }));
  const replay = {
    length: 2,
    at: (i: number) => (i < 2 ? { ids: Int32Array.of(100 + i), mask: Uint8Array.of(1), pixels: null } : undefined),
  };
  const mixed = new MixedSource(sft, replay);
  assert.equal(mixed.length, 5);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => mixed.at(i)!.ids[0]),
    [0, 1, 2, 100, 101],
  );
  assert.equal(mixed.at(5), undefined);
  assert.equal(replayCount(300, 0), 0);
  assert.equal(replayCount(300, 0.25), 100);
  assert.equal(replayCount(10, 0.5), 10);
  for (const bad of [-0.1, 1, Number.NaN])
    assert.throws(
      () => replayCount(10, bad),
      (e: unknown) => isVlmError(e) && /corpus share/.test((e as Error).message),
    );
});
