// Embedding lookup and the token cross-entropy (mean over non-ignored targets), fused with log-softmax.
import { Tensor } from '../tensor.ts';
import { getBackend } from '../backends/index.ts';
import { activation, gradBuffer, registerOp, run } from '../tape.ts';

registerOp<{ ids: Int32Array }>('embedding', {
  forward([table], { ids }) {
    const D = table!.shape[1]!;
    const out = activation([ids.length, D]);
    getBackend().embedding(table!.data, ids, out.data, ids.length, D);
    return { output: out };
  },
  backward([table], _o, g, _s, { ids }) {
    const dt = gradBuffer(table!.size);
    getBackend().embeddingBackward(g, ids, dt, ids.length, table!.shape[1]!);
    return [dt];
  },
});

registerOp<{ targets: Int32Array; ignoreIndex: number }>('crossEntropy', {
  forward([logits], { targets, ignoreIndex }) {
    const V = logits!.shape[logits!.shape.length - 1]!;
    const N = logits!.size / V;
    const losses = new Float32Array(N);
    const lse = new Float32Array(N);
    const count = getBackend().crossEntropy(logits!.data, targets, ignoreIndex, losses, lse, N, V);
    let s = 0;
    for (let i = 0; i < N; i++) s += losses[i]!;
    return { output: Tensor.from([1], [count > 0 ? s / count : 0]), saved: { lse, count } };
  },
  backward([logits], _o, g, saved, { targets, ignoreIndex }) {
    const { lse, count } = saved as { lse: Float32Array; count: number };
    const V = logits!.shape[logits!.shape.length - 1]!;
    const d = gradBuffer(logits!.size);
    if (count > 0) getBackend().crossEntropyBackward(logits!.data, targets, ignoreIndex, lse, g[0]! / count, d, logits!.size / V, V);
    return [d];
  },
});

export const embedding = (table: Tensor, ids: Int32Array) => run('embedding', [table], { ids });
export const crossEntropy = (logits: Tensor, targets: Int32Array, ignoreIndex = -100) =>
  run('crossEntropy', [logits], { targets, ignoreIndex });
