// How a held-out answer is judged: words by exact match after `normaliseAnswer`; lists (answers that
// start with "[") strictly — the whole prediction must be one JSON value (nothing before or after it
// but spaces) with the same nesting, the same numbers and exactly the same strings. A list answer
// loosened by normalisation (case, quotes, trailing punctuation) would count an unclosed or unquoted
// list as right, which is the failure the list categories exist to measure.
import { normaliseAnswer } from './corpus.ts';

/** The longest prediction parsed as a list (held-out answers are far shorter). */
const MAX_LIST_CHARS = 4096;

type Shape = 'strings' | `numbers:${number}` | `lists:${number}`;

/** The shape of a list answer: a list of strings, a list of n numbers, or a non-empty list of lists
 *  of n numbers each; null for anything else. */
function shapeOf(v: unknown): Shape | null {
  if (!Array.isArray(v)) return null;
  if (v.every((x) => typeof x === 'string')) return 'strings';
  if (v.every((x) => typeof x === 'number' && Number.isFinite(x))) return `numbers:${v.length}`;
  if (v.length > 0 && v.every((x) => Array.isArray(x))) {
    const inner = (v as unknown[]).map(shapeOf);
    if (inner.every((s) => s === inner[0] && s?.startsWith('numbers:'))) return `lists:${Number(inner[0]!.slice(8))}`;
  }
  return null;
}

function parseList(text: string): unknown {
  const t = text.trim();
  if (!t.startsWith('[') || t.length > MAX_LIST_CHARS) return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return undefined;
  }
}

const isListAnswer = (answer: string) => answer.trimStart().startsWith('[');

/** Whether a prediction answers as the reference does (see the file comment for lists). */
export function answerMatches(prediction: string, answer: string): boolean {
  if (!isListAnswer(answer)) return normaliseAnswer(prediction) === normaliseAnswer(answer);
  const want = parseList(answer);
  const got = parseList(prediction);
  return got !== undefined && shapeOf(want) !== null && shapeOf(got) === shapeOf(want) && JSON.stringify(got) === JSON.stringify(want);
}

/** For a list answer: whether the prediction is a well-formed list of the answer's shape (a list of
 *  strings; or as many numbers; or lists of as many numbers), right or wrong. Null when the reference
 *  answer is not a list. */
export function listWellFormed(prediction: string, answer: string): boolean | null {
  if (!isListAnswer(answer)) return null;
  const want = shapeOf(parseList(answer));
  const got = shapeOf(parseList(prediction));
  return want !== null && got === want;
}
