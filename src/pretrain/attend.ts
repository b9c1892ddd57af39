// Attention targets: an auxiliary loss that trains chosen attention heads of one layer, at chosen
// query positions, to attend to chosen key positions (the pretraining's grounding attention: at the
// token that produces an answer, one head looks at the image tokens of the object the question names
// first, another at the second's). For each target group, the head's scaled q·k logits over the
// group's candidate keys (the image tokens) go through a softmax, and the loss is the cross-entropy
// of each target key — averaged over all target keys of the batch. It reads the same queries and keys
// the forward pass attends with (post-norm, post-RoPE; the forward option `onAttention`), so its gradient
// reaches every weight below the layer. Assumes a batch laid out by `makeBatch` (row b holds example
// b from position 0).
import { add, crossEntropy, gatherRows, linear, reshape, scale } from '../tensor/index.ts';
import type { Tensor } from '../tensor/index.ts';
import { ShapeError } from '../errors/index.ts';

/** Attention targets of one example. Group g: the query at position `queries[g]`, through head
 *  `heads[g]`, over the candidate key positions `keys`, should attend to the candidates
 *  `targets[start[g]] … targets[start[g + 1] - 1]` (indices into `keys`). */
export interface AttendTargets {
  keys: Int32Array;
  queries: Int32Array;
  heads: Int32Array;
  start: Int32Array;
  targets: Int32Array;
}

/** The mean attention-target cross-entropy of a batch (null when no example has targets), from the
 *  layer's queries [B, T, Hq, Dh] and keys [B, T, Hkv, Dh] and the attention scale. */
export function attentionTargetLoss(
  q: Tensor,
  k: Tensor,
  examples: readonly { ids: Int32Array; attend?: AttendTargets }[],
  attnScale: number,
): { loss: Tensor; count: number } | null {
  const [B, T, Hq, Dh] = q.shape as [number, number, number, number];
  const Hkv = k.shape[2]!;
  const q2 = reshape(q, [B * T * Hq, Dh]);
  const k2 = reshape(k, [B * T * Hkv, Dh]);
  const parts: { loss: Tensor; n: number }[] = [];
  let total = 0;
  examples.forEach((e, b) => {
    const a = e.attend;
    if (!a || a.queries.length === 0) return;
    checkTargets(a, e.ids.length, Hq);
    const qRows = Int32Array.from(a.queries, (p, g) => (b * T + p) * Hq + a.heads[g]!);
    // A head reads the keys of its kv head: one logit matrix per kv head the groups use.
    const kvOf = Array.from(a.heads, (h) => Math.floor(h / (Hq / Hkv)));
    for (const kv of new Set(kvOf)) {
      const gs = [...kvOf.keys()].filter((g) => kvOf[g] === kv);
      const pick: number[] = [];
      const t: number[] = [];
      gs.forEach((g, row) => {
        for (let i = a.start[g]!; i < a.start[g + 1]!; i++) {
          pick.push(row);
          t.push(a.targets[i]!);
        }
      });
      if (t.length === 0) continue;
      const Q = gatherRows(
        q2,
        Int32Array.from(gs, (g) => qRows[g]!),
      );
      const K = gatherRows(
        k2,
        Int32Array.from(a.keys, (p) => (b * T + p) * Hkv + kv),
      );
      const logits = scale(linear(Q, K), attnScale);
      parts.push({ loss: crossEntropy(gatherRows(logits, Int32Array.from(pick)), Int32Array.from(t)), n: t.length });
      total += t.length;
    }
  });
  if (total === 0) return null;
  let loss: Tensor | null = null;
  for (const p of parts) {
    const term = scale(p.loss, p.n / total);
    loss = loss ? add(loss, term) : term;
  }
  return { loss: loss!, count: total };
}

function checkTargets(a: AttendTargets, length: number, heads: number): void {
  const G = a.queries.length;
  if (a.heads.length !== G || a.start.length !== G + 1 || a.start[0] !== 0 || a.start[G] !== a.targets.length)
    throw new ShapeError(`attention targets: ${G} queries need ${G} heads and ${G + 1} group starts from 0 to ${a.targets.length}`, {
      field: 'attend',
    });
  for (const p of a.queries)
    if (!(p >= 0 && p < length))
      throw new ShapeError(`attention targets: query position ${p} is outside the sequence of ${length} tokens`, {
        field: 'attend.queries',
      });
  for (const p of a.keys)
    if (!(p >= 0 && p < length))
      throw new ShapeError(`attention targets: key position ${p} is outside the sequence of ${length} tokens`, { field: 'attend.keys' });
  for (const h of a.heads)
    if (!(h >= 0 && h < heads))
      throw new ShapeError(`attention targets: head ${h} is outside the layer's ${heads} heads`, { field: 'attend.heads' });
  for (const t of a.targets)
    if (!(t >= 0 && t < a.keys.length))
      throw new ShapeError(`attention targets: target ${t} is outside the ${a.keys.length} candidate keys`, { field: 'attend.targets' });
}
