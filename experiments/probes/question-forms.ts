// Accuracy of a model on each English question form of the pretraining corpus, over fresh scenes (a
// stream of its own, not the held-out VQA set): where the VQA categories only say "spatial 52%", this
// says which question forms are right, and what the model answers when it is not (a constant answer
// means the form is not learnt at all). Used for docs/train.md.
// Run: node --import tsx experiments/probes/question-forms.ts [--model models/base] [--n 60] [--max-objects 5]
import { EN_SCENE, normaliseAnswer, sampleCorpusScene } from '../../src/corpus/corpus.ts';
import type { Scene } from '../../src/corpus/conversation.ts';
import { Rng } from '../../src/util/index.ts';
import { answerStopIds, vqaPrompt } from '../../src/eval/vqa.ts';
import type { VqaItem } from '../../src/corpus/corpus.ts';
import { generate } from '../../src/decode/index.ts';
import { initBackend } from '../../src/tensor/index.ts';
import { failWith, loadModelOrFail, parseArgsOrFail, wholeNumberOrFail } from './script-util.ts';

const fail: (message: string) => never = failWith('question-forms');
const { values } = parseArgsOrFail(
  {
    options: {
      model: { type: 'string', default: 'models/base' },
      n: { type: 'string', default: '60' },
      'max-objects': { type: 'string', default: '5' },
    },
  },
  fail,
);
const n = wholeNumberOrFail(values.n, '--n', 1, Infinity, fail);
const maxObjects = wholeNumberOrFail(values['max-objects'], '--max-objects', 1, 5, fail);

await initBackend();
const m = loadModelOrFail(values.model, fail);
const stop = answerStopIds(m);
console.log(`${values.model}: ${n} questions per form, scenes of 1 to ${maxObjects} objects\n`);
console.log('| form | example | right | most frequent answers |\n|---|---|---|---|');
for (const [group, gens] of Object.entries(EN_SCENE)) {
  for (const [k, gen] of gens.entries()) {
    const rng = new Rng(0x51de + k * 131 + group.length * 7919);
    const items: VqaItem[] = [];
    // Forms that need two objects cannot be asked about one-object scenes: give up after 50·n draws.
    for (let tries = 0; items.length < n && tries < 50 * n; tries++) {
      const scene: Scene = sampleCorpusScene(rng, maxObjects);
      const q = gen(scene, rng);
      if (q) items.push({ category: 'spatial', scene, question: q.question, answer: q.answer });
    }
    if (items.length === 0) continue;
    let right = 0;
    const counts = new Map<string, number>();
    for (let i = 0; i < items.length; i += 32) {
      const batch = items.slice(i, i + 32);
      const out = generate(
        m.model,
        batch.map((it) => vqaPrompt(m, it)),
        { maxNewTokens: 24, eosIds: stop },
      );
      out.forEach((g, j) => {
        const said = normaliseAnswer(m.tokenizer.decode(g.tokens, { skipSpecial: true }));
        counts.set(said, (counts.get(said) ?? 0) + 1);
        if (said === normaliseAnswer(batch[j]!.answer)) right++;
      });
    }
    const top = [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([a, c]) => `${a.length > 30 ? `${a.slice(0, 30)}…` : a} (${c})`)
      .join(', ');
    console.log(`| ${group} ${k + 1} | ${items[0]!.question} | ${right}/${items.length} | ${top} |`);
  }
}
