// Tiny models and examples for trainer tests: a miniature gemma3 and sequences that contain an image,
// a "user" part (not trained) and an "assistant" part (trained) that depends on the image.
import { Gemma3Model } from '../../models/gemma3/model.ts';
import { tinyGemma3Config, randomParams } from '../../models/gemma3/testing.ts';
import { Rng } from '../../util/index.ts';
import type { Tensor } from '../../tensor/index.ts';
import type { TrainExample } from '../trainer.ts';

export function tinyModel(seed = 1): Gemma3Model {
  const cfg = tinyGemma3Config({ text_config: { final_logit_softcapping: null, sliding_window: 16 } });
  const params = randomParams(cfg, seed, 0.1);
  // The tied LM head is frozen under LoRA and the final norm fixes |h|, so logits can only be as
  // sharp as the embedding rows are long: at width 32, std 0.1 caps p(answer) near 0.25. Real
  // models have long rows; give the tiny one std 1.
  const embed = params.get('language_model.model.embed_tokens.weight') as Tensor;
  for (let i = 0; i < embed.size; i++) embed.data[i]! *= 10;
  return new Gemma3Model(cfg, params);
}

/** n examples: [bos, boi, 4 image tokens, eoi, user tokens…, answer tokens…]; the answer (2–3 tokens)
 *  is a function of which of two images is shown. */
export function tinyExamples(n: number, seed = 2): TrainExample[] {
  const rng = new Rng(seed);
  const I = 63;
  const images = [0, 1].map((k) => Float32Array.from({ length: 3 * 64 }, (_, i) => (k === 0 ? Math.sin(i) : Math.cos(i * 0.3))));
  return Array.from({ length: n }, () => {
    const k = rng.int(0, 1);
    const user = Array.from({ length: rng.int(1, 3) }, () => rng.int(10, 30));
    const answer = k === 0 ? [40, 41, 42] : [50, 51];
    const ids = [2, 61, I, I, I, I, 62, ...user, ...answer, 1];
    const mask = ids.map((_, t) => (t >= ids.length - answer.length - 1 ? 1 : 0));
    return { ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels: images[k]! };
  });
}
