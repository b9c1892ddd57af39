// The language stage's objective for pretraining: next-token loss on the answers, plus image-token
// naming (chosen image tokens also trained to predict the name of the object they show) and,
// optionally, grounding attention (chosen heads of one layer trained to attend to the named objects'
// image tokens, attend.ts), passed to the generic trainer as its `objective`.
import { UsageError } from '../errors/index.ts';
import type { Gemma3Model } from '../models/index.ts';
import { add, crossEntropy, scale } from '../tensor/index.ts';
import type { Tensor } from '../tensor/index.ts';
import { makeBatch } from '../train/index.ts';
import type { Objective, TrainExample } from '../train/index.ts';
import { attentionTargetLoss } from './attend.ts';
import type { AttendTargets } from './attend.ts';

/** A pretraining conversation with its grounding targets. */
export interface GroundingExample extends TrainExample {
  /** Targets on the token itself rather than the next one: position `at[k]` of `ids` is trained to
   *  predict token `ids[k]` (image-token naming: an image token names the object it shows). Counted
   *  in the loss like any trained token. */
  own?: { at: Int32Array; ids: Int32Array };
  /** Attention targets: heads of one layer trained to attend to given positions (attend.ts). */
  attend?: AttendTargets;
}

/** `makeBatch` with each example's own-token targets after its next-token rows. */
export function namingBatch(examples: readonly GroundingExample[], padId: number): ReturnType<typeof makeBatch> {
  const { input, targets } = makeBatch(examples, padId);
  if (!examples.some((e) => e.own)) return { input, targets };
  const T = input.length;
  const rows: number[] = [];
  const out: number[] = [];
  let r = 0;
  examples.forEach((e, b) => {
    // makeBatch writes example b's rows together, in order: copy them, then append its own-token rows.
    while (r < input.rows.length && Math.floor(input.rows[r]! / T) === b) {
      rows.push(input.rows[r]!);
      out.push(targets[r]!);
      r++;
    }
    if (!e.own) return;
    for (let k = 0; k < e.own.at.length; k++) {
      const t = e.own.at[k]!;
      if (!(Number.isInteger(t) && t >= 0 && t < e.ids.length))
        throw new RangeError(`own-token target at ${t} is outside the sequence of ${e.ids.length} tokens`);
      rows.push(b * T + t);
      out.push(e.own.ids[k]!);
    }
  });
  return { input: { ...input, rows: Int32Array.from(rows) }, targets: Int32Array.from(out) };
}

/** Grounding attention: the examples' `attend` targets are trained on decoder layer `layer`, adding
 *  `weight` × their mean cross-entropy to the loss. */
export interface AttentionObjective {
  layer: number;
  weight: number;
}

/** The language-stage objective: next-token and naming cross-entropy, plus `weight` × the attention
 *  targets' cross-entropy when `attention` is given (reported as the `attendLoss` metric). */
export function groundingObjective(attention?: AttentionObjective): Objective<GroundingExample> {
  if (attention && !(attention.weight >= 0 && Number.isFinite(attention.weight)))
    throw new UsageError(`attention targets: weight must be a finite number >= 0, got ${attention.weight}`);
  return (model: Gemma3Model, examples: readonly GroundingExample[]) => {
    const { input, targets } = namingBatch(examples, model.text.padTokenId);
    const tokens = input.kvLen.reduce((a, b) => a + b, 0);
    if (targets.length === 0) return { loss: null, tokens };
    if (!attention || !examples.some((e) => e.attend)) return { loss: crossEntropy(model.forward(input), targets), tokens };
    const layers = model.text.numLayers;
    if (!(Number.isInteger(attention.layer) && attention.layer >= 0 && attention.layer < layers))
      throw new UsageError(`attention targets: layer ${attention.layer} is not one of the model's layers 0-${layers - 1}`);
    let probed: { q: Tensor; k: Tensor } | null = null;
    const onAttention = (li: number, q: Tensor, k: Tensor) => {
      if (li === attention.layer) probed = { q, k };
    };
    let loss = crossEntropy(model.forward(input, null, { onAttention }), targets);
    if (!probed) return { loss, tokens };
    const { q, k } = probed as { q: Tensor; k: Tensor };
    const extra = attentionTargetLoss(q, k, examples, model.text.queryPreAttnScalar ** -0.5);
    if (!extra) return { loss, tokens };
    const attendLoss = extra.loss.item();
    loss = add(loss, scale(extra.loss, attention.weight));
    return { loss, tokens, metrics: { attendLoss } };
  };
}
