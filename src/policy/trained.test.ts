// The policy on adapters that the tests train themselves: a LoRA run on three-level language actions,
// one on the -NR dataset, one on discrete action tokens and one on digits as rare tokens (-AT); the policy reads how each was trained
// from its run folder and drives it the same way in closed loop; an adapter of another model is a
// one-line error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCodec, ACTION_MARKERS } from '../actions/index.ts';
import { ANNOTATIONS_FILE, readAnnotations } from '../annotate/index.ts';
import { openRlds } from '../data/rlds/index.ts';
import { isVlmError } from '../errors/index.ts';
import { Gemma3Model, parseGemma3Config, saveModel } from '../models/index.ts';
import { buildSft, DEFAULT_EXAMPLES } from '../sft/index.ts';
import { trainBpe } from '../tokenizer/index.ts';
import { finetune } from '../train/finetune.ts';
import type { ActionTokens } from '../actions/action-tokens.ts';
import { initBackend } from '../tensor/index.ts';
import { capture } from '../cli/testing.ts';
import { episodeSpec, runEpisode } from '../eval/closed-loop.ts';
import { actingStyle, buildModelPolicy } from './load.ts';

await initBackend();

function writeTinyModel(dir: string, texts: string[], hidden = 32): void {
  const tok = trainBpe(texts, { vocabSize: 700 });
  const cfg = parseGemma3Config({
    model_type: 'gemma3',
    text_config: {
      vocab_size: 704,
      hidden_size: hidden,
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
  saveModel(Gemma3Model.random(cfg, { seed: 1, std: 0.3 }), dir);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
}

test('adapters trained on language actions, -NR and action tokens each run as they were trained', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-policy-trained-'));
  try {
    const demo = await capture(['demo', '--episodes', '6', '--rollouts', '0', '--out', join(dir, 'demo')]);
    assert.equal(demo.code, 0, demo.err);
    const annotations = readAnnotations(join(dir, 'demo', 'ann', ANNOTATIONS_FILE));
    const sim = join(dir, 'demo', 'sim');
    const build = (name: string, extra: Partial<typeof DEFAULT_EXAMPLES>) =>
      buildSft(openRlds(sim).episodes(), annotations, {
        ...DEFAULT_EXAMPLES,
        ...extra,
        outDir: join(dir, name),
        format: 'jsonl',
        valFraction: 0.2,
        seed: 0,
      });
    await build('nr', { reasoning: 'none' });
    await build('tokens', { actionStyle: 'tokens' });
    await build('at', { actionStyle: 'at' });
    const texts = readFileSync(join(dir, 'demo', 'sft', 'train.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .flatMap((l) =>
        JSON.parse(l).messages.flatMap((m: { content: { text?: string }[] }) => m.content.flatMap((p) => (p.text ? [p.text] : []))),
      );
    const model = join(dir, 'base');
    writeTinyModel(model, texts);
    const runs: Record<string, string> = {
      language: join(dir, 'demo', 'sft'),
      nr: join(dir, 'nr'),
      tokens: join(dir, 'tokens'),
      at: join(dir, 'at'),
    };
    for (const [name, data] of Object.entries(runs))
      await finetune({
        model,
        data,
        out: join(dir, `run-${name}`),
        steps: 12,
        batchSize: 4,
        lr: 1e-2,
        lora: { r: 4, alpha: 8 },
        evalEvery: 100,
        checkpointEvery: 100,
        silent: true,
        log: () => {},
      });

    assert.deepEqual(actingStyle(join(dir, 'run-language')), {
      actionStyle: 'list',
      reasoning: 'full',
      actionTokens: null,
      source: join(dir, 'run-language', 'run.json'),
    });
    assert.equal(actingStyle(join(dir, 'run-nr')).reasoning, 'none');
    const tokens = actingStyle(join(dir, 'run-tokens'));
    assert.equal(tokens.actionStyle, 'tokens');
    assert.equal(tokens.actionTokens!.ids.length, 256);
    const at = actingStyle(join(dir, 'run-at'));
    assert.deepEqual([at.actionStyle, at.actionTokens!.ids.length], ['at', 10]);

    const spec = episodeSpec('in-distribution', 0, 0, ['pick']);
    const limits = { maxSteps: 1000, maxCycles: 3, imageSize: 32 };
    for (const name of ['language', 'nr', 'tokens', 'at']) {
      const policy = buildModelPolicy({ model, adapter: join(dir, `run-${name}`), greedy: true, verifier: 'budget:1' });
      assert.equal(policy.metadata.reasoning, name === 'nr' ? 'none' : 'full');
      assert.equal(policy.metadata.actionStyle, name === 'tokens' || name === 'at' ? name : 'list');
      const chunks: string[] = [];
      const stages = new Set<string>();
      const r = await runEpisode(policy, spec, {
        limits,
        onCycle: (t) => (t.text?.chunk !== undefined && chunks.push(t.text.chunk), Object.keys(t.stages).forEach((s) => stages.add(s))),
      });
      assert.ok(r.cycles === 3 || r.end === 'done', `${name}: ${r.cycles} cycles, end ${r.end}`);
      assert.ok(chunks.length > 0, name);
      const bins = tokens.actionTokens as ActionTokens;
      const codec =
        name === 'tokens'
          ? getCodec('tokens', { tokens: { low: bins.low, high: bins.high, tokens: ACTION_MARKERS } })
          : getCodec(name === 'at' ? 'at' : 'list');
      // Under the grammar every chunk that was not cut at the token limit is a sentence of the codec.
      assert.ok(
        chunks.some((c) => codec.decode(c).ok),
        `${name}: ${chunks.join(' | ').slice(0, 200)}`,
      );
      if (name === 'nr') assert.deepEqual([...stages].sort(), ['act']);
      else assert.ok(stages.has('plan') && stages.has('chunk'), [...stages].join());
      if (name === 'tokens') assert.match(chunks[0]!, /^(<a\d{3}>)+$/);
      if (name === 'at') assert.match(chunks[0]!, /^\[\[-?<d\d>/);
    }

    // An adapter trained for another model: a one-line typed error, not a crash.
    const other = join(dir, 'other');
    writeTinyModel(other, texts, 48);
    assert.throws(
      () => buildModelPolicy({ model: other, adapter: join(dir, 'run-language') }),
      (e: unknown) => isVlmError(e) && !/\n\s+at /.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
