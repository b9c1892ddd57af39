// The metrics of `vlm2vla eval actions` (pure functions): a chunk's per-element error against its
// reference (elements aligned by index, the shorter padded with zero motion), the zero-motion and
// mean-action baselines, and the scores of one decoding pass over one stage's answers.
import type { ActionCodec, ActionElement } from '../actions/index.ts';

/** How a stage's answers are judged: its strict decoder, and whether they are action chunks. */
export interface AnswerCheck {
  wellFormed(text: string): boolean;
  actions: boolean;
}

/** Sums of a chunk compared element by element: `elements` aligned pairs, `errorCm` the sum over
 *  them of the mean |Δ| of dx, dy, dz (cm), `gripperMatches` the pairs whose gripper agrees. */
export interface ChunkErrorSums {
  elements: number;
  errorCm: number;
  gripperMatches: number;
}

/** Compares a predicted chunk with the reference, elements aligned by index; the shorter is padded
 *  with zero-motion elements that keep its last gripper state (a chunk that stopped early holds). */
export function chunkError(pred: readonly ActionElement[], ref: readonly ActionElement[]): ChunkErrorSums {
  const n = Math.max(pred.length, ref.length);
  const at = (c: readonly ActionElement[], i: number) => c[i] ?? { dx: 0, dy: 0, dz: 0, gripper: c.at(-1)?.gripper ?? 1 };
  let errorCm = 0;
  let gripperMatches = 0;
  for (let i = 0; i < n; i++) {
    const p = at(pred, i);
    const r = at(ref, i);
    errorCm += (Math.abs(p.dx - r.dx) + Math.abs(p.dy - r.dy) + Math.abs(p.dz - r.dz)) / 3;
    if (p.gripper === r.gripper) gripperMatches++;
  }
  return { elements: n, errorCm, gripperMatches };
}

const element = (dx: number, dy: number, dz: number, gripper: 0 | 1): ActionElement => ({
  dx,
  dy,
  dz,
  droll: 0,
  dpitch: 0,
  dyaw: 0,
  gripper,
});

/** The zero-motion baseline: `n` elements of no motion (gripper 0). */
export const zeroChunk = (n: number): ActionElement[] => Array.from({ length: n }, () => element(0, 0, 0, 0));

/** The mean element of some chunks (gripper: the majority, open on a tie), or null without any. */
export function meanElement(chunks: readonly (readonly ActionElement[])[]): (ActionElement & { count: number }) | null {
  const all = chunks.flat();
  if (all.length === 0) return null;
  const mean = (f: (e: ActionElement) => number) => all.reduce((a, e) => a + f(e), 0) / all.length;
  return {
    ...element(
      mean((e) => e.dx),
      mean((e) => e.dy),
      mean((e) => e.dz),
      mean((e) => e.gripper) >= 0.5 ? 1 : 0,
    ),
    count: all.length,
  };
}

/** One decoding pass's answer: its text and whether it was cut at the token limit. */
export interface PassAnswer {
  text: string;
  cut: boolean;
}

/** Action-chunk scores of one pass over the examples whose answer was well formed; the baselines
 *  are scored on the same examples. Null means nothing to score. */
export interface ActionScore {
  scored: number;
  errorCm: number | null;
  gripperAgreement: number | null;
  zeroErrorCm: number | null;
  meanErrorCm: number | null;
}

export interface PassScore {
  wellFormed: number;
  wellFormedRate: number;
  exact: number;
  exactRate: number;
  /** Answers cut at the token limit (never well formed: the model did not finish). */
  cut: number;
  actions?: ActionScore;
}

/** Scores the answers of one pass. An answer is well formed when it was not cut and the stage's
 *  strict decoder accepts it, exact when it was not cut and equals the reference. */
export function scorePass(
  answers: readonly PassAnswer[],
  references: readonly string[],
  check: AnswerCheck,
  codec: ActionCodec,
  mean: ActionElement | null,
): PassScore {
  let wellFormed = 0;
  let exact = 0;
  let cut = 0;
  const sums = {
    model: { elements: 0, errorCm: 0, gripperMatches: 0 },
    zero: { elements: 0, errorCm: 0 },
    mean: { elements: 0, errorCm: 0 },
  };
  let scored = 0;
  answers.forEach((a, i) => {
    const ref = references[i]!;
    if (a.cut) return void cut++;
    if (a.text === ref) exact++;
    if (!check.wellFormed(a.text)) return;
    wellFormed++;
    if (!check.actions) return;
    const pred = codec.decode(a.text);
    const truth = codec.decode(ref);
    if (!pred.ok || !truth.ok) return;
    scored++;
    const add = (into: { elements: number; errorCm: number }, s: ChunkErrorSums) => (
      (into.elements += s.elements),
      (into.errorCm += s.errorCm)
    );
    const m = chunkError(pred.value, truth.value);
    add(sums.model, m);
    sums.model.gripperMatches += m.gripperMatches;
    add(sums.zero, chunkError(zeroChunk(truth.value.length), truth.value));
    if (mean)
      add(
        sums.mean,
        chunkError(
          Array.from({ length: truth.value.length }, () => mean),
          truth.value,
        ),
      );
  });
  const n = answers.length;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  const score: PassScore = { wellFormed, wellFormedRate: n > 0 ? wellFormed / n : 0, exact, exactRate: n > 0 ? exact / n : 0, cut };
  if (check.actions)
    score.actions = {
      scored,
      errorCm: ratio(sums.model.errorCm, sums.model.elements),
      gripperAgreement: ratio(sums.model.gripperMatches, sums.model.elements),
      zeroErrorCm: ratio(sums.zero.errorCm, sums.zero.elements),
      meanErrorCm: mean ? ratio(sums.mean.errorCm, sums.mean.elements) : null,
    };
  return score;
}
