// Parity with llama.cpp (through the npm package node-llama-cpp, offline, CPU): random tiny
// gemma3_text models exported to GGUF by our own writer give the same next-token logits under
// llama.cpp as under vlm2vla, on several prompts, with and without a LoRA adapter and in bf16;
// greedy generations of 32 tokens are identical.
//
// Tolerance: max |Δ logit| < 0.03 with logits of magnitude ~6. llama.cpp keeps its KV cache in fp16
// (observed differences ~0.007 in fp32). With bf16 weights (the same rounded values on both sides)
// ggml also rounds activations to bf16 in its dot products: tolerance 0.08 (observed ~0.03).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, getBackend, Tensor, Bf16Tensor } from '../../tensor/index.ts';
import type { Weight } from '../../tensor/index.ts';
import { Rng } from '../../util/index.ts';
import { generate } from '../../decode/index.ts';
import { Gemma3Model } from './model.ts';
import { parseGemma3Config } from './config.ts';
import { exportGemma3Gguf, exportLoraGguf, syntheticVocab } from './gguf.ts';
import { randomParams, tinyGemma3Config } from './testing.ts';
import { addAdapter, adapterParameters, setActiveAdapter, decoderTargets } from '../lora/adapter.ts';
import { PAPER_LORA } from '../lora/peft.ts';

const TOL = 0.03;
/** With BF16 weights ggml also rounds the activations to bf16 inside its dot products. */
const TOL_BF16 = 0.08;
const V = 512;

type Llama = Awaited<ReturnType<(typeof import('node-llama-cpp'))['getLlama']>>;
let llamaPromise: Promise<Llama> | null = null;
async function llama(): Promise<Llama> {
  const { getLlama } = await import('node-llama-cpp');
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, progressLogs: false });
  return llamaPromise;
}

function config() {
  // Every detail llama.cpp must agree on: GQA, a non-standard local/global layer pattern, sliding
  // window shorter than the prompts, local RoPE base ≠ 10000, linear scaling on global layers,
  // query_pre_attn_scalar ≠ head_dim.
  return parseGemma3Config({
    model_type: 'gemma3_text',
    vocab_size: V,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 6,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    sliding_window: 8,
    layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention'],
    rope_local_base_freq: 5000,
    rope_theta: 100_000,
    rope_scaling: { rope_type: 'linear', factor: 4 },
    query_pre_attn_scalar: 24,
    max_position_embeddings: 256,
  });
}

function prompts(): number[][] {
  const rng = new Rng(99);
  return [5, 13, 24].map((n) => [2, ...Array.from({ length: n - 1 }, () => rng.int(260, V - 1))]);
}

async function llamaLogits(modelPath: string, prompt: number[], loraPath?: string): Promise<Float32Array> {
  const l = await llama();
  const model = await l.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({
      contextSize: 256,
      batchSize: 256,
      sequences: 1,
      threads: 1,
      ...(loraPath ? { lora: { adapters: [{ filePath: loraPath }] } } : {}),
    });
    const seq = ctx.getSequence();
    const res = await seq.controlledEvaluate(prompt.map((t) => [t, { generateNext: { logits: true } }]) as never);
    const out = new Float32Array(prompt.length * V);
    for (let i = 0; i < prompt.length; i++) {
      const m = res[i]!.next.logits!;
      for (let v = 0; v < V; v++) out[i * V + v] = m.get(v as never)!;
    }
    await ctx.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

async function llamaGreedy(modelPath: string, prompt: number[], n: number): Promise<number[]> {
  const l = await llama();
  const model = await l.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({ contextSize: 256, batchSize: 256, sequences: 1, threads: 1 });
    const seq = ctx.getSequence();
    // Greedy by llama.cpp's own argmax sampler, one controlled step at a time.
    const out: number[] = [];
    let input: number[] = prompt;
    while (out.length < n) {
      const res = await seq.controlledEvaluate(
        input.map((t, i) => (i === input.length - 1 ? [t, { generateNext: { token: true } }] : t)) as never,
      );
      const next = res[input.length - 1]!.next.token!;
      out.push(next);
      input = [next];
    }
    await ctx.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

function ours(model: Gemma3Model, prompt: number[]): Float32Array {
  return Float32Array.from(noGrad(() => model.forward({ ids: Int32Array.from(prompt), batch: 1, length: prompt.length })).data);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const dir = mkdtempSync(join(tmpdir(), 'vlm2vla-llama-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('fp32 GGUF: next-token logits match llama.cpp on every position of several prompts', async () => {
  const model = new Gemma3Model(config(), randomParams(config(), 1, 0.15));
  const path = join(dir, 'f32.gguf');
  exportGemma3Gguf(model, path, { vocab: syntheticVocab(V) });
  for (const p of prompts()) {
    const d = maxDiff(await llamaLogits(path, p), ours(model, p));
    assert.ok(d < TOL, `prompt of ${p.length}: max |Δ logit| = ${d}`);
  }
});

test('greedy generations of 32 tokens are identical', async () => {
  const model = new Gemma3Model(config(), randomParams(config(), 2, 0.15));
  const path = join(dir, 'greedy.gguf');
  exportGemma3Gguf(model, path, { vocab: syntheticVocab(V) });
  for (const p of prompts()) {
    const [g] = generate(model, [{ ids: p }], { maxNewTokens: 32, eosIds: [] });
    assert.deepEqual(await llamaGreedy(path, p, 32), g!.tokens, `prompt of ${p.length}`);
  }
});

test('bf16 weights: our bf16 model matches llama.cpp on the BF16 GGUF', async () => {
  const cfg = config();
  const params = randomParams(cfg, 3, 0.15);
  const K = getBackend();
  const bf = new Map<string, Weight>();
  for (const [name, w] of params) {
    const t = w as Tensor;
    if (t.shape.length === 2) {
      const bits = new Uint16Array(t.size);
      K.f32ToBf16(t.data, bits, t.size);
      bf.set(name, new Bf16Tensor(t.shape, bits, name));
    } else bf.set(name, t);
  }
  const model = new Gemma3Model(cfg, bf);
  const path = join(dir, 'bf16.gguf');
  exportGemma3Gguf(model, path, { vocab: syntheticVocab(V), type: 'BF16' });
  for (const p of prompts()) {
    const d = maxDiff(await llamaLogits(path, p), ours(model, p));
    assert.ok(d < TOL_BF16, `prompt of ${p.length}: max |Δ logit| = ${d}`);
  }
});

test('a LoRA adapter exported to GGUF gives the same logits under llama.cpp as the active adapter here', async () => {
  const cfg = config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 4, 0.15));
  addAdapter(model, 'a', { ...PAPER_LORA, r: 4, alpha: 8, targetModules: decoderTargets('gemma3_text') }, 5);
  const rng = new Rng(6);
  for (const t of adapterParameters(model, 'a')) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * 0.1;
  const base = join(dir, 'base.gguf');
  const lora = join(dir, 'lora.gguf');
  exportGemma3Gguf(model, base, { vocab: syntheticVocab(V) });
  exportLoraGguf(model, 'a', lora);
  const p = prompts()[1]!;
  const plain = ours(model, p);
  setActiveAdapter(model, 'a');
  const adapted = ours(model, p);
  assert.ok(maxDiff(plain, adapted) > 0.1, 'the adapter changes the logits');
  const d = maxDiff(await llamaLogits(base, p, lora), adapted);
  assert.ok(d < TOL, `max |Δ logit| = ${d}`);
});

test('GGUF export refuses a vocabulary of the wrong size, rsLoRA and adapters outside the decoder', () => {
  const cfg = config();
  const model = new Gemma3Model(cfg, randomParams(cfg, 7, 0.15));
  const usage = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof Error && 'code' in e && e.code === 'E_USAGE' && re.test(e.message));
  usage(() => exportGemma3Gguf(model, join(dir, 'x.gguf'), { vocab: syntheticVocab(V - 1) }), /vocabulary has 511 tokens/);
  addAdapter(model, 'rs', { ...PAPER_LORA, r: 2, alpha: 4, useRslora: true, targetModules: decoderTargets('gemma3_text') });
  usage(() => exportLoraGguf(model, 'rs', join(dir, 'rs.gguf')), /rsLoRA/);
  const vlm = new Gemma3Model(tinyGemma3Config(), randomParams(tinyGemma3Config(), 8));
  addAdapter(vlm, 'vision', { ...PAPER_LORA, r: 2, alpha: 4, targetModules: ['fc1'] });
  usage(() => exportLoraGguf(vlm, 'vision', join(dir, 'v.gguf')), /not part of the text decoder/);
});
