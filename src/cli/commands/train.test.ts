// End-to-end test of `vlm2vla train` on the demo's SFT dataset with a tiny gemma3 whose tokenizer is
// trained on that dataset: LoRA run → PEFT adapter + run.json + metrics; the loss falls; a second run
// into the same folder needs --resume; --full writes a full model folder; bad flags exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../testing.ts';
import { trainBpe } from '../../tokenizer/index.ts';
import { Gemma3Model, saveModel, parseGemma3Config, loadModel, loadAdapter } from '../../models/index.ts';
import { parseLoraSpec } from './train.ts';
import { getCodec, ACTION_MARKERS } from '../../actions/index.ts';
import { loadActionTokens, actionIdsToText, markerMap, stripMarkers } from '../../actions/action-tokens.ts';
import type { ActionTokens } from '../../actions/action-tokens.ts';
import { SafetensorsFile } from '../../formats/index.ts';
import { Tokenizer } from '../../tokenizer/index.ts';

/** A tiny random gemma3 folder whose 700-token tokenizer is trained on `texts`. */
function writeTinyModel(modelDir: string, texts: string[]): string {
  const tok = trainBpe(texts, { vocabSize: 700 });
  const cfg = parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      vocab_size: 704,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
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
  saveModel(Gemma3Model.random(cfg, { seed: 1, std: 0.3 }), modelDir);
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  return modelDir;
}

test('--lora specs parse over the paper defaults; bad specs are usage errors', () => {
  const c = parseLoraSpec('r=8,alpha=16,dropout=0,targets=q_proj+v_proj', 'gemma3_text');
  assert.deepEqual([c.r, c.alpha, c.dropout, c.targetModules], [8, 16, 0, ['q_proj', 'v_proj']]);
  assert.equal(parseLoraSpec('', 'gemma3').r, 16);
  assert.throws(() => parseLoraSpec('r=0', 'gemma3'), /r must be an integer in 1…4096/);
  assert.throws(() => parseLoraSpec('rank=4', 'gemma3'), /unknown key/);
});

test('vlm2vla train: LoRA on the demo SFT data, then --full; resume rules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cli-train-'));
  try {
    const demo = await capture(['demo', '--episodes', '6', '--rollouts', '0', '--out', join(dir, 'demo')]);
    assert.equal(demo.code, 0, demo.err);
    const sft = join(dir, 'demo', 'sft');
    const texts = readFileSync(join(sft, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .flatMap((l) =>
        JSON.parse(l).messages.flatMap((m: { content: { text?: string }[] }) => m.content.flatMap((p) => (p.text ? [p.text] : []))),
      );
    const modelDir = writeTinyModel(join(dir, 'base'), texts);

    const run = join(dir, 'run');
    const argv = [
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      run,
      '--steps',
      '30',
      '--batch-size',
      '4',
      '--lr',
      '1e-2',
      '--warmup',
      '2',
      '--checkpoint-every',
      '10',
      '--eval-every',
      '10',
      '--lora',
      'r=4,alpha=8',
    ];
    const r = await capture(argv);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(join(run, 'adapter', 'adapter_model.safetensors')));
    const info = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    assert.equal(info.mode, 'lora');
    assert.equal(info.lora.r, 4);
    assert.ok(info.dataset.train.records > 0 && info.dataset.train.images > 0, JSON.stringify(info.dataset));
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(metrics.length, 30);
    const mean = (xs: { loss: number }[]) => xs.reduce((a, m) => a + m.loss, 0) / xs.length;
    assert.ok(mean(metrics.slice(-5)) < 0.8 * mean(metrics.slice(0, 5)), `loss ${mean(metrics.slice(0, 5))} → ${mean(metrics.slice(-5))}`);
    if (info.dataset.val.records > 0) assert.ok(Number.isFinite(metrics.at(-1).valLoss));
    const model = loadModel(modelDir);
    loadAdapter(model, join(run, 'adapter'));

    const again = await capture(argv);
    assert.equal(again.code, 2);
    assert.match(again.err, /--resume/);
    const resumed = await capture([...argv, '--resume']);
    assert.equal(resumed.code, 0, resumed.err);

    const fullRun = join(dir, 'full');
    const f = await capture([
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      fullRun,
      '--steps',
      '3',
      '--batch-size',
      '2',
      '--full',
      '--eval-every',
      '0',
    ]);
    assert.equal(f.code, 0, f.err);
    assert.ok(existsSync(join(fullRun, 'model', 'model.safetensors')) && existsSync(join(fullRun, 'model', 'tokenizer.json')));
    loadModel(join(fullRun, 'model'));

    // A preset sets the recipe; one epoch over the SFT sequences plus a quarter of rehearsal.
    const presetRun = join(dir, 'paper');
    const pr = await capture([
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      presetRun,
      '--preset',
      'paper',
      '--corpus-share',
      '0.25',
      '--eval-every',
      '0',
    ]);
    assert.equal(pr.code, 0, pr.err);
    const pinfo = JSON.parse(readFileSync(join(presetRun, 'run.json'), 'utf8'));
    const n = pinfo.dataset.train.records - pinfo.dataset.train.tooLong;
    assert.equal(pinfo.preset, 'paper');
    assert.equal(pinfo.epochs, 1);
    assert.deepEqual(
      [pinfo.lora.r, pinfo.lora.alpha, pinfo.trainer.schedule.kind, pinfo.trainer.schedule.lr, pinfo.trainer.batchSize],
      [16, 32, 'linear', 5e-5, 8],
    );
    assert.equal(pinfo.corpus.conversations, Math.round((n * 0.25) / 0.75));
    assert.equal(pinfo.result.steps, Math.ceil((n + pinfo.corpus.conversations) / 8));
    // A flag given with the preset wins over it.
    const over = await capture([
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      join(dir, 'paper2'),
      '--preset',
      'paper',
      '--steps',
      '2',
      '--lr',
      '1e-3',
      '--eval-every',
      '0',
    ]);
    assert.equal(over.code, 0, over.err);
    const oinfo = JSON.parse(readFileSync(join(dir, 'paper2', 'run.json'), 'utf8'));
    assert.deepEqual([oinfo.result.steps, oinfo.trainer.schedule.lr, oinfo.epochs, oinfo.corpus], [2, 1e-3, null, null]);
    const badPreset = await capture(['train', '--model', modelDir, '--data', sft, '--out', join(dir, 'z'), '--preset', 'nope']);
    assert.equal(badPreset.code, 2);

    const bad = await capture(['train', '--model', modelDir, '--data', join(dir, 'nope'), '--out', join(dir, 'x')]);
    assert.equal(bad.code, 2);
    writeFileSync(join(sft, 'build_info.json'), '{"options": ');
    const badInfo = await capture(['train', '--model', modelDir, '--data', sft, '--out', join(dir, 'y')]);
    assert.notEqual(badInfo.code, 0);
    assert.match(badInfo.err, /E_SFT_RECORD.*build_info\.json is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('discrete-token mode: build --action-style tokens, then LoRA with trainable tokens and --full', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-cli-tokens-'));
  try {
    const demo = await capture(['demo', '--episodes', '6', '--rollouts', '0', '--out', join(dir, 'demo')]);
    assert.equal(demo.code, 0, demo.err);
    const sft = join(dir, 'tok');
    const b = await capture([
      'build',
      '--annotations',
      join(dir, 'demo', 'ann'),
      '--episodes',
      join(dir, 'demo', 'sim'),
      '--out',
      sft,
      '--action-style',
      'tokens',
    ]);
    assert.equal(b.code, 0, b.err);
    const info = JSON.parse(readFileSync(join(sft, 'build_info.json'), 'utf8'));
    const bins = info.options.tokens as { low: number[]; high: number[] };
    for (let a = 0; a < 3; a++) assert.ok(bins.high[a]! > bins.low[a]!, JSON.stringify(bins));
    const records = readFileSync(join(sft, 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const chunks = records.filter((r) => r.meta.stage === 'chunk').map((r) => r.messages[1].content[0].text as string);
    assert.ok(chunks.length > 0);
    const codec = getCodec('tokens', {
      tokens: { low: bins.low as [number, number, number], high: bins.high as [number, number, number], tokens: ACTION_MARKERS },
    });
    for (const c of chunks) {
      assert.match(c, /^(<a\d{3}>)+$/);
      assert.ok(codec.decode(c).ok, c);
    }

    const texts = records.flatMap((r) =>
      r.messages.flatMap((m: { content: { text?: string }[] }) => m.content.flatMap((p) => (p.text ? [stripMarkers(p.text)] : []))),
    );
    const modelDir = writeTinyModel(join(dir, 'base'), texts);

    const run = join(dir, 'run');
    const r = await capture([
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      run,
      '--steps',
      '20',
      '--batch-size',
      '4',
      '--lr',
      '1e-2',
      '--warmup',
      '2',
      '--eval-every',
      '0',
      '--lora',
      'r=4,alpha=8',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /discrete-token actions: 256 bins/);
    const runInfo = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8'));
    assert.equal(runInfo.actionStyle, 'tokens');
    const at = loadActionTokens(run) as ActionTokens;
    assert.deepEqual(loadActionTokens(join(run, 'adapter')), at);
    assert.deepEqual(at.low, bins.low);
    const tokenizer = Tokenizer.fromDir(modelDir);
    // The chosen tokens are the least used by the dataset's text: none is used more often than any
    // ordinary token left out.
    const count = new Map<number, number>();
    for (const t of texts) for (const id of tokenizer.encode(t)) count.set(id, (count.get(id) ?? 0) + 1);
    const chosen = new Set(at.ids);
    const specials = new Set(tokenizer.specialTokens.values());
    const others = Array.from({ length: tokenizer.vocabSize }, (_, id) => id).filter(
      (id) => !chosen.has(id) && !specials.has(id) && !/^<0x/.test(tokenizer.idToToken(id) ?? '<0x'),
    );
    const maxChosen = Math.max(...at.ids.map((id) => count.get(id) ?? 0));
    const minOther = Math.min(...others.map((id) => count.get(id) ?? 0));
    assert.ok(maxChosen <= minOther, `a chosen token is used ${maxChosen} times, an unchosen one ${minOther}`);
    for (const id of at.ids) assert.ok(!specials.has(id));
    const adapterCfg = JSON.parse(readFileSync(join(run, 'adapter', 'adapter_config.json'), 'utf8'));
    assert.deepEqual(adapterCfg.trainable_token_indices, at.ids);
    const f = SafetensorsFile.open(join(run, 'adapter', 'adapter_model.safetensors'));
    const delta = f.readTensor('base_model.model.language_model.model.embed_tokens.token_adapter.trainable_tokens_delta') as Float32Array;
    f.close();
    assert.equal(delta.length, 256 * 32);
    assert.ok(
      delta.some((v) => v !== 0),
      'the action token rows did not train',
    );
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(metrics.at(-1).loss < metrics[0].loss, `loss ${metrics[0].loss} → ${metrics.at(-1).loss}`);
    const m = loadModel(modelDir);
    loadAdapter(m, join(run, 'adapter'));

    // Generated action ids map back to the markers the codec parses.
    const ids = [...chunks[0]!.matchAll(/<a\d{3}>/g)].map((x) => markerMap(at).get(x[0])!);
    assert.equal(actionIdsToText(ids, at, tokenizer), chunks[0]);

    const fullRun = join(dir, 'full');
    const full = await capture([
      'train',
      '--model',
      modelDir,
      '--data',
      sft,
      '--out',
      fullRun,
      '--steps',
      '2',
      '--batch-size',
      '2',
      '--full',
      '--eval-every',
      '0',
    ]);
    assert.equal(full.code, 0, full.err);
    assert.deepEqual(loadActionTokens(join(fullRun, 'model')), at);

    const broken = JSON.parse(readFileSync(join(sft, 'build_info.json'), 'utf8'));
    delete broken.options.tokens;
    writeFileSync(join(sft, 'build_info.json'), JSON.stringify(broken));
    const bad = await capture(['train', '--model', modelDir, '--data', sft, '--out', join(dir, 'z')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /options\.tokens/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
