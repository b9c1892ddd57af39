// Training throughput of the `base` pretraining architecture (src/train/pretrain.ts: Gemma 3 decoder
// 4 × 256 with a SigLIP tower, 64 image tokens, sliding window 128) in full and LoRA (r 16, alpha 32 on the decoder's seven
// projections) mode, against PyTorch running the same architecture and shapes (bench/train_torch.py)
// in the same run. One step = forward, cross-entropy on every next token, backward, AdamW update, on a
// batch of 16 sequences × 256 tokens (about a pretraining conversation) with one 96 px image each.
// The PyTorch script gets the preset's sequence length, image-token count and window on its command
// line, so both sides always run the same shapes.
// Run: node --import tsx bench/train.ts
// PyTorch: Debian's python3-torch with OPENBLAS_CORETYPE=SkylakeX (see bench/block.ts), timed with
// 1 and with 2 torch threads; the ratio is against the faster of the two.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { AdamW, backward, crossEntropy, getBackend, initBackend } from '../src/tensor/index.ts';
import type { Tensor } from '../src/tensor/index.ts';
import { Gemma3Model, addAdapter, decoderTargets, parseGemma3Config, PAPER_LORA, setActiveAdapter } from '../src/models/index.ts';
import { PRETRAIN_PRESETS } from '../src/pretrain/pretrain.ts';
import { Rng } from '../src/util/index.ts';

await initBackend();
const preset = PRETRAIN_PRESETS.base!;
const V = 1024;
const cfg = parseGemma3Config({
  model_type: 'gemma3',
  text_config: { ...preset.config.text_config, vocab_size: V, pad_token_id: 0, bos_token_id: 2, eos_token_id: [1, 5] },
  vision_config: preset.config.vision_config,
  mm_tokens_per_image: preset.config.mm_tokens_per_image,
  boi_token_index: 6,
  eoi_token_index: 7,
  image_token_index: 8,
});
if (cfg.modelType !== 'gemma3') throw new Error('unreachable');
const [B, T, MM, S] = [16, 256, cfg.mmTokensPerImage, cfg.vision.imageSize];
const rng = new Rng(0);
const ids = new Int32Array(B * T);
for (let b = 0; b < B; b++) {
  for (let t = 0; t < T; t++) ids[b * T + t] = 9 + Math.floor(rng.next() * (V - 9));
  ids[b * T] = 2;
  ids[b * T + 1] = 6;
  for (let k = 0; k < MM; k++) ids[b * T + 2 + k] = 8;
  ids[b * T + 2 + MM] = 7;
}
const pixels = Float32Array.from({ length: B * 3 * S * S }, () => rng.next() * 2 - 1);
const rows = Int32Array.from({ length: B * (T - 1) }, (_, i) => Math.floor(i / (T - 1)) * T + (i % (T - 1)));
const targets = Int32Array.from(rows, (r) => ids[r + 1]!);

function measure(mode: 'full' | 'lora'): { median: number; min: number; trainable: number } {
  const model = Gemma3Model.random(cfg, { seed: 0 });
  let params: Tensor[];
  if (mode === 'full') params = model.setTrainable(true);
  else {
    params = addAdapter(model, 'bench', { ...PAPER_LORA, dropout: 0, targetModules: decoderTargets('gemma3') });
    setActiveAdapter(model, 'bench');
  }
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0 });
  const step = () => {
    for (const p of params) p.zeroGrad();
    const loss = crossEntropy(model.forward({ ids, batch: B, length: T, pixels, rows }), targets);
    loss.item();
    backward(loss);
    opt.update(1e-4);
  };
  for (let i = 0; i < 3; i++) step();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[5]!, min: times[0]!, trainable: params.reduce((a, p) => a + p.size, 0) };
}

const script = join(dirname(fileURLToPath(import.meta.url)), 'train_torch.py');
const tokens = B * T;
console.log(`batch ${B} × ${T} tokens, one ${S} px image per sequence; vlm2vla on ${getBackend().describe()}`);
for (const mode of ['full', 'lora'] as const) {
  const ours = measure(mode);
  console.log(`vlm2vla ${mode}: median ${ours.median.toFixed(0)} ms per step = ${Math.round((tokens / ours.median) * 1000)} tokens/s (${ours.trainable} trainable)`);
  let best: { median_ms: number; threads: number } | null = null;
  for (const threads of [1, 2]) {
    const run = spawnSync('/usr/bin/python3', [script, String(threads), mode, String(T), String(MM), String(cfg.text.slidingWindow)], { env: { ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_NUM_THREADS: String(threads) }, encoding: 'utf8' });
    if (run.status !== 0) {
      console.log(`PyTorch reference not available (${run.stderr.trim().split('\n').pop()}); install it with: apt-get install -y python3-torch libopenblas0-pthread`);
      process.exit(0);
    }
    const t = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; median_ms: number; trainable: number };
    console.log(`PyTorch ${t.torch} ${mode}, ${t.threads} thread(s): median ${t.median_ms.toFixed(0)} ms per step = ${Math.round((tokens / t.median_ms) * 1000)} tokens/s (${t.trainable} trainable)`);
    if (!best || t.median_ms < best.median_ms) best = t;
  }
  console.log(`${mode}: throughput ratio vlm2vla / PyTorch (best of 1 and 2 threads) = ${(best!.median_ms / ours.median).toFixed(2)}`);
}
