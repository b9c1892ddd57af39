// Do a model's image tokens say where things are? A linear probe (ridge regression, fitted on 3/4 of
// the tokens, scored on the rest) from the image features the decoder receives to where the object a
// token shows stands on the table: its x and y bin (2 cm, as in the vision stage's position heads).
// An RMSE near the spread of the bins means the features carry no position the decoder could read.
// The probe behind the frozen tower of the base preset (docs/train.md).
// Run: node --import tsx experiments/probes/position-probe.ts [--model models/base] [--scenes 600]
import { loadModel } from '../../src/models/index.ts';
import type { Gemma3Model } from '../../src/models/index.ts';
import { initBackend, noGrad } from '../../src/tensor/index.ts';
import { sampleCorpusScene } from '../../src/corpus/corpus.ts';
import { IGNORE, denseLabels } from '../../src/pretrain/vision-stage.ts';
import { Rng } from '../../src/util/index.ts';
import { isVlmError } from '../../src/errors/index.ts';
import { failWith, parseArgsOrFail, wholeNumberOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('position-probe');
const { values } = parseArgsOrFail(
  { options: { model: { type: 'string', default: 'models/base' }, scenes: { type: 'string', default: '600' } } },
  fail,
);
const scenes = wholeNumberOrFail(values.scenes, '--scenes', 20, Infinity, fail);
await initBackend();
let model: Gemma3Model;
try {
  model = loadModel(values.model) as Gemma3Model;
} catch (e) {
  if (isVlmError(e)) fail(e.message);
  throw e;
}
if (model.cfg.modelType !== 'gemma3') fail(`${values.model} is text-only: the probe needs a gemma3 vision-language model`);
const size = model.cfg.vision.imageSize;
const grid = Math.round(Math.sqrt(model.cfg.mmTokensPerImage));
const features: Float64Array[] = [];
const targets: [number, number][] = [];
const rng = new Rng(0x9051);
for (let s = 0; s < scenes; s++) {
  const { pixels, labels } = denseLabels(sampleCorpusScene(rng), size, grid, true);
  const f = noGrad(() => model.encodeImages(pixels)).data;
  const cells = grid * grid;
  const D = f.length / cells;
  for (let t = 0; t < cells; t++) {
    if (labels[cells + t] === IGNORE) continue;
    const x = new Float64Array(D + 1);
    for (let d = 0; d < D; d++) x[d] = f[t * D + d]!;
    x[D] = 1;
    features.push(x);
    targets.push([labels[cells + t]!, labels[2 * cells + t]!]);
  }
}
const M = features[0]!.length;
const fit = Math.floor(features.length * 0.75);
// Normal equations (XᵀX + λI) w = Xᵀy for both targets, solved by Gaussian elimination with pivoting.
const A = new Float64Array(M * M);
const B = new Float64Array(M * 2);
for (let i = 0; i < fit; i++) {
  const x = features[i]!;
  for (let a = 0; a < M; a++) {
    const xa = x[a]!;
    for (let b = 0; b < M; b++) A[a * M + b] += xa * x[b]!;
    B[a * 2] += xa * targets[i]![0];
    B[a * 2 + 1] += xa * targets[i]![1];
  }
}
let trace = 0;
for (let a = 0; a < M; a++) trace += A[a * M + a]!;
for (let a = 0; a < M; a++) A[a * M + a] += 1e-4 * (trace / M);
for (let c = 0; c < M; c++) {
  let p = c;
  for (let r = c + 1; r < M; r++) if (Math.abs(A[r * M + c]!) > Math.abs(A[p * M + c]!)) p = r;
  for (let k = 0; k < M; k++) [A[c * M + k], A[p * M + k]] = [A[p * M + k]!, A[c * M + k]!];
  for (let k = 0; k < 2; k++) [B[c * 2 + k], B[p * 2 + k]] = [B[p * 2 + k]!, B[c * 2 + k]!];
  for (let r = c + 1; r < M; r++) {
    const q = A[r * M + c]! / A[c * M + c]!;
    if (q === 0) continue;
    for (let k = c; k < M; k++) A[r * M + k] -= q * A[c * M + k]!;
    for (let k = 0; k < 2; k++) B[r * 2 + k] -= q * B[c * 2 + k]!;
  }
}
const w = new Float64Array(M * 2);
for (let c = M - 1; c >= 0; c--) {
  for (let k = 0; k < 2; k++) {
    let s = B[c * 2 + k]!;
    for (let j = c + 1; j < M; j++) s -= A[c * M + j]! * w[j * 2 + k]!;
    w[c * 2 + k] = s / A[c * M + c]!;
  }
}
const test = features.length - fit;
const err = [0, 0];
const spread = [0, 0];
const mean = [0, 1].map((k) => targets.slice(0, fit).reduce((a, t) => a + t[k]!, 0) / fit);
for (let i = fit; i < features.length; i++) {
  for (let k = 0; k < 2; k++) {
    let p = 0;
    for (let a = 0; a < M; a++) p += features[i]![a]! * w[a * 2 + k]!;
    err[k] += (p - targets[i]![k]!) ** 2;
    spread[k] += (mean[k]! - targets[i]![k]!) ** 2;
  }
}
const rmse = (v: number) => Math.sqrt(v / test).toFixed(2);
console.log(`${values.model}: ${features.length} object tokens of ${scenes} scenes (${test} held out)`);
console.log(`x bin (forward): RMSE ${rmse(err[0]!)} bins, against ${rmse(spread[0]!)} for always the mean`);
console.log(`y bin (left):    RMSE ${rmse(err[1]!)} bins, against ${rmse(spread[1]!)} for always the mean`);
