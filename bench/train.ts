// Training throughput of the `base` pretraining architecture (src/train/pretrain.ts: Gemma 3 decoder
// 4 × 256 with a SigLIP tower, 64 image tokens, sliding window 128) in full and LoRA (r 16, alpha 32 on the decoder's seven
// projections) mode, against PyTorch running the same architecture and shapes (bench/train_torch.py)
// in the same run. One step = forward, cross-entropy on every next token, backward, AdamW update, on a
// batch of 16 sequences × 256 tokens (about a pretraining conversation) with one 96 px image each.
// The PyTorch script gets the preset's sequence length, image-token count and window on its command
// line, so both sides always run the same shapes.
// Run: node --import tsx bench/train.ts [THREADS]      (default: all cores)
// Each mode runs in a child process of its own, so its peak resident memory (RSS) is its own.
// PyTorch: Debian's python3-torch with OPENBLAS_CORETYPE=SkylakeX (see bench/block.ts), thread for thread:
// on N cores its two settings that use exactly N threads — 1 torch thread + N OpenBLAS threads, and
// N torch threads + 1 OpenBLAS thread — each in its own process; the ratio is against the faster.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import {
  AdamW,
  backward,
  crossEntropy,
  getBackend,
  initBackend,
  tapeActivationFloats,
  lastBackwardGradFloats,
} from '../src/tensor/index.ts';
import type { Tensor } from '../src/tensor/index.ts';
import { printMachineLoad, verdict } from './machine.ts';
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

interface Measured {
  median: number;
  min: number;
  max: number;
  trainable: number;
  peakRssMiB: number;
  /** Floats of activations on the tape at the loss, and of gradient buffers in backward (last step). */
  activationMiB: number;
  gradMiB: number;
}

function measure(mode: 'full' | 'lora'): Measured {
  const model = Gemma3Model.random(cfg, { seed: 0 });
  let params: Tensor[];
  if (mode === 'full') params = model.setTrainable(true);
  else {
    params = addAdapter(model, 'bench', { ...PAPER_LORA, dropout: 0, targetModules: decoderTargets('gemma3') });
    setActiveAdapter(model, 'bench');
  }
  const opt = new AdamW(params, { lr: 1e-4, weightDecay: 0 });
  let activations = 0;
  const step = () => {
    for (const p of params) p.zeroGrad();
    const loss = crossEntropy(model.forward({ ids, batch: B, length: T, pixels, rows }), targets);
    loss.item();
    activations = tapeActivationFloats();
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
  const mib = (floats: number) => (floats * 4) / 2 ** 20;
  return {
    median: times[5]!,
    min: times[0]!,
    max: times.at(-1)!,
    trainable: params.reduce((a, p) => a + p.size, 0),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    activationMiB: mib(activations),
    gradMiB: mib(lastBackwardGradFloats()),
  };
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--child') {
  const mode = process.argv[3] as 'full' | 'lora';
  console.log(JSON.stringify({ backend: getBackend().describe(), ...measure(mode) }));
  process.exit(0);
}

const threads = Number(process.argv[2] ?? availableParallelism());
const load = printMachineLoad();
const script = join(dirname(self), 'train_torch.py');
const tokens = B * T;
console.log(`batch ${B} × ${T} tokens, one ${S} px image per sequence; ${threads} thread(s) on each side`);
const rssOf: Record<string, { ours: number; torch: number }> = {};
for (const mode of ['full', 'lora'] as const) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode], {
    env: { ...process.env, VLM2VLA_THREADS: String(threads) },
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(child.stderr);
  const ours = JSON.parse(child.stdout.trim().split('\n').pop()!) as Measured & { backend: string };
  console.log(
    `vlm2vla ${mode} (${ours.backend}): median ${ours.median.toFixed(0)} ms per step (min ${ours.min.toFixed(0)}, max ${ours.max.toFixed(0)}) = ${Math.round((tokens / ours.median) * 1000)} tokens/s; ` +
      `${ours.trainable} trainable; peak RSS ${ours.peakRssMiB.toFixed(0)} MiB (tape activations ${ours.activationMiB.toFixed(0)} MiB, backward gradient buffers ${ours.gradMiB.toFixed(0)} MiB)`,
  );
  let best: { median_ms: number; peak_rss_mib: number; setting: string } | null = null;
  for (const [torchThreads, blasThreads] of threads === 1
    ? [[1, 1]]
    : [
        [1, threads],
        [threads, 1],
      ]) {
    const env = {
      ...process.env,
      OPENBLAS_CORETYPE: 'SkylakeX',
      OPENBLAS_NUM_THREADS: String(blasThreads),
      OMP_NUM_THREADS: String(torchThreads),
    };
    const run = spawnSync('/usr/bin/python3', [script, String(torchThreads), mode, String(T), String(MM), String(cfg.text.slidingWindow)], {
      env,
      encoding: 'utf8',
    });
    if (run.status !== 0) {
      console.log(
        `PyTorch reference not available (${run.stderr.trim().split('\n').pop()}); install it with: apt-get install -y python3-torch libopenblas0-pthread`,
      );
      process.exit(0);
    }
    const t = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      torch: string;
      median_ms: number;
      min_ms: number;
      max_ms: number;
      trainable: number;
      peak_rss_mib: number;
    };
    const setting = `${torchThreads} torch thread(s) + ${blasThreads} OpenBLAS thread(s), OPENBLAS_CORETYPE=SkylakeX`;
    console.log(
      `PyTorch ${t.torch} ${mode}, ${setting}: median ${t.median_ms.toFixed(0)} ms per step (min ${t.min_ms.toFixed(0)}, max ${t.max_ms.toFixed(0)}) = ${Math.round((tokens / t.median_ms) * 1000)} tokens/s (${t.trainable} trainable); peak RSS ${t.peak_rss_mib.toFixed(0)} MiB`,
    );
    if (!best || t.median_ms < best.median_ms) best = { ...t, setting };
  }
  rssOf[mode] = { ours: ours.peakRssMiB, torch: best!.peak_rss_mib };
  console.log(
    `${mode}: throughput ratio vlm2vla / PyTorch at its best ${threads}-core setting (${best!.setting}) = ${(best!.median_ms / ours.median).toFixed(2)}`,
  );
}
const loraOk = rssOf.lora!.ours <= rssOf.full!.ours;
console.log(
  `peak RSS, LoRA vs full: vlm2vla ${rssOf.lora!.ours.toFixed(0)} vs ${rssOf.full!.ours.toFixed(0)} MiB, PyTorch ${rssOf.lora!.torch.toFixed(0)} vs ${rssOf.full!.torch.toFixed(0)} MiB; target LoRA ≤ full: ${verdict(loraOk, load)}`,
);
