// Rehearsal while fine-tuning: a share of the training sequences are conversations of the base
// model's own pretraining corpus (scenes, knowledge, five languages, number and list language),
// encoded exactly as pretraining encodes them. They are drawn from an index range pretraining never
// reaches and never from the held-out VQA set, so VQA retention stays a held-out measurement.
import { UsageError } from '../errors/index.ts';
import { DEFAULT_CORPUS_MIX, conversationMessages, corpusConversation, renderScene } from '../corpus/index.ts';
import type { CorpusMix } from '../corpus/index.ts';
import { imageToPixels } from '../models/gemma3/preprocess.ts';
import { encodeConversation } from './sft.ts';
import type { ChatEncoder } from './sft.ts';
import type { ExampleSource, TrainExample } from './trainer.ts';

/** First corpus index of the rehearsal range (the base preset trains on the first 4300 × 16). */
export const REPLAY_OFFSET = 50_000_000;

/** `count` corpus conversations of seed `seed`, computed on demand, as training sequences. */
export class CorpusReplaySource implements ExampleSource {
  constructor(
    readonly enc: ChatEncoder,
    readonly seed: number,
    readonly length: number,
    /** The mix the base model was pretrained on (the `base` preset's for the embedded model). */
    readonly mix: CorpusMix = DEFAULT_CORPUS_MIX,
    readonly offset = REPLAY_OFFSET,
  ) {}

  at(index: number): TrainExample | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    const conv = corpusConversation(this.seed, this.offset + index, this.mix);
    const { ids, mask } = encodeConversation(conversationMessages(conv), this.enc, `corpus conversation ${this.offset + index}`);
    let pixels: Float32Array | null = null;
    if (conv.scene) {
      const cfg = this.enc.cfg;
      if (cfg.modelType !== 'gemma3')
        throw new UsageError(
          'corpus rehearsal has images; the model must be a gemma3 vision-language model',
          'drop --corpus-share for a text-only model',
        );
      pixels = imageToPixels(renderScene(conv.scene, cfg.vision.imageSize), cfg.vision.imageSize);
    }
    return { ids: Int32Array.from(ids), mask: Uint8Array.from(mask), pixels };
  }
}

/** The SFT sequences followed by `replay`'s: one source the trainer shuffles as a whole. */
export class MixedSource implements ExampleSource {
  readonly length: number;
  constructor(
    readonly first: readonly TrainExample[],
    readonly replay: ExampleSource,
  ) {
    this.length = first.length + replay.length;
  }

  at(index: number): TrainExample | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    return index < this.first.length ? this.first[index] : this.replay.at(index - this.first.length);
  }
}

/** How many rehearsal conversations make up `share` of a training set with `sft` sequences. */
export function replayCount(sft: number, share: number): number {
  if (!(Number.isFinite(share) && share >= 0 && share < 1))
    throw new UsageError(`the corpus share must be at least 0 and below 1, got ${share}`, 'e.g. --corpus-share 0.2');
  return Math.round((sft * share) / (1 - share));
}
