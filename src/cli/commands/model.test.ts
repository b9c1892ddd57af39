// End-to-end test of `vlm2vla model info` and `model export-gguf`: a tiny gemma3 folder with a trained
// tokenizer is exported; the GGUF files read back with the expected metadata, and llama.cpp loads the
// model, tokenizes text like our tokenizer does, and applies the adapter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../testing.ts';
import { trainBpe, Tokenizer } from '../../tokenizer/index.ts';
import { readGguf } from '../../formats/index.ts';
import {
  Gemma3Model,
  saveModel,
  addAdapter,
  saveAdapter,
  decoderTargets,
  PAPER_LORA,
  parseGemma3Config,
  gemma3ConfigToJson,
} from '../../models/index.ts';

const cfgJson = (c: Parameters<typeof gemma3ConfigToJson>[0]) =>
  gemma3ConfigToJson(c) as Record<string, Record<string, unknown>> & Record<string, unknown>;

test('model info and model export-gguf on a tiny folder; llama.cpp loads and tokenizes like us', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cli-model-'));
  try {
    const corpus = Array.from(
      { length: 200 },
      (_, i) => `put the ${['carrot', 'red cup', 'spoon'][i % 3]} in the ${['pot', 'bowl'][i % 2]} ${i % 10}`,
    );
    const trained = trainBpe(corpus, { vocabSize: 400 });
    const modelDir = join(dir, 'model');
    const tokVocab = new Tokenizer({ tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, source: 'x' })
      .vocabSize;
    const cfg = parseGemma3Config({
      model_type: 'gemma3',
      text_config: {
        vocab_size: 448,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 16,
        sliding_window: 16,
      },
      vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, image_size: 8, patch_size: 2 },
      mm_tokens_per_image: 4,
      boi_token_index: 440,
      eoi_token_index: 441,
      image_token_index: 442,
    });
    assert.ok(tokVocab <= 448);
    const model = Gemma3Model.random(cfg, { seed: 1 });
    saveModel(model, modelDir);
    writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(trained.tokenizerJson));
    writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(trained.tokenizerConfig));
    addAdapter(model, 'a', { ...PAPER_LORA, r: 2, alpha: 4, targetModules: decoderTargets('gemma3') });
    saveAdapter(model, 'a', join(dir, 'adapter'));

    const info = await capture(['model', 'info', '--model', modelDir, '--json']);
    assert.equal(info.code, 0, info.err);
    const parsed = JSON.parse(info.out);
    assert.equal(parsed.model_type, 'gemma3');
    assert.equal(parsed.text.layers, 2);

    const out = join(dir, 'm.gguf');
    const ex = await capture([
      'model',
      'export-gguf',
      '--model',
      modelDir,
      '--out',
      out,
      '--type',
      'q8_0',
      '--adapter',
      join(dir, 'adapter'),
      '--adapter-out',
      join(dir, 'a.gguf'),
    ]);
    assert.equal(ex.code, 0, ex.err);
    const { file } = readGguf(out);
    assert.equal(file.metadata.get('general.architecture')?.value, 'gemma3');
    assert.equal(file.tensors.length, 1 + 1 + 2 * 13);
    assert.equal(file.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.type, 'Q8_0');
    assert.equal(file.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')?.type, 'F32');
    const adapter = readGguf(join(dir, 'a.gguf')).file;
    assert.equal(adapter.metadata.get('adapter.type')?.value, 'lora');
    assert.equal(adapter.tensors.length, 2 * 7 * 2);

    const bad = await capture(['model', 'export-gguf', '--model', modelDir, '--out', out, '--type', 'q4']);
    assert.equal(bad.code, 2);
    const small = join(dir, 'small');
    saveModel(
      Gemma3Model.random(
        parseGemma3Config({
          ...cfgJson(cfg),
          text_config: { ...cfgJson(cfg).text_config, vocab_size: 300 },
          boi_token_index: 6,
          eoi_token_index: 7,
          image_token_index: 8,
        }),
        { seed: 2 },
      ),
      small,
    );
    const noTok = await capture(['model', 'export-gguf', '--model', small, '--out', join(dir, 's.gguf')]);
    assert.equal(noTok.code, 2);
    assert.match(noTok.err, /has no tokenizer\.json/);
    writeFileSync(join(small, 'tokenizer.json'), JSON.stringify(trained.tokenizerJson));
    const tooBig = await capture(['model', 'export-gguf', '--model', small, '--out', join(dir, 's.gguf')]);
    assert.equal(tooBig.code, 2);
    assert.match(tooBig.err, /tokenizer\.json has \d+ tokens, the model's vocabulary 300/);

    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, progressLogs: false });
    const f32 = join(dir, 'f32.gguf');
    assert.equal((await capture(['model', 'export-gguf', '--model', modelDir, '--out', f32])).code, 0);
    const lm = await llama.loadModel({ modelPath: f32 });
    const tok = Tokenizer.fromDir(modelDir);
    for (const text of ['put the carrot in the pot 3', 'the spoon', 'zebra 42']) {
      assert.deepEqual([...lm.tokenize(text)], tok.encode(text), text);
    }
    const ctx = await lm.createContext({ contextSize: 64, threads: 1, lora: { adapters: [{ filePath: join(dir, 'a.gguf') }] } });
    await ctx.dispose();
    await lm.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
