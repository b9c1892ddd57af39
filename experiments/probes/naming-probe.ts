// How well a model's image tokens name the object they show: for fresh scenes (an index range the
// pretraining corpus never reaches), the LM head's argmax at every image token whose cell shows an
// object (the vision stage's labels) against the last token of that object's English name — what the
// base preset's image-token naming trains (PretrainPreset.namingCells, docs/train.md).
// Run: node --import tsx experiments/probes/naming-probe.ts [--model models/base] [--scenes 64]
import { CorpusSource, PRETRAIN_PRESETS } from '../../src/pretrain/pretrain.ts';
import { makeBatch } from '../../src/train/trainer.ts';
import { crossEntropy, initBackend, noGrad } from '../../src/tensor/index.ts';
import { argmax } from '../../src/decode/sampling.ts';
import { failWith, loadVisionModelOrFail, parseArgsOrFail, wholeNumberOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('naming-probe');
const { values } = parseArgsOrFail(
  { options: { model: { type: 'string', default: 'models/base' }, scenes: { type: 'string', default: '64' } } },
  fail,
);
const scenes = wholeNumberOrFail(values.scenes, '--scenes', 1, Infinity, fail);

await initBackend();
const { m, cfg } = loadVisionModelOrFail(values.model, fail);
m.model.rng = null;
// Every object cell of each scene is a target (64 ≥ the cells of a 8×8 grid); questions are not scored.
const mix = { ...PRETRAIN_PRESETS.base!.mix!, textShare: 0 };
const src = new CorpusSource(
  { tokenizer: m.tokenizer, template: m.template, cfg },
  99,
  scenes,
  5_000_000,
  mix,
  undefined,
  cfg.mmTokensPerImage,
);
let right = 0;
let total = 0;
let nll = 0;
for (let i = 0; i < scenes; i += 8) {
  const batch = Array.from({ length: Math.min(8, scenes - i) }, (_, k) => {
    const e = src.at(i + k)!;
    return { ...e, mask: new Uint8Array(e.mask.length) };
  });
  const { input, targets } = makeBatch(batch, m.model.text.padTokenId);
  if (targets.length === 0) continue;
  const logits = noGrad(() => m.model.forward(input));
  nll += noGrad(() => crossEntropy(logits, targets).item()) * targets.length;
  const V = logits.shape[1]!;
  for (let r = 0; r < targets.length; r++) if (argmax(logits.data.subarray(r * V, (r + 1) * V)) === targets[r]) right++;
  total += targets.length;
}
console.log(
  `${values.model}: ${right} of ${total} object cells of ${scenes} scenes name their object (${((100 * right) / total).toFixed(1)}%), mean loss ${(nll / total).toFixed(3)} nats`,
);
