// Where a model attends when a question names an object: "Is there a X on the table?" about scenes of
// 3 to 5 objects that hold X. For each decoder layer and head, the attention of two queries — the last
// prompt token (where the answer is produced) and the last token of the name in the question — split
// into the mass on X's image tokens, on the other objects' tokens, on empty cells (table, gripper) and
// on text. If a head picks out the named object, its share of the object mass on X is well above X's
// share of the object cells (cells per the vision stage's labels). Used for docs/train.md.
// Run: node --import tsx experiments/probes/attention-probe.ts [--model models/base] [--scenes 40]
import { vqaPrompt } from '../../src/eval/vqa.ts';
import { sampleCorpusScene } from '../../src/corpus/corpus.ts';
import { denseLabels } from '../../src/pretrain/vision-stage.ts';
import { CATALOGUE, getObject } from '../../src/sim/catalogue.ts';
import { Rng } from '../../src/util/index.ts';
import { initBackend, noGrad } from '../../src/tensor/index.ts';
import type { Tensor } from '../../src/tensor/index.ts';
import { failWith, loadVisionModelOrFail, parseArgsOrFail, wholeNumberOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('attention-probe');
const { values } = parseArgsOrFail(
  { options: { model: { type: 'string', default: 'models/base' }, scenes: { type: 'string', default: '40' } } },
  fail,
);
const scenes = wholeNumberOrFail(values.scenes, '--scenes', 1, Infinity, fail);

await initBackend();
const { m, cfg } = loadVisionModelOrFail(values.model, fail);
const t = cfg.text;
const grid = Math.round(Math.sqrt(cfg.mmTokensPerImage));
const scale = t.queryPreAttnScalar ** -0.5;
const QUERIES = ['the last prompt token', "the name's last token"] as const;
// mass[query][layer][head][X, other objects, empty, text], summed over scenes
const mass = QUERIES.map(() => t.layerTypes.map(() => Array.from({ length: t.numHeads }, () => new Float64Array(4))));
const classOf = new Map(CATALOGUE.map((o, i) => [o.id, i]));
const rng = new Rng(5);
let cellShare = 0;
for (let done = 0; done < scenes;) {
  const scene = sampleCorpusScene(rng);
  if (scene.placements.length < 3) continue;
  const target = rng.pick(scene.placements);
  const cls = classOf.get(target.id)!;
  const cells = denseLabels(scene, cfg.vision.imageSize, grid).labels;
  const xCells = cells.filter((c) => c === cls).length;
  if (xCells === 0) continue; // hidden behind another object
  cellShare += xCells / cells.filter((c) => c < CATALOGUE.length).length;
  const name = getObject(target.id).names.en;
  const asked = `Is there ${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
  const { ids, pixels } = vqaPrompt(m, { category: 'identity', scene, question: `${asked} on the table?`, answer: 'yes' });
  const first = ids.indexOf(cfg.imageTokenIndex);
  const rows = [ids.length - 1, ids.lastIndexOf(m.tokenizer.encode(asked).at(-1)!)];
  const kind = (j: number) =>
    j < first || j >= first + cells.length ? 3 : cells[j - first] === cls ? 0 : cells[j - first]! < CATALOGUE.length ? 1 : 2;
  const onAttention = (layer: number, q: Tensor, k: Tensor, sliding: boolean) => {
    rows.forEach((row, r) => {
      const lo = sliding ? Math.max(0, row - t.slidingWindow + 1) : 0;
      for (let h = 0; h < t.numHeads; h++) {
        const kh = Math.floor(h / (t.numHeads / t.numKvHeads));
        const s = new Float64Array(row - lo + 1);
        for (let j = lo; j <= row; j++) {
          let d = 0;
          for (let e = 0; e < t.headDim; e++)
            d += q.data[(row * t.numHeads + h) * t.headDim + e]! * k.data[(j * t.numKvHeads + kh) * t.headDim + e]!;
          s[j - lo] = d * scale;
        }
        const max = Math.max(...s);
        let z = 0;
        for (let i = 0; i < s.length; i++) z += s[i] = Math.exp(s[i]! - max);
        for (let i = 0; i < s.length; i++) mass[r]![layer]![h]![kind(lo + i)]! += s[i]! / z;
      }
    });
  };
  noGrad(() => m.model.forward({ ids: Int32Array.from(ids), batch: 1, length: ids.length, pixels }, null, { onAttention }));
  done++;
}
console.log(
  `${values.model}: ${scenes} scenes of 3–5 objects holding the named one; its cells are ${((100 * cellShare) / scenes).toFixed(1)}% of the object cells on average`,
);
console.log("per head: mass on X / other objects / empty cells / text (X's share of the object mass)");
QUERIES.forEach((query, r) => {
  console.log(`query at ${query}:`);
  mass[r]!.forEach((heads, layer) => {
    const cols = heads.map((v) => {
      const f = [...v].map((x) => x / scenes);
      return `${f.map((x) => x.toFixed(2)).join('/')} (${((100 * f[0]!) / (f[0]! + f[1]! || 1)).toFixed(0)}%)`;
    });
    console.log(`  layer ${layer} (${t.layerTypes[layer] === 'full_attention' ? 'global' : 'local'}): ${cols.join('  ')}`);
  });
});
